"""Admin for what the provider reported: every report as it came (unmatched and refused ones for a
person to look at), and each call's legs and messages (shown on the call)."""

import json

from django.contrib import admin

from core.readonly_admin import ReadOnlyAdmin
from dialer.models import CallLeg, CallMessage, OutcomeReport
from phonon.causes import cause_words


@admin.register(OutcomeReport)
class OutcomeReportAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "flow", "source", "status", "phonon_uuid", "call", "note_short", "remote_addr")
    list_filter = ("status", "source", "flow")
    search_fields = ("=phonon_uuid",)
    list_select_related = ("flow",)
    raw_id_fields = ("call", "flow")
    show_full_result_count = False
    readonly_fields = (
        "flow",
        "source",
        "status",
        "received_at",
        "applied_at",
        "retry_at",
        "remote_addr",
        "phonon_uuid",
        "call",
        "note",
        "body_shown",
    )
    exclude = ("body",)

    @admin.display(description="what was done")
    def note_short(self, report):
        return (report.note[:80] + "…") if len(report.note) > 80 else report.note

    @admin.display(description="body as received")
    def body_shown(self, report):
        try:
            return json.dumps(json.loads(report.body), indent=2, ensure_ascii=False)
        except ValueError:
            return report.body


class CallLegInline(admin.TabularInline):
    model = CallLeg
    extra = 0
    can_delete = False
    fields = ("cdr_id", "callee_number", "started_at", "connected_at", "ended_at", "duration_ms", "cause", "keys")
    readonly_fields = fields

    @admin.display(description="hangup cause")
    def cause(self, leg):
        return cause_words(leg.hangup_cause) or "–"

    def has_add_permission(self, request, obj=None):
        return False


class CallMessageInline(admin.TabularInline):
    model = CallMessage
    extra = 0
    can_delete = False
    fields = ("kind", "message_id", "recipient", "text", "status", "sent_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False
