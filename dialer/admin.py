"""Admin for batches and their attempts: read-only, for seeing what was sent and why it ended so."""

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from dialer.codes import describe
from dialer.models import Batch, BatchAttempt
from flows.encrypted_fields import mask_secret

BODY_SHOWN_BYTES = 200_000


def body_for_display(body: bytes | None) -> str:
    """The frozen request body, indented, with the security-id masked. An encrypted flow's body is
    the envelope (ciphertext and wrapped key), shown as it is: it holds nothing readable."""
    if body is None:
        return "(not frozen yet: built on the first send)"
    raw = bytes(body)
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return f"({len(raw):,} bytes that are not JSON)"
    if isinstance(data, dict) and "security-id" in data:
        data["security-id"] = mask_secret(str(data["security-id"]))
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if len(text) > BODY_SHOWN_BYTES:
        return text[:BODY_SHOWN_BYTES] + f"\n… ({len(text) - BODY_SHOWN_BYTES:,} more characters)"
    return text


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class BatchAttemptInline(admin.TabularInline):
    model = BatchAttempt
    fields = ("number", "outcome", "http_status", "response_code", "answer", "duration_ms", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="provider's answer")
    def answer(self, attempt):
        if attempt.response_code is None:
            return attempt.response_message or "–"
        return describe(attempt.response_code, attempt.response_message)


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdmin):
    list_display = (
        "__str__", "campaign_link", "sequence", "status", "endpoint", "call_count", "attempts", "request_id",
        "response_code", "updated_at",
    )
    list_filter = ("status", "endpoint", "response_code")
    search_fields = ("=request_id", "campaign__name", "=campaign__token")
    list_select_related = ("campaign",)
    show_full_result_count = False
    inlines = [BatchAttemptInline]
    exclude = ("body",)
    readonly_fields = (
        "campaign", "sequence", "status", "endpoint", "call_count", "attempts", "maybe_delivered", "request_id",
        "response_code", "answer", "next_attempt_at", "queued_at", "claim_token", "lease_until", "frozen_at",
        "body_sha256", "request_body", "completed_at", "created_at", "updated_at",
    )

    @admin.display(description="campaign", ordering="campaign__name")
    def campaign_link(self, batch):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:campaigns_campaign_change", args=[batch.campaign_id]), batch.campaign
        )

    @admin.display(description="provider's answer")
    def answer(self, batch):
        if batch.response_code is None:
            return batch.response_message or "–"
        return describe(batch.response_code, batch.response_message)

    @admin.display(description="request body (security-id masked)")
    def request_body(self, batch):
        return format_html('<pre style="white-space: pre-wrap; max-height: 40em; overflow: auto">{}</pre>',
                           body_for_display(batch.body))


@admin.register(BatchAttempt)
class BatchAttemptAdmin(ReadOnlyAdmin):
    list_display = ("batch", "number", "outcome", "http_status", "response_code", "duration_ms", "created_at")
    list_filter = ("outcome", "response_code")
    search_fields = ("=batch__request_id", "batch__campaign__name")
    list_select_related = ("batch",)
    show_full_result_count = False
