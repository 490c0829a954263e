"""Admin for call lists, their rejected rows, and the do-not-call lists with their numbers and uploads
(campaigns: dialer/admin.py)."""

import io
import tempfile

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from campaigns.donotcall.forms import AddNumbersForm, FindNumberForm, RemoveNumbersForm, UploadNumbersForm
from campaigns.donotcall.lists import (
    NumbersRefused,
    dnc_entries_add,
    dnc_entries_find,
    dnc_entries_remove,
    dnc_list_delete,
    dnc_list_export_csv,
)
from campaigns.donotcall.loading import dnc_upload_create
from campaigns.importing import FileRefused
from campaigns.models import ContactList, DoNotCallEntry, DoNotCallList, DoNotCallUpload, RejectedRow
from campaigns.tasks import load_dnc_upload_task
from core.readonly_admin import ReadOnlyAdmin
from flows.account_scope import AccountScopedAdmin, only_related

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
class ContactListAdmin(AccountScopedAdmin, admin.ModelAdmin):
    account_path = "flow__account"
    list_display = (
        "name", "flow", "source", "status", "rows_done", "imported_count", "rejected_count", "created_by", "created_at",
    )
    list_filter = ("status", "source", only_related("flow__account"), "created_at")
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


class DoNotCallListForm(forms.ModelForm):
    class Meta:
        model = DoNotCallList
        fields = ("name", "account", "attached_accounts", "description")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("account") and cleaned.get("attached_accounts"):
            raise forms.ValidationError(
                "An account's own list binds that account only; attach accounts to a global list (no account)."
            )
        return cleaned


class DoNotCallUploadInline(admin.TabularInline):
    model = DoNotCallUpload
    fields = (
        "created_at", "action", "original_filename", "status", "imported_count", "rejected_count", "added_count",
        "removed_count", "error", "created_by",
    )
    readonly_fields = fields
    formset = FirstRowsFormSet
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = f"Uploads (the latest {REJECTED_ROWS_SHOWN})"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(DoNotCallList)
class DoNotCallListAdmin(AccountScopedAdmin, admin.ModelAdmin):
    """Lists are edited here; their numbers (millions of them) on the list's own numbers page."""

    shared_when_empty = True  # a global list (no account) binds everyone
    form = DoNotCallListForm
    list_display = ("name", "kind", "attached", "numbers_link", "created_at")
    list_filter = (("account", admin.EmptyFieldListFilter),)
    search_fields = ("name", "account__name", "account__client_id", "attached_accounts__name")
    list_select_related = ("account",)
    filter_horizontal = ("attached_accounts",)
    readonly_fields = ("numbers_link", "created_at")
    fields = ("name", "account", "attached_accounts", "description", "numbers_link", "created_at")
    inlines = [DoNotCallUploadInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("attached_accounts")

    @admin.display(description="kind")
    def kind(self, dnc_list):
        return f"own list of {dnc_list.account}" if dnc_list.account_id else "global"

    @admin.display(description="attached accounts")
    def attached(self, dnc_list):
        return ", ".join(account.name for account in dnc_list.attached_accounts.all()) or "–"

    @admin.display(description="numbers")
    def numbers_link(self, dnc_list):
        if not dnc_list.pk:
            return "–"
        url = reverse("admin:campaigns_donotcalllist_numbers", args=[dnc_list.pk])
        return format_html('<a href="{}">Numbers: add, remove, upload, find, export</a>', url)

    def get_urls(self):
        return [
            path(
                "<int:object_id>/numbers/", self.admin_site.admin_view(self.numbers_view),
                name="campaigns_donotcalllist_numbers",
            ),
            path(
                "<int:object_id>/export.csv", self.admin_site.admin_view(self.export_view),
                name="campaigns_donotcalllist_export",
            ),
            *super().get_urls(),
        ]

    def delete_model(self, request, obj):
        dnc_list_delete(dnc_list=obj)

    def delete_queryset(self, request, queryset):
        for dnc_list in queryset:
            dnc_list_delete(dnc_list=dnc_list)

    def numbers_view(self, request, object_id):
        """Add, remove, upload and find numbers: the same functions as the managers' page."""
        dnc_list = get_object_or_404(self.get_queryset(request), pk=object_id)
        allowed = self.has_change_permission if request.method == "POST" else self.has_view_permission
        if not allowed(request, dnc_list):
            raise PermissionDenied
        action = request.POST.get("do") if request.method == "POST" else None
        forms_ = {
            "add": AddNumbersForm(request.POST if action == "add" else None, prefix="add"),
            "remove": RemoveNumbersForm(request.POST if action == "remove" else None, prefix="remove"),
            "upload": UploadNumbersForm(
                request.POST if action == "upload" else None, request.FILES if action == "upload" else None,
                prefix="upload",
            ),
        }
        find = FindNumberForm(request.GET or None)
        form = forms_.get(action)
        if form is not None and form.is_valid():
            message = self._apply(request, dnc_list, action, form.cleaned_data)
            if message:
                messages.success(request, message)
                return redirect("admin:campaigns_donotcalllist_numbers", object_id=dnc_list.pk)
        found = None
        if find.is_valid() and find.cleaned_data["number"]:
            found = dnc_entries_find(lists=[dnc_list], number=find.cleaned_data["number"])
        uploads = list(dnc_list.uploads.select_related("created_by")[:20])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta, "title": f"Numbers of {dnc_list}", "dnc_list": dnc_list,
            "entry_count": DoNotCallEntry.objects.filter(dnc_list=dnc_list).count(),
            "forms": forms_, "find": find, "found": found, "uploads": uploads,
            "refresh": any(not upload.is_final for upload in uploads),
        }
        return TemplateResponse(request, "admin/campaigns/donotcalllist/numbers.html", context)

    def _apply(self, request, dnc_list, action, data) -> str | None:
        try:
            if action == "add":
                added = dnc_entries_add(
                    dnc_list=dnc_list, numbers=data["numbers"], reason=data["reason"],
                    expires_on=data["expires_on"], added_by=request.user,
                )
                return f"{added:,} number(s) added to {dnc_list}."
            if action == "remove":
                removed = dnc_entries_remove(dnc_list=dnc_list, numbers=data["numbers"])
                return f"{removed:,} number(s) removed from {dnc_list}."
            upload = dnc_upload_create(
                dnc_list=dnc_list, fileobj=data["file"], filename=data["file"].name, action=data["action"],
                reason=data["reason"], expires_on=data["expires_on"], created_by=request.user,
            )
        except (NumbersRefused, FileRefused) as refusal:
            messages.error(request, str(refusal))
            return None
        transaction.on_commit(lambda: load_dnc_upload_task.delay(upload.pk))
        return f"“{upload.original_filename}” uploaded; a worker is loading it (progress below)."

    def export_view(self, request, object_id):
        dnc_list = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_view_permission(request, dnc_list):
            raise PermissionDenied
        # Written to a spooled file first (memory up to 4 MB, disk beyond), then sent in chunks.
        spooled = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024, mode="w+b")
        out = io.TextIOWrapper(spooled, encoding="utf-8", newline="")
        dnc_list_export_csv(dnc_list, out)
        out.flush()
        out.detach()
        spooled.seek(0)
        return FileResponse(
            spooled, as_attachment=True, filename=f"do-not-call-{dnc_list.pk}.csv", content_type="text/csv"
        )


@admin.register(DoNotCallUpload)
class DoNotCallUploadAdmin(AccountScopedAdmin, ReadOnlyAdmin):
    account_path = "dnc_list__account"
    shared_when_empty = True
    list_display = (
        "created_at", "dnc_list", "action", "original_filename", "status", "imported_count", "rejected_count",
        "added_count", "removed_count", "created_by",
    )
    list_filter = ("status", "action", only_related("dnc_list"))
    list_select_related = ("dnc_list", "created_by")
