"""/api/v1/: the REST API, its schema and docs; /api/ pages for keys and webhooks live in pages.py."""

from django.contrib.auth.decorators import login_required
from django.urls import Resolver404, include, path, re_path, resolve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated

from api import pages
from api.authentication import AccountKeyAuthentication
from api.problems import problem_response
from api.schema import KeyOrLogin
from api.views import campaigns, donotcall, flows, lists, redials, webhooks
from api.views.base import AccountView, not_found


class Schema(SpectacularAPIView):
    authentication_classes = [AccountKeyAuthentication, SessionAuthentication]
    permission_classes = [KeyOrLogin]


class Docs(SpectacularSwaggerView):
    """Swagger UI from drf-spectacular-sidecar's static files (no CDN), for logged-in managers."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated]


class Unknown(AccountView):
    """Any other path under /api/: a problem+json 404, not the pages' HTML one; a path of the API
    without its closing slash is redirected there (308 keeps the method and the body)."""

    schema = None
    takes_idempotency_key = False

    def refuse_unknown_parameters(self, request):
        pass  # the redirect keeps them for the real path

    def get(self, request, rest=""):
        with_slash = f"{request.path}/"
        try:
            match = resolve(with_slash)
        except Resolver404:
            match = None
        if match is not None and match.url_name != "api_unknown" and not request.path.endswith("/"):
            query = request.META.get("QUERY_STRING", "")
            location = with_slash + (f"?{query}" if query else "")
            return problem_response(
                status_code=308,
                detail=f"The API's paths end with a slash: {with_slash}",
                code="redirect",
                instance=request.path,
                headers={"Location": location},
            )
        raise not_found()

    post = put = patch = delete = get


v1 = [
    path("schema/", Schema.as_view(), name="api_schema"),
    path("docs/", login_required(Docs.as_view(url_name="api_schema")), name="api_docs"),
    path("flows/", flows.FlowList.as_view(), name="api_flow_list"),
    path("flows/<str:flow_id>/", flows.FlowDetail.as_view(), name="api_flow_detail"),
    path("lists/", lists.ListIndex.as_view(), name="api_list_index"),
    path("lists/<int:pk>/", lists.ListDetail.as_view(), name="api_list_detail"),
    path("lists/<int:pk>/rows/", lists.ListRows.as_view(), name="api_list_rows"),
    path("lists/<int:pk>/close/", lists.ListClose.as_view(), name="api_list_close"),
    path("lists/<int:pk>/rejected.csv", lists.ListRejectedReport.as_view(), name="api_list_rejected"),
    path("campaigns/", campaigns.CampaignIndex.as_view(), name="api_campaign_index"),
    path("campaigns/<int:pk>/", campaigns.CampaignDetail.as_view(), name="api_campaign_detail"),
    path("campaigns/<int:pk>/pause/", campaigns.CampaignAction.as_view(action="pause"), name="api_campaign_pause"),
    path("campaigns/<int:pk>/resume/", campaigns.CampaignAction.as_view(action="resume"), name="api_campaign_resume"),
    path("campaigns/<int:pk>/cancel/", campaigns.CampaignAction.as_view(action="cancel"), name="api_campaign_cancel"),
    path("campaigns/<int:pk>/priority/", campaigns.CampaignPriority.as_view(), name="api_campaign_priority"),
    path("campaigns/<int:pk>/calls/", campaigns.CallList.as_view(), name="api_call_list"),
    path("campaigns/<int:pk>/contacts/", campaigns.CampaignContacts.as_view(), name="api_campaign_contacts"),
    path("campaigns/<int:pk>/survey/", redials.CampaignSurvey.as_view(), name="api_campaign_survey"),
    path("campaigns/<int:pk>/results.csv", campaigns.CampaignResults.as_view(), name="api_campaign_results"),
    path("do-not-call/", donotcall.DncSummary.as_view(), name="api_dnc"),
    path("do-not-call/lookup/", donotcall.DncLookup.as_view(), name="api_dnc_lookup"),
    path("do-not-call/add/", donotcall.DncAdd.as_view(), name="api_dnc_add"),
    path("do-not-call/remove/", donotcall.DncRemove.as_view(), name="api_dnc_remove"),
    path("do-not-call/uploads/", donotcall.DncUploads.as_view(), name="api_dnc_uploads"),
    path("do-not-call/uploads/<int:pk>/", donotcall.DncUploadDetail.as_view(), name="api_dnc_upload"),
    path("webhooks/", webhooks.WebhookIndex.as_view(), name="api_webhook_index"),
    path("webhooks/<int:pk>/", webhooks.WebhookDetail.as_view(), name="api_webhook_detail"),
    path("webhooks/<int:pk>/rotate-secret/", webhooks.WebhookRotateSecret.as_view(), name="api_webhook_rotate"),
]

urlpatterns = [
    path("api/v1/", include(v1)),
    path("settings/api-keys/", pages.key_index, name="api_key_index"),
    path("settings/api-keys/<str:prefix>/revoke/", pages.key_revoke, name="api_key_revoke"),
    path("settings/webhooks/", pages.webhook_index, name="webhook_index"),
    path("settings/webhooks/<int:pk>/", pages.webhook_detail, name="webhook_detail"),
    path("settings/webhooks/<int:pk>/delete/", pages.webhook_delete, name="webhook_delete"),
    path(
        "settings/webhooks/deliveries/<int:pk>/send-again/", pages.delivery_send_again_view, name="delivery_send_again"
    ),
    re_path(r"^api/(?P<rest>.*)$", Unknown.as_view(), name="api_unknown"),
]
