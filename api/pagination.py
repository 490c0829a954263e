"""Cursor pagination: stable pages while calls are being written, and no counting of millions."""

from rest_framework.pagination import CursorPagination


class NewestFirst(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500


class InCallOrder(CursorPagination):
    # The (campaign, contact) key's order, the list's order: the calls were planned in it, and an
    # "id" order walked the primary key past every older campaign's calls for the first page.
    ordering = ("contact_id", "attempt")  # a contact's redials after its first call
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000
