"""Admin for call lists, their rejected rows and the do-not-call list (campaigns: dialer/admin.py)."""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html

from campaigns.importing import NumberNormaliser
from campaigns.models import ContactList, RejectedRow, SuppressedNumber

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
