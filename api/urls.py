"""/api/v1/: the REST API, its schema and docs; /api/ pages for keys and webhooks live in pages.py."""

from django.contrib.auth.decorators import login_required
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated

from api import pages
from api.authentication import AccountKeyAuthentication
from api.schema import KeyOrLogin
from api.views import campaigns, flows, lists, redials
from api.views.base import AccountView, not_found


class Schema(SpectacularAPIView):
    authentication_classes = [AccountKeyAuthentication, SessionAuthentication]
    permission_classes = [KeyOrLogin]


class Docs(SpectacularSwaggerView):
    """Swagger UI from drf-spectacular-sidecar's static files (no CDN), for logged-in managers."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated]


class Unknown(AccountView):
    """Any other path under /api/: a problem+json 404, not the pages' HTML one."""

    schema = None

    def get(self, request, rest=""):
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
    path("campaigns/<int:pk>/survey/", redials.CampaignSurvey.as_view(), name="api_campaign_survey"),
    path("campaigns/<int:pk>/results.csv", campaigns.CampaignResults.as_view(), name="api_campaign_results"),
]

urlpatterns = [
    path("api/v1/", include(v1)),
    path("settings/api-keys/", pages.key_index, name="api_key_index"),
    path("settings/api-keys/<str:prefix>/revoke/", pages.key_revoke, name="api_key_revoke"),
    path("settings/webhooks/", pages.webhook_index, name="webhook_index"),
    path("settings/webhooks/<int:pk>/", pages.webhook_detail, name="webhook_detail"),
    path("settings/webhooks/<int:pk>/delete/", pages.webhook_delete, name="webhook_delete"),
    path("settings/webhooks/deliveries/<int:pk>/send-again/", pages.delivery_send_again_view,
         name="delivery_send_again"),
    re_path(r"^api/(?P<rest>.*)$", Unknown.as_view(), name="api_unknown"),
]
