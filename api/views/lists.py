"""Call lists: create from a CSV/ZIP upload or from JSON rows, append rows, close, read, report."""

import io

from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import get_object_or_404
from rest_framework.mixins import ListModelMixin
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from api import rows
from api.pagination import NewestFirst
from api.parsers import BoundedJSONParser
from api.problems import conflict, unprocessable
from api.serializers import (
    ContactListSerializer,
    ListRowsAppendSerializer,
    ListRowsCreateSerializer,
    ListUploadSerializer,
)
from api.views.base import AccountView, CsvDownload
from campaigns.importing import FileRefused, contact_list_create
from campaigns.models import ContactList
from campaigns.reports import rejected_rows_csv
from campaigns.tasks import contact_list_import_soon


def _answer(contact_list, code=status.HTTP_200_OK):
    contact_list = ContactList.objects.select_related("flow", "open_list").get(pk=contact_list.pk)
    response = Response(ContactListSerializer(contact_list).data, status=code)
    if code == status.HTTP_201_CREATED:
        response["Location"] = f"/api/v1/lists/{contact_list.pk}/"
    return response


class ListIndex(ListModelMixin, AccountView):
    serializer_class = ContactListSerializer
    pagination_class = NewestFirst
    parser_classes = [BoundedJSONParser, MultiPartParser]

    def get_queryset(self):
        return self.contact_lists()

    def get(self, request):
        return self.list(request)

    @extend_schema(
        request={"multipart/form-data": ListUploadSerializer, "application/json": ListRowsCreateSerializer},
        responses={201: ContactListSerializer},
        description="Upload a CSV/ZIP (multipart; the import starts at once), or open a list with JSON rows "
        "(append more with /rows/, then close it; with close=true it is closed at once).",
    )
    def post(self, request):
        if request.content_type.startswith("multipart/"):
            return self._upload(request)
        return self._rows(request)

    def _upload(self, request):
        data = ListUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        flow = self.flow_by_id(data.validated_data["flow"])
        upload = data.validated_data["file"]
        try:
            # As the upload page: a refused upload is kept (refused, with its sentence).
            contact_list = contact_list_create(
                flow=flow,
                fileobj=upload,
                filename=upload.name,
                source=ContactList.Source.API,
                name=data.validated_data["name"],
                encoding=data.validated_data["encoding"],
            )
        except FileRefused as refusal:
            raise unprocessable(refusal.message, field="file") from refusal
        contact_list_import_soon(contact_list.pk)
        return _answer(contact_list, status.HTTP_201_CREATED)

    def _rows(self, request):
        data = ListRowsCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        flow = self.flow_by_id(data.validated_data["flow"])
        try:
            with transaction.atomic():
                contact_list = rows.open_list_create(flow=flow, name=data.validated_data["name"])
                if data.validated_data["rows"]:
                    rows.open_list_append(contact_list=contact_list, rows=data.validated_data["rows"])
                if data.validated_data["close"]:
                    rows.open_list_close(contact_list=contact_list)
        except ValueError as error:
            raise unprocessable(str(error), field="rows") from error
        return _answer(contact_list, status.HTTP_201_CREATED)


class ListDetail(AccountView):
    serializer_class = ContactListSerializer

    def get(self, request, pk):
        return _answer(get_object_or_404(self.contact_lists(), pk=pk))


class ListRows(AccountView):
    serializer_class = ContactListSerializer

    @extend_schema(request=ListRowsAppendSerializer, responses={200: ContactListSerializer})
    def post(self, request, pk):
        contact_list = get_object_or_404(self.contact_lists(), pk=pk)
        data = ListRowsAppendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not hasattr(contact_list, "open_list"):
            raise conflict(f"The list “{contact_list.name}” was uploaded as a file; rows cannot be added to it.")
        try:
            with transaction.atomic():
                rows.open_list_append(contact_list=contact_list, rows=data.validated_data["rows"])
                if data.validated_data["close"]:
                    rows.open_list_close(contact_list=contact_list)
        except rows.ListClosed as closed:
            raise conflict(str(closed)) from closed
        except ValueError as error:
            raise unprocessable(str(error), field="rows") from error
        return _answer(contact_list)


class ListClose(AccountView):
    serializer_class = ContactListSerializer

    @extend_schema(request=None, responses={200: ContactListSerializer})
    def post(self, request, pk):
        contact_list = get_object_or_404(self.contact_lists(), pk=pk)
        if not hasattr(contact_list, "open_list"):
            raise conflict(f"The list “{contact_list.name}” was uploaded as a file; it has nothing to close.")
        try:
            rows.open_list_close(contact_list=contact_list)
        except ValueError as error:
            raise unprocessable(str(error)) from error
        return _answer(contact_list)


class ListRejectedReport(CsvDownload):
    @extend_schema(
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="line,column,value,reason")}
    )
    def get(self, request, pk):
        contact_list = get_object_or_404(self.contact_lists(), pk=pk)
        out = io.StringIO()
        rejected_rows_csv(contact_list, out)
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="rejected_rows_list{contact_list.pk}.csv"'
        return response
