"""Cursor pagination: stable pages while calls are being written, and no counting of millions."""

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class _Cursor(CursorPagination):
    page_size_query_param = "limit"

    def get_page_size(self, request):
        # DRF falls back to the default for a limit it cannot read; a client that typed one is told.
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: [f"A limit is a whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
            if parameter["name"] == self.cursor_query_param:
                parameter["description"] = "Opaque: the `next` or `previous` link's; any other value is a 400."
        return parameters

    def decode_cursor(self, request):
        # A cursor we did not write is a malformed parameter (400), not a missing object (DRF's 404).
        try:
            return super().decode_cursor(request)
        except NotFound as error:
            raise ValidationError(
                {self.cursor_query_param: ["This cursor is not one the API gave; follow the `next` link as it is."]}
            ) from error


class NewestFirst(_Cursor):
    ordering = "-id"
    page_size = 50
    max_page_size = 500


class InCallOrder(_Cursor):
    # The (campaign, contact) key's order, the list's order: the calls were planned in it, and an
    # "id" order walked the primary key past every older campaign's calls for the first page.
    ordering = ("contact_id", "attempt")  # a contact's redials after its first call
    page_size = 100
    max_page_size = 1000
