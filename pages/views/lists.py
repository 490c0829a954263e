"""Call-list pages: upload with preview, live import progress, the report, launch."""

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from campaigns import access, lifecycle
from campaigns.importing import FileRefused, StartTimePassed, contact_list_create, preview_rows
from campaigns.models import ContactList
from campaigns.reports import rejected_rows_csv
from campaigns.tasks import import_contact_list_task
from dialer import launching
from pages.forms import CampaignForm, PreviewForm, UploadForm
from pages.views import csv_attachment, page

FINAL_LIST_STATUSES = (ContactList.Status.IMPORTED, ContactList.Status.REFUSED, ContactList.Status.FAILED)


def _wants_json(request) -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest" or "application/json" in request.headers.get(
        "Accept", ""
    )


def _index(request, form, status=200):
    lists = access.contact_lists_for(request.user).order_by("-created_at")
    page_obj = Paginator(lists, 25).get_page(request.GET.get("page"))
    return render(request, "pages/list_index.html", {"form": form, "page_obj": page_obj}, status=status)


@page
def list_index(request):
    flows = access.flows_for(request.user)
    initial = {}
    if request.GET.get("flow"):
        initial["flow"] = flows.filter(pk=request.GET["flow"]).first() if request.GET["flow"].isdigit() else None
    return _index(request, UploadForm(flows=flows, initial=initial))


@page
@require_POST
def list_upload(request):
    """Store the upload, queue its import after commit, and answer at once."""
    form = UploadForm(request.POST, request.FILES, flows=access.flows_for(request.user))
    error = None
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            # Not in a transaction: a refused upload is kept (status refused, with its sentence)
            # so that it shows among the lists and on the dashboard.
            contact_list = contact_list_create(
                flow=form.cleaned_data["flow"], fileobj=upload, filename=upload.name,
                source=ContactList.Source.UPLOAD, created_by=request.user, name=form.cleaned_data["name"],
                encoding=form.cleaned_data["encoding"], start_now=form.cleaned_data["start_now"],
            )
        except FileRefused as refusal:
            error = refusal.message
            if isinstance(refusal, StartTimePassed):
                error += " To call it at once anyway, tick “Start now” and upload it again."
            form.add_error("file", error)
        else:
            transaction.on_commit(lambda: import_contact_list_task.delay(contact_list.pk))
            url = reverse("list_detail", args=[contact_list.pk])
            if _wants_json(request):
                return JsonResponse({"id": contact_list.pk, "url": url, "status": contact_list.status}, status=201)
            messages.success(request, f"“{contact_list.name}” uploaded; its import has started.")
            return redirect(url)
    else:
        error = " ".join(message for messages_ in form.errors.values() for message in messages_)
    if _wants_json(request):
        return JsonResponse({"error": error, "errors": form.errors.get_json_data()}, status=400)
    return _index(request, form, status=400)


@page
@require_POST
def list_preview(request):
    """The first rows of a file as the import will read them, before it is uploaded for good."""
    form = PreviewForm(request.POST, request.FILES)
    if not form.is_valid():
        preview = {"columns": [], "rows": [], "error": "Choose a .csv or .zip file to preview."}
    else:
        upload = form.cleaned_data["file"]
        # The browser may send only the start of a large CSV; the name still tells the kind.
        filename = request.POST.get("filename") or upload.name
        preview = preview_rows(fileobj=upload, filename=filename, encoding=form.cleaned_data["encoding"])
    return render(request, "pages/_preview.html", {"preview": preview, "before_upload": True})


def stored_preview(contact_list: ContactList) -> dict | None:
    if not contact_list.stored_file or contact_list.status == ContactList.Status.REFUSED:
        return None
    path = Path(settings.MEDIA_ROOT) / contact_list.stored_file
    try:
        with path.open("rb") as fileobj:
            return preview_rows(
                fileobj=fileobj, filename=contact_list.original_filename or path.name, encoding=contact_list.encoding
            )
    except FileNotFoundError:
        return None


def _progress_context(contact_list):
    return {
        "contact_list": contact_list,
        "is_final": contact_list.status in FINAL_LIST_STATUSES,
        "rejected_sample": contact_list.rejected_rows.order_by("line")[:10] if contact_list.rejected_count else [],
    }


@page
def list_detail(request, pk):
    contact_list = access.contact_list_or_404(request.user, pk)
    context = _progress_context(contact_list)
    context["preview"] = stored_preview(contact_list)
    context["campaigns"] = contact_list.campaigns.order_by("-created_at")
    if contact_list.status == ContactList.Status.IMPORTED and contact_list.imported_count:
        context["campaign_form"] = CampaignForm(flow=contact_list.flow)
    return render(request, "pages/list_detail.html", context)


@page
def list_progress(request, pk):
    contact_list = access.contact_list_or_404(request.user, pk)
    response = render(request, "pages/_list_progress.html", _progress_context(contact_list))
    if contact_list.status in FINAL_LIST_STATUSES and request.htmx:
        # The launch form appears only once the import is final: reload the page once.
        response["HX-Refresh"] = "true"
    return response


@page
def list_rejected_csv(request, pk):
    contact_list = access.contact_list_or_404(request.user, pk)
    return csv_attachment(f"rejected_rows_list{contact_list.pk}.csv", rejected_rows_csv, contact_list)


@page
def list_launch(request, pk):
    """Create a campaign from an imported list and schedule it (launch = create + schedule)."""
    contact_list = access.contact_list_or_404(request.user, pk)
    if request.method != "POST":
        if contact_list.status != ContactList.Status.IMPORTED:
            return redirect("list_detail", pk=contact_list.pk)
        form = CampaignForm(flow=contact_list.flow)
        return render(request, "pages/list_launch.html", {"contact_list": contact_list, "form": form})
    form = CampaignForm(request.POST, flow=contact_list.flow)
    if form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                campaign = launching.campaign_launch(
                    contact_list=contact_list, name=data["name"], start_at=data["start_at"], window=data["window"],
                    window_days=data["window_days"], timezone_name=data["timezone"], batch_size=data["batch_size"],
                    api_version=data["api_version"], priority=data["priority"], created_by=request.user,
                )
        except (ValueError, lifecycle.TransitionRefused) as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Campaign “{campaign.name}” launched.")
            return redirect("campaign_detail", pk=campaign.pk)
    return render(request, "pages/list_launch.html", {"contact_list": contact_list, "form": form}, status=400)
