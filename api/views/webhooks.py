"""Webhook endpoints over the API: register, list, read, delete, rotate the secret with an overlap.
The same checks and sentences as the pages and `add_webhook` (api.webhooks.endpoints)."""

import datetime

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import get_object_or_404
from rest_framework.mixins import ListModelMixin
from rest_framework.response import Response

from api.pagination import NewestFirst
from api.problems import unprocessable
from api.views.base import AccountView
from api.webhooks.endpoints import MAX_OVERLAP, webhook_endpoint_create, webhook_endpoint_rotate_secret
from api.webhooks.models import WebhookEndpoint
from events.models import Event

DEFAULT_OVERLAP_HOURS = 24


class WebhookEndpointSerializer(serializers.ModelSerializer):
    previous_secret_expires_at = serializers.SerializerMethodField()

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "description", "active", "created_at", "previous_secret_expires_at"]

    def get_previous_secret_expires_at(self, endpoint) -> datetime.datetime | None:
        """Until when the secret before the last rotation still signs (a second signature), if it does."""
        return endpoint.previous_secret_expires_at if len(endpoint.signing_secrets()) > 1 else None


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(help_text="Signs every delivery; shown this once.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookEndpointCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=500, trim_whitespace=False, help_text="https:// and a public address.")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=Event.Type.values),
        required=False,
        default=list,
        help_text="Event types to send; empty sends every type.",
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class RotateSecretSerializer(serializers.Serializer):
    overlap_hours = serializers.IntegerField(
        min_value=0,
        max_value=int(MAX_OVERLAP.total_seconds() // 3600),
        default=DEFAULT_OVERLAP_HOURS,
        help_text="How long the old secret keeps signing beside the new one; 0 drops it at once.",
    )


class WebhookIndex(ListModelMixin, AccountView):
    serializer_class = WebhookEndpointSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        return WebhookEndpoint.objects.filter(account=self.account)

    def get(self, request):
        return self.list(request)

    @extend_schema(request=WebhookEndpointCreateSerializer, responses={201: WebhookEndpointCreatedSerializer})
    def post(self, request):
        data = WebhookEndpointCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            endpoint, secret = webhook_endpoint_create(account=self.account, **data.validated_data)
        except ValueError as error:
            raise unprocessable(str(error), field="url") from error
        endpoint.secret = secret
        response = Response(WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)
        response["Location"] = f"/api/v1/webhooks/{endpoint.pk}/"
        return response


class WebhookDetail(AccountView):
    serializer_class = WebhookEndpointSerializer

    def endpoint(self, pk):
        return get_object_or_404(WebhookEndpoint.objects.filter(account=self.account), pk=pk)

    def get(self, request, pk):
        return Response(WebhookEndpointSerializer(self.endpoint(pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        """As the pages' Delete: nothing more is sent to it."""
        self.endpoint(pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateSecret(AccountView):
    serializer_class = WebhookEndpointCreatedSerializer

    @extend_schema(request=RotateSecretSerializer, responses={200: WebhookEndpointCreatedSerializer})
    def post(self, request, pk):
        endpoint = get_object_or_404(WebhookEndpoint.objects.filter(account=self.account), pk=pk)
        data = RotateSecretSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        overlap = datetime.timedelta(hours=data.validated_data["overlap_hours"])
        secret = webhook_endpoint_rotate_secret(endpoint=endpoint, overlap=overlap)
        endpoint.secret = secret
        return Response(WebhookEndpointCreatedSerializer(endpoint).data)
