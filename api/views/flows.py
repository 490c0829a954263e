"""Flows of the key's account: list and read (never their secrets)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import get_object_or_404
from rest_framework.mixins import ListModelMixin
from rest_framework.response import Response

from api.pagination import NewestFirst
from api.serializers import FLOW_ID_REGEX, FlowSerializer
from api.views.base import AccountView


class FlowList(ListModelMixin, AccountView):
    serializer_class = FlowSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        return self.flows()

    def get(self, request):
        return self.list(request)


class FlowDetail(AccountView):
    serializer_class = FlowSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "flow_id", str, OpenApiParameter.PATH, pattern=FLOW_ID_REGEX, description="8 letters or digits."
            )
        ]
    )
    def get(self, request, flow_id):
        return Response(FlowSerializer(get_object_or_404(self.flows(), flow_id=flow_id)).data)
