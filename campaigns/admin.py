"""Admin for call lists, campaigns, calls and the do-not-call list.

Campaign state changes go through campaigns.lifecycle (the same compare-and-set the pages use),
never through the change form: status fields are read-only here.
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html

from campaigns import lifecycle
from campaigns.dashboard import progress_by_campaign
from campaigns.importing import NumberNormaliser
from campaigns.models import Call, Campaign, ContactList, RejectedRow, SuppressedNumber
from dialer.requeue import RequeueRefused, batches_requeue_failed

REJECTED_ROWS_SHOWN = 100


class FirstRowsFormSet(BaseInlineFormSet):
    """Only the first rows: a list may have rejected hundreds of thousands; the report has them all."""

    def get_queryset(self):
        return super().get_queryset()[:REJECTED_ROWS_SHOWN]


class RejectedRowInline(admin.TabularInline):
    model = RejectedRow
    formset = FirstRowsFormSet
    fields = ("line", "column", "value", "reason")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False
    verbose_name_plural = f"Rejected rows (the first {REJECTED_ROWS_SHOWN}; download the report for all)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ContactList)
class ContactListAdmin(admin.ModelAdmin):
    list_display = (
        "name", "flow", "source", "status", "rows_done", "imported_count", "rejected_count", "created_by", "created_at",
    )
    list_filter = ("status", "source", "flow__account", "created_at")
    search_fields = ("name", "original_filename", "flow__flow_id", "flow__account__name")
    list_select_related = ("flow", "created_by")
    date_hierarchy = "created_at"
    inlines = [RejectedRowInline]
    readonly_fields = (
        "flow", "source", "original_filename", "stored_file", "encoding", "status", "error", "common_start_at",
        "rows_done", "imported_count", "rejected_count", "rows_per_second", "started_at", "finished_at",
        "created_by", "created_at", "page_link",
    )
    fields = ("name", *readonly_fields)

    def has_add_permission(self, request):
        # Lists arrive through an upload, a command, mail or SFTP; each path runs the import.
        return False

    @admin.display(description="rows/s")
    def rows_per_second(self, contact_list):
        rate = contact_list.rows_per_second
        return f"{rate:,.0f}" if rate else "–"

    @admin.display(description="page")
    def page_link(self, contact_list):
        url = reverse("list_detail", args=[contact_list.pk])
        report = reverse("list_rejected_csv", args=[contact_list.pk])
        return format_html(
            '<a href="{}">Open the list\'s page</a> · <a href="{}">rejected-rows report</a>', url, report
        )


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "flow", "status", "progress", "api_version", "batch_size", "start_at", "created_at")
    list_filter = ("status", "api_version", "flow__account", "flow")
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
                action(campaign=campaign)
            except lifecycle.TransitionRefused as refused:
                self.message_user(request, f"{campaign.name}: {refused}", messages.WARNING)
            else:
                changed += 1
        if changed:
            self.message_user(request, f"{changed} campaign(s) {done}.", messages.SUCCESS)

    @admin.action(description="Pause the selected campaigns")
    def pause(self, request, queryset):
        self._each(
            request, queryset,
            lambda campaign: lifecycle.campaign_pause(campaign=campaign, reason="Paused by an admin."), "paused",
        )

    @admin.action(description="Resume the selected campaigns")
    def resume(self, request, queryset):
        self._each(request, queryset, lifecycle.campaign_resume, "resumed")

    @admin.action(description="Cancel the selected campaigns")
    def cancel(self, request, queryset):
        self._each(
            request, queryset,
            lambda campaign: lifecycle.campaign_cancel(campaign=campaign, reason="Cancelled by an admin."), "cancelled",
        )

    @admin.action(description="Re-queue failed batches of the selected campaigns")
    def requeue_failed_batches(self, request, queryset):
        for campaign in queryset:
            try:
                count = batches_requeue_failed(campaign=campaign)
            except RequeueRefused as refused:
                self.message_user(request, f"{campaign.name}: {refused}", messages.WARNING)
                continue
            if count:
                self.message_user(request, f"{campaign.name}: {count} failed batch(es) re-queued.", messages.SUCCESS)
            else:
                self.message_user(request, f"{campaign.name}: no failed batches.", messages.INFO)


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ("client_identifier", "number", "state", "phonon_uuid", "provider_code", "campaign", "updated_at")
    list_filter = ("state", "provider_code")
    search_fields = ("=client_identifier", "=phonon_uuid", "contact__primary_number")
    list_select_related = ("campaign", "contact")
    raw_id_fields = ("campaign", "contact", "batch")
    # Counting millions of calls for "x of N" on every page is too slow to be worth it.
    show_full_result_count = False
    readonly_fields = (
        "campaign", "contact", "batch", "client_identifier", "state", "phonon_uuid", "provider_code",
        "provider_message", "updated_at",
    )

    @admin.display(description="number", ordering="contact__primary_number")
    def number(self, call):
        return call.contact.primary_number

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SuppressedNumberForm(forms.ModelForm):
    class Meta:
        model = SuppressedNumber
        fields = ("account", "number", "reason")

    def clean_number(self):
        # Stored as the import stores numbers (country code and digits), or it would never match.
        normalised = NumberNormaliser(settings.PHONON_DEFAULT_REGION)(self.cleaned_data["number"].strip())
        if normalised is None:
            raise forms.ValidationError("Not a valid phone number; write it with its country code, e.g. 919812345678.")
        return normalised


@admin.register(SuppressedNumber)
class SuppressedNumberAdmin(admin.ModelAdmin):
    form = SuppressedNumberForm
    list_display = ("number", "account", "reason", "added_by", "created_at")
    list_filter = ("account",)
    search_fields = ("number", "reason")
    list_select_related = ("account", "added_by")
    readonly_fields = ("added_by", "created_at")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.added_by = request.user
        super().save_model(request, obj, form, change)
from campaigns import intake_admin  # noqa: E402,F401  (registers the intake channels)
