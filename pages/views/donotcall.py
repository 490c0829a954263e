"""The do-not-call page: an account's own list (add, remove, upload, find, export) and the global
lists that bind it. Anyone who sees the account reads it; changing it needs campaigns.manage_dnc."""

import io
import tempfile

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from campaigns import access
from campaigns.donotcall.forms import AddNumbersForm, FindNumberForm, RemoveNumbersForm, UploadNumbersForm
from campaigns.donotcall.lists import (
    NumbersRefused,
    dnc_entries_add_valid,
    dnc_entries_find,
    dnc_entries_remove,
    dnc_list_export_csv,
    dnc_lists_binding,
    dnc_own_list,
)
from campaigns.donotcall.loading import dnc_upload_create
from campaigns.importing import FileRefused
from campaigns.models import DoNotCallEntry, DoNotCallList, DoNotCallUpload
from campaigns.tasks import load_dnc_upload_task
from pages.views import page

PERMISSION = "campaigns.manage_dnc"
UPLOADS_SHOWN = 10


def _account(request, account_pk):
    return get_object_or_404(access.accounts_for(request.user), pk=account_pk)


def _uploads_context(account):
    uploads = list(
        DoNotCallUpload.objects.filter(dnc_list__account=account).select_related("created_by")[:UPLOADS_SHOWN]
    )
    return {"account": account, "uploads": uploads, "polling": any(not upload.is_final for upload in uploads)}


def _render(request, account, status=200, **forms):
    own = DoNotCallList.objects.filter(account=account).first()  # made when its first number is added
    find = FindNumberForm(request.GET or None)
    lists = list(dnc_lists_binding(account_id=account.pk).order_by("account", "name"))
    found = None
    if find.is_valid() and find.cleaned_data["number"]:
        found = dnc_entries_find(lists=lists, number=find.cleaned_data["number"])
    context = {
        "account": account, "accounts": access.accounts_for(request.user), "own": own,
        "own_count": DoNotCallEntry.objects.filter(dnc_list=own).count() if own else 0,
        "global_lists": [dnc_list for dnc_list in lists if dnc_list.is_global],
        "can_change": request.user.has_perm(PERMISSION), "find": find, "found": found,
        "add_form": forms.get("add_form") or AddNumbersForm(prefix="add"),
        "remove_form": forms.get("remove_form") or RemoveNumbersForm(prefix="remove"),
        "upload_form": forms.get("upload_form") or UploadNumbersForm(prefix="upload"),
        **_uploads_context(account),
    }
    return render(request, "pages/dnc.html", context, status=status)


@page
def dnc_index(request):
    accounts = access.accounts_for(request.user).order_by("name")
    chosen = request.GET.get("account", "")
    account = (accounts.filter(pk=chosen).first() if chosen.isdigit() else None) or accounts.first()
    if account is None:
        return render(request, "pages/dnc.html", {"account": None})
    return redirect("dnc_account", account_pk=account.pk)


@page
def dnc_account(request, account_pk):
    return _render(request, _account(request, account_pk))


def _changing(request, account_pk):
    account = _account(request, account_pk)
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied("Changing the do-not-call list needs the manage_dnc permission; ask an admin.")
    return account


@page
@require_POST
def dnc_add(request, account_pk):
    account = _changing(request, account_pk)
    form = AddNumbersForm(request.POST, prefix="add")
    if form.is_valid():
        result = dnc_entries_add_valid(
            dnc_list=dnc_own_list(account=account), numbers=form.cleaned_data["numbers"],
            reason=form.cleaned_data["reason"], expires_on=form.cleaned_data["expires_on"], added_by=request.user,
        )
        if result.added or result.listed:
            messages.success(
                request, f"{result.added:,} number{'s' if result.added != 1 else ''} added"
                + (f"; {result.listed:,} were listed already." if result.listed else ".")
                + " Calls to them are skipped from now on, also in campaigns already running.",
            )
        if not result.invalid:
            return redirect("dnc_account", account_pk=account.pk)
        # The ones that were not numbers stay in the box, to be corrected and added.
        form = AddNumbersForm({**request.POST.dict(), "add-numbers": "\n".join(result.invalid)}, prefix="add")
        form.is_valid()
        count = len(result.invalid)
        form.add_error("numbers", f"{count:,} line{'s' if count != 1 else ''} {'are' if count != 1 else 'is'} not "
                       "a phone number and {} not added (left below): write each with its country code, e.g. "
                       "919812345678.".format("were" if count != 1 else "was"))
        return _render(request, account, status=200 if result.added or result.listed else 400, add_form=form)
    return _render(request, account, status=400, add_form=form)


@page
@require_POST
def dnc_remove(request, account_pk):
    account = _changing(request, account_pk)
    form = RemoveNumbersForm(request.POST, prefix="remove")
    if form.is_valid():
        try:
            removed = dnc_entries_remove(dnc_list=dnc_own_list(account=account), numbers=form.cleaned_data["numbers"])
        except NumbersRefused as refused:
            form.add_error("numbers", str(refused))
        else:
            messages.success(request, f"{removed:,} number{'s' if removed != 1 else ''} removed from the list.")
            return redirect("dnc_account", account_pk=account.pk)
    return _render(request, account, status=400, remove_form=form)


@page
@require_POST
def dnc_upload(request, account_pk):
    account = _changing(request, account_pk)
    form = UploadNumbersForm(request.POST, request.FILES, prefix="upload")
    if form.is_valid():
        data = form.cleaned_data
        try:
            upload = dnc_upload_create(
                dnc_list=dnc_own_list(account=account), fileobj=data["file"], filename=data["file"].name,
                action=data["action"], reason=data["reason"], expires_on=data["expires_on"], created_by=request.user,
            )
        except FileRefused as refusal:
            form.add_error("file", refusal.message)
        else:
            transaction.on_commit(lambda: load_dnc_upload_task.delay(upload.pk))
            messages.success(request, f"“{upload.original_filename}” uploaded; its numbers are being loaded.")
            return redirect("dnc_account", account_pk=account.pk)
    return _render(request, account, status=400, upload_form=form)


@page
def dnc_uploads(request, account_pk):
    """The uploads table alone, polled while one is loading."""
    return render(request, "pages/_dnc_uploads.html", _uploads_context(_account(request, account_pk)))


@page
def dnc_export(request, account_pk):
    """The own list as CSV, written to a spooled file (memory up to 4 MB, disk beyond) while the
    request holds the database connection, then sent in chunks."""
    account = _account(request, account_pk)
    spooled = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024, mode="w+b")
    out = io.TextIOWrapper(spooled, encoding="utf-8", newline="")
    dnc_list_export_csv(dnc_own_list(account=account), out)
    out.flush()
    out.detach()
    spooled.seek(0)
    return FileResponse(
        spooled, as_attachment=True, filename=f"do-not-call-{account.client_id}.csv", content_type="text/csv"
    )
