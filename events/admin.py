"""Events in admin: read only, for looking at what was recorded and whether it went out."""

from django.contrib import admin

from events.models import Event
from flows.account_scope import AccountScopedAdmin


@admin.register(Event)
class EventAdmin(AccountScopedAdmin, admin.ModelAdmin):
    list_display = ("occurred_at", "type", "account", "event_id", "fanned_out_at")
    list_filter = ("type",)
    search_fields = ("event_id", "account__client_id")
    readonly_fields = ("account", "event_id", "type", "occurred_at", "payload", "fanned_out_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
