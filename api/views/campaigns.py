"""Campaigns: launch from a list, pause, resume, cancel, change priority, read; their calls and the results CSV."""


from django.db import transaction
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import get_object_or_404
from rest_framework.mixins import ListModelMixin
from rest_framework.response import Response

from api.campaign_rows import campaign_contacts_add
from api.pagination import InCallOrder, NewestFirst
from api.problems import conflict, unprocessable
from api.serializers import (
    CallFilterSerializer,
    CallSerializer,
    CampaignContactsAnswerSerializer,
    CampaignContactsSerializer,
    CampaignCreateSerializer,
    CampaignPauseSerializer,
    CampaignPrioritySerializer,
    CampaignSerializer,
    list_status,
)
from api.views.base import AccountView, CsvDownload
from campaigns.models import Campaign
from dialer import campaign_actions
from dialer.campaign_actions import ActionRefused
from dialer.models import Call
from dialer.redials.survey import calls_pressed
from dialer.results import results_csv_chunks, results_filename


def _answer(campaign, code=status.HTTP_200_OK):
    campaign = Campaign.objects.select_related("flow").get(pk=campaign.pk)
    response = Response(CampaignSerializer(campaign).data, status=code)
    if code == status.HTTP_201_CREATED:
        response["Location"] = f"/api/v1/campaigns/{campaign.pk}/"
    return response


class CampaignIndex(ListModelMixin, AccountView):
    serializer_class = CampaignSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        return self.campaigns()

    def get(self, request):
        return self.list(request)

    @extend_schema(request=CampaignCreateSerializer, responses={201: CampaignSerializer})
    def post(self, request):
        """Launch: create the campaign from an imported list and schedule it, as the launch page does."""
        data = CampaignCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        options = data.validated_data
        contact_list = self.contact_lists().filter(pk=options["list"]).first()
        if contact_list is None:
            raise unprocessable(f"There is no list {options['list']} in this account.", field="list")
        if list_status(contact_list) == "open":
            raise unprocessable(
                f"The list “{contact_list.name}” is still open: close it (POST /api/v1/lists/{contact_list.pk}/close/) "
                "and launch it once its status is imported.",
                field="list",
            )
        try:
            with transaction.atomic():
                campaign = campaign_actions.campaign_launch(
                    contact_list=contact_list, name=options["name"], start_at=options["start_at"],
                    window=options["window"], window_days=options["window_days"], timezone_name=options["timezone"],
                    batch_size=options["batch_size"], api_version=options["api_version"],
                    skip_called_days=None if options["include_called"] else options["skip_called_days"],
                    priority=options["priority"], actor=_actor(request), key_labels=options["key_labels"],
                    redials=options["redial"]["rules"] if "redial" in options else None,
                )
        except ActionRefused as refused:
            raise _problem(refused) from refused
        return _answer(campaign, status.HTTP_201_CREATED)


def _problem(refused: ActionRefused):
    """A refusal by the campaign's state is a conflict (409); one of the values sent, a 422."""
    return conflict(str(refused)) if refused.conflict else unprocessable(str(refused))


def _actor(request) -> str:
    """Who acts, for the campaign's audit trail: the API key by its name."""
    return f"API key “{request.auth.name}”" if request.auth is not None else "the API"


class CampaignDetail(AccountView):
    serializer_class = CampaignSerializer

    def get(self, request, pk):
        return _answer(get_object_or_404(self.campaigns(), pk=pk))


class CampaignAction(AccountView):
    """pause, resume, cancel: the campaign's actions; a refused one is a 409 in words."""

    serializer_class = CampaignSerializer
    action = ""

    def act(self, campaign, reason: str):
        actor = _actor(self.request)
        if self.action == "pause":
            campaign_actions.campaign_pause(campaign=campaign, actor=actor, reason=reason or "Paused through the API.")
        elif self.action == "resume":
            campaign_actions.campaign_resume(campaign=campaign, actor=actor)
        else:
            campaign_actions.campaign_cancel(campaign=campaign, actor=actor,
                                             reason=reason or "Cancelled through the API.")

    @extend_schema(request=CampaignPauseSerializer, responses={200: CampaignSerializer})
    def post(self, request, pk):
        campaign = get_object_or_404(self.campaigns(), pk=pk)
        data = CampaignPauseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            self.act(campaign, data.validated_data["reason"])
        except ActionRefused as refused:
            raise _problem(refused) from refused
        return _answer(campaign)


class CampaignPriority(AccountView):
    """Change a campaign's priority, also while it runs: the limiter weighs its next request by it."""

    serializer_class = CampaignSerializer

    @extend_schema(request=CampaignPrioritySerializer, responses={200: CampaignSerializer})
    def post(self, request, pk):
        campaign = get_object_or_404(self.campaigns(), pk=pk)
        data = CampaignPrioritySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            campaign_actions.campaign_set_priority(campaign=campaign, priority=data.validated_data["priority"],
                                                   actor=_actor(request))
        except ActionRefused as refused:
            raise _problem(refused) from refused
        return _answer(campaign)


class CallList(ListModelMixin, AccountView):
    serializer_class = CallSerializer
    pagination_class = InCallOrder
    filter_serializer = CallFilterSerializer

    def get_queryset(self):
        campaign = get_object_or_404(self.campaigns(), pk=self.kwargs["pk"])
        # A plain dict: from a QueryDict DRF reads an empty value as absent (`?state=` would list every call).
        query = CallFilterSerializer(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        calls = Call.objects.filter(campaign=campaign).select_related("contact", "batch")
        if "state" in query.validated_data:
            calls = calls.filter(state=query.validated_data["state"])
        if "outcome" in query.validated_data:
            calls = calls.filter(outcome=query.validated_data["outcome"])
        if "number" in query.validated_data:
            calls = calls.filter(contact__primary_number__endswith=query.validated_data["number"])
        if "external_id" in query.validated_data:
            calls = calls.filter(contact__external_id=query.validated_data["external_id"])
        if "updated_after" in query.validated_data:
            calls = calls.filter(updated_at__gte=query.validated_data["updated_after"])
        if "updated_before" in query.validated_data:
            calls = calls.filter(updated_at__lt=query.validated_data["updated_before"])
        if "pressed" in query.validated_data:  # dialer.redials.survey
            calls = calls_pressed(calls, key=query.validated_data["pressed"],
                                  question=query.validated_data.get("question"))
        return calls

    @extend_schema(parameters=[CallFilterSerializer])
    def get(self, request, pk):
        return self.list(request)


class CampaignResults(CsvDownload):
    @extend_schema(responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="The results "
                                                                "export: one row per call, as export_results.")})
    def get(self, request, pk):
        campaign = get_object_or_404(self.campaigns(), pk=pk)
        response = StreamingHttpResponse(results_csv_chunks(campaign), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{results_filename(campaign)}"'
        return response


class CampaignContacts(AccountView):
    """Add contacts to a scheduled, running or paused campaign; each row's answer in order."""

    serializer_class = CampaignContactsAnswerSerializer

    @extend_schema(request=CampaignContactsSerializer, responses={200: CampaignContactsAnswerSerializer})
    def post(self, request, pk):
        campaign = get_object_or_404(self.campaigns().select_related("contact_list"), pk=pk)
        data = CampaignContactsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            answers = campaign_contacts_add(campaign=campaign, rows=data.validated_data["rows"])
        except ActionRefused as refused:
            raise conflict(str(refused)) from refused
        except ValueError as error:
            raise unprocessable(str(error), field="rows") from error
        accepted = sum(answer.accepted for answer in answers)
        return Response(
            CampaignContactsAnswerSerializer(
                {"accepted": accepted, "rejected": len(answers) - accepted, "rows": answers}
            ).data
        )
