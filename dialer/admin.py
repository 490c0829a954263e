"""Admin for campaigns (actions through the same functions as the pages), batches, attempts and calls.

Campaign state changes go through dialer.campaign_actions (the same services and compare-and-set
the pages use), never through the change form: status fields are read-only here.
"""

import json

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from campaigns.models import Campaign
from core.encrypted_fields import mask_secret
from core.readonly_admin import ReadOnlyAdmin
from dialer import campaign_actions, planning
from dialer.campaign_actions import ActionRefused
from dialer.models import Batch, BatchAttempt, Call
from dialer.outcomes.admin import CallLegInline, CallMessageInline
from dialer.progress import progress_by_campaign
from flows.account_scope import AccountScopedAdmin, only_related
from phonon.codes import describe

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
class BatchAdmin(AccountScopedAdmin, ReadOnlyAdmin):
    account_path = "campaign__flow__account"
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
        "campaign", "sequence", "parent", "depth", "status", "endpoint", "call_count", "attempts", "maybe_delivered",
        "request_id", "response_code", "answer", "next_attempt_at", "queued_at", "claim_token", "lease_until",
        "frozen_at", "body_sha256", "request_body", "completed_at", "created_at", "updated_at",
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
class BatchAttemptAdmin(AccountScopedAdmin, ReadOnlyAdmin):
    account_path = "batch__campaign__flow__account"
    list_display = ("batch", "number", "outcome", "http_status", "response_code", "duration_ms", "created_at")
    list_filter = ("outcome", "response_code")
    search_fields = ("=batch__request_id", "batch__campaign__name")
    list_select_related = ("batch",)
    show_full_result_count = False


@admin.register(Campaign)
class CampaignAdmin(AccountScopedAdmin, admin.ModelAdmin):
    account_path = "flow__account"
    list_display = ("name", "flow", "status", "progress", "api_version", "batch_size", "start_at", "created_at")
    list_filter = ("status", "api_version", only_related("flow__account"), only_related("flow"))
    search_fields = ("name", "token", "flow__flow_id", "contact_list__name")
    list_select_related = ("flow",)
    date_hierarchy = "created_at"
    actions = ["pause", "resume", "cancel", "requeue_failed_batches"]
    readonly_fields = (
        "contact_list", "flow", "status", "status_reason", "api_version", "batch_size", "token", "start_at", "timezone",
        "window_start", "window_end", "window_days", "planned_at", "started_at", "finished_at", "created_by",
        "created_at", "updated_at", "page_link",
    )
    fields = ("name", *readonly_fields)

    def has_add_permission(self, request):
        # A campaign is launched from an imported list (the pages or `launch_campaign`).
        return False

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        # One grouped query for the page's progress column instead of one per row. Iterating the
        # page's queryset fills its cache, so the objects annotated here are the ones displayed
        # (kept on the objects, not on this ModelAdmin, which every request shares).
        campaigns = list(changelist.result_list)
        progress = progress_by_campaign([campaign.pk for campaign in campaigns])
        for campaign in campaigns:
            campaign.call_progress = progress[campaign.pk]
        return changelist

    @admin.display(description="calls final")
    def progress(self, campaign):
        progress = getattr(campaign, "call_progress", None)
        if progress is None or not progress.total:
            return "–"
        return f"{progress.final:,} / {progress.total:,} ({progress.percent}%)"

    @admin.display(description="page")
    def page_link(self, campaign):
        url = reverse("campaign_detail", args=[campaign.pk])
        return format_html('<a href="{}">Open the campaign\'s live page</a>', url)

    def _each(self, request, queryset, action, done):
        changed = 0
        for campaign in queryset:
            try:
                action(campaign=campaign, actor=request.user)
            except ActionRefused as refused:
                self.message_user(request, f"{campaign.name}: {refused}", messages.WARNING)
            else:
                changed += 1
        if changed:
            self.message_user(request, f"{changed} campaign(s) {done}.", messages.SUCCESS)

    def has_requeue_permission(self, request):
        return request.user.has_perm("campaigns.requeue_batches")

    @admin.action(description="Pause the selected campaigns", permissions=["change"])
    def pause(self, request, queryset):
        self._each(
            request, queryset,
            lambda campaign, actor: campaign_actions.campaign_pause(campaign=campaign, actor=actor,
                                                                   reason="Paused by an admin."),
            "paused",
        )

    @admin.action(description="Resume the selected campaigns", permissions=["change"])
    def resume(self, request, queryset):
        self._each(request, queryset, campaign_actions.campaign_resume, "resumed")

    @admin.action(description="Cancel the selected campaigns", permissions=["change"])
    def cancel(self, request, queryset):
        self._each(
            request, queryset,
            lambda campaign, actor: campaign_actions.campaign_cancel(campaign=campaign, actor=actor,
                                                                    reason="Cancelled by an admin."),
            "cancelled",
        )

    @admin.action(description="Re-queue failed batches of the selected campaigns", permissions=["requeue"])
    def requeue_failed_batches(self, request, queryset):
        for campaign in queryset:
            try:
                count = campaign_actions.campaign_requeue_failed(campaign=campaign)
            except ActionRefused as refused:
                self.message_user(request, f"{campaign.name}: {refused}", messages.WARNING)
                continue
            if count:
                self.message_user(request, f"{campaign.name}: {count} failed batch(es) re-queued.", messages.SUCCESS)
            else:
                self.message_user(request, f"{campaign.name}: no failed batches.", messages.INFO)


@admin.register(Call)
class CallAdmin(AccountScopedAdmin, ReadOnlyAdmin):
    account_path = "campaign__flow__account"
    list_display = (
        "client_identifier", "number", "state", "outcome", "phonon_uuid", "provider_code", "campaign", "updated_at",
    )
    list_filter = ("state", "outcome", "provider_code")
    inlines = [CallLegInline, CallMessageInline]
    search_fields = ("=client_identifier", "=phonon_uuid", "contact__primary_number")
    list_select_related = ("campaign", "contact")
    raw_id_fields = ("campaign", "contact", "batch")
    # Counting millions of calls for "x of N" on every page is too slow to be worth it.
    show_full_result_count = False
    readonly_fields = (
        "campaign", "contact", "batch", "client_identifier", "state", "phonon_uuid", "provider_code",
        "provider_message", "updated_at", "outcome", "outcome_note", "hangup_words", "answered_number", "talk_ms",
        "keys", "connected_at", "outcome_at", "pulled_at", "pull_attempts",
    )

    @admin.display(description="number", ordering="contact__primary_number")
    def number(self, call):
        return call.contact.primary_number

    def get_search_results(self, request, queryset, search_term):
        # A client-identifier has no index of its own: look it up by the key it is made of.
        key = planning.identifier_key(search_term)
        if key is not None:
            token, contact_id = key
            return queryset.filter(campaign__token=token, contact_id=contact_id), False
        return super().get_search_results(request, queryset, search_term)
