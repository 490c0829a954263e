"""Call-list pages: upload with preview, live import progress, the report, launch."""

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from campaigns import access, in_use
from campaigns.importing import (
    FileRefused,
    StartTimePassed,
    contact_list_create,
    flow_column_map,
    preview_foreign_numbers,
    preview_mapping_choices,
    preview_rows,
    preview_warnings,
)
from campaigns.models import Campaign, ContactList
from campaigns.reports import (
    country_code,
    duplicate_rows,
    flow_variable_names,
    numbers_outside_country,
    rejected_rows_to_fix_csv,
)
from campaigns.tasks import contact_list_import_soon
from campaigns.windows import Window
from dialer import campaign_actions
from dialer.campaign_actions import ActionRefused
from dialer.recent_calls import DEFAULT_LOOK_BACK_DAYS
from dialer.redials.best_time_results import best_time_last
from dialer.review import launch_confirmations, launch_review
from dialer.start_times import preview_start_times
from pages.forms import CampaignForm, PreviewForm, ReviewForm, TableFilterForm, UploadForm, posted_column_mapping
from pages.views import csv_attachment, page

FINAL_LIST_STATUSES = (ContactList.Status.IMPORTED, ContactList.Status.REFUSED, ContactList.Status.FAILED)


def _wants_json(request) -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest" or "application/json" in request.headers.get(
        "Accept", ""
    )


LIST_ORDERINGS = {"newest": ("-created_at",), "oldest": ("created_at",), "name": ("name", "-created_at"),
                  "imported": ("-imported_count", "-created_at"), "rejected": ("-rejected_count", "-created_at")}
LIST_SORTS = {"newest": "Newest first", "oldest": "Oldest first", "name": "Name A–Z",
              "imported": "Most contacts", "rejected": "Most rejected rows"}


def _index(request, form, status=200):
    every = access.contact_lists_for(request.user)
    archived = request.GET.get("show") == "archived"
    lists = every.filter(archived_at__isnull=False) if archived else in_use.contact_lists_in_use(every)
    filters = TableFilterForm(request.GET or None, flows=access.flows_for(request.user),
                              statuses=ContactList.Status.choices, sorts=LIST_SORTS)
    lists = filters.filtered(lists.annotate(campaign_count=Count("campaigns")), orderings=LIST_ORDERINGS)
    page_obj = Paginator(lists, 25).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page_obj": page_obj, "filters": filters, "archived": archived,
               "archived_count": every.filter(archived_at__isnull=False).count(), "query": query.urlencode()}
    if request.htmx and request.htmx.target == "lists-table":
        return render(request, "pages/_list_table.html", context)
    return render(request, "pages/list_index.html", context, status=status)


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
                column_map=form.cleaned_data["column_map"],
            )
        except FileRefused as refusal:
            error = refusal.message
            if isinstance(refusal, StartTimePassed):
                error += " To call it at once anyway, tick “Start now” and upload it again."
            form.add_error("file", error)
        else:
            contact_list_import_soon(contact_list.pk)
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
        flow_id = request.POST.get("flow", "")
        flow = access.flows_for(request.user).filter(pk=flow_id).first() if flow_id.isdigit() else None
        # A new file is read as this flow's last upload was mapped; a changed mapping as posted.
        mapping = (posted_column_mapping(request.POST) or {}) if request.POST.get("mapped") else (
            flow_column_map(flow) if flow else {}
        )
        preview = preview_rows(fileobj=upload, filename=filename, encoding=form.cleaned_data["encoding"],
                               mapping=mapping)
        known = flow_variable_names(flow) if flow else []
        preview["warnings"] = preview_warnings(preview, known_variables=known)
        preview["mapping_choices"] = preview_mapping_choices(preview, known_variables=known)
        preview["foreign"] = preview_foreign_numbers(preview)
        preview["country_code"] = country_code()
        own_starts = preview_start_times(preview, window=Window.parse("09:00-21:00", zone=settings.PHONON_TIMEZONE))
        preview["warnings"] += [own_starts] if own_starts else []
    return render(request, "pages/_preview.html", {"preview": preview, "before_upload": True})


def stored_preview(contact_list: ContactList) -> dict | None:
    if not contact_list.stored_file or contact_list.status == ContactList.Status.REFUSED:
        return None
    path = Path(settings.MEDIA_ROOT) / contact_list.stored_file
    try:
        with path.open("rb") as fileobj:
            return preview_rows(
                fileobj=fileobj, filename=contact_list.original_filename or path.name, encoding=contact_list.encoding,
                mapping=contact_list.column_map,
            )
    except FileNotFoundError:
        return None


def _progress_context(contact_list):
    final = contact_list.status in FINAL_LIST_STATUSES
    return {
        "contact_list": contact_list,
        "is_final": final,
        "rejected_sample": contact_list.rejected_rows.order_by("line")[:10] if contact_list.rejected_count else [],
        "duplicates": duplicate_rows(contact_list).count() if final and contact_list.rejected_count else 0,
    }


@page
def list_detail(request, pk):
    contact_list = access.contact_list_or_404(request.user, pk)
    context = _progress_context(contact_list)
    context["preview"] = stored_preview(contact_list)
    context["campaigns"] = contact_list.campaigns.order_by("-created_at")
    if contact_list.status == ContactList.Status.IMPORTED and contact_list.imported_count:
        context["campaign_form"] = CampaignForm(flow=contact_list.flow)
        context.update(foreign=numbers_outside_country(contact_list), country_code=country_code())
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
    name = slugify(contact_list.name)[:80] or f"list{contact_list.pk}"
    return csv_attachment(f"{name}_rejected_rows_to_fix.csv", rejected_rows_to_fix_csv, contact_list)


def _launch_form(request, contact_list, form, status=200):
    # The window the account's answered calls suggest (dialer.redials.best_time): the last computed,
    # None (no suggestion) while a worker works it out.
    zone = form["timezone"].value() or settings.PHONON_TIMEZONE
    best = best_time_last(account_id=contact_list.flow.account_id, zone=zone)
    return render(request, "pages/list_launch.html", {"contact_list": contact_list, "form": form, "best": best},
                  status=status)


@page
def list_launch(request, pk):
    """Settings, then the review, then confirm: nothing is created before the manager confirms.
    The settings travel in hidden fields, so the review can be recounted or edited at will."""
    contact_list = access.contact_list_or_404(request.user, pk)
    if request.method != "POST":
        if contact_list.status != ContactList.Status.IMPORTED:
            return redirect("list_detail", pk=contact_list.pk)
        earlier = request.GET.get("from", "")
        source = access.campaigns_for(request.user).filter(pk=earlier).first() if earlier.isdigit() else None
        initial = CampaignForm.initial_from(source) if source else {}
        return _launch_form(request, contact_list, CampaignForm(flow=contact_list.flow, initial=initial))
    form = CampaignForm(request.POST, flow=contact_list.flow)
    if "edit" in request.POST:
        return _launch_form(request, contact_list, form)
    if not form.is_valid():
        return _launch_form(request, contact_list, form, status=400)
    try:
        campaign_actions.contact_list_check_launchable(contact_list=contact_list)
    except ActionRefused as error:
        form.add_error(None, str(error))
        return _launch_form(request, contact_list, form, status=400)
    data = form.cleaned_data
    confirmations = launch_confirmations(contact_list=contact_list, start_at=data["start_at"], window=data["window"],
                                         timezone_name=data["timezone"])
    reviewed = "reviewed" in request.POST
    review_form = ReviewForm(request.POST if reviewed else None, confirmations=confirmations)
    choices = review_form.cleaned_data if reviewed and review_form.is_valid() else {
        "skip_called": review_form["skip_called"].value() if reviewed else True,
        "look_back_days": DEFAULT_LOOK_BACK_DAYS,
        "outside_window": review_form["outside_window"].value() if reviewed else "",
    }
    outside_window = choices["outside_window"] or Campaign.OutsideWindow.MOVE
    review = launch_review(
        contact_list=contact_list, start_at=data["start_at"], window=data["window"], window_days=data["window_days"],
        timezone_name=data["timezone"], look_back_days=choices["look_back_days"], skip_called=choices["skip_called"],
        priority=data["priority"], outside_window=outside_window, redial_rules=data.get("redials"),
        batch_size=data.get("batch_size"),
    )
    if "confirm" in request.POST and reviewed and review_form.is_valid():
        try:
            with transaction.atomic():
                campaign = campaign_actions.campaign_launch(
                    contact_list=contact_list, name=data["name"], start_at=data["start_at"], window=data["window"],
                    window_days=data["window_days"], timezone_name=data["timezone"], batch_size=data["batch_size"],
                    api_version=data["api_version"], priority=data["priority"], actor=request.user,
                    skip_called_days=choices["look_back_days"] if choices["skip_called"] else None,
                    outside_window=outside_window,
                    redials=data.get("redials"), key_labels=data.get("key_labels", ""),
                )
        except ActionRefused as error:
            review_form.add_error(None, str(error))
        else:
            skipped = f"; {review.skipped:,} will be skipped" if review.skipped else ""
            messages.success(request, f"Campaign “{campaign.name}” launched: {review.to_call:,} "
                                      f"contact{'s' if review.to_call != 1 else ''} to call{skipped}.")
            return redirect("campaign_detail", pk=campaign.pk)
    carried = [(name, value) for name in form.fields for value in request.POST.getlist(name)]
    status = 400 if reviewed and review_form.errors else 200
    return render(request, "pages/list_review.html", {
        "contact_list": contact_list, "review": review, "review_form": review_form, "carried": carried,
        "form": form, "foreign": numbers_outside_country(contact_list), "country_code": country_code(),
    }, status=status)


@page
@require_POST
def list_archive(request, pk):
    """Archive (or bring back) a list: hidden from attention and pickers, nothing deleted."""
    contact_list = access.contact_list_or_404(request.user, pk)
    if request.POST.get("restore"):
        campaign_actions.contact_list_unarchive(contact_list=contact_list)
        messages.success(request, f"“{contact_list.name}” is back among the lists.")
        return redirect("list_detail", pk=contact_list.pk)
    try:
        campaign_actions.contact_list_archive(contact_list=contact_list)
    except ActionRefused as refused:
        messages.error(request, str(refused))
        return redirect("list_detail", pk=contact_list.pk)
    messages.success(request, f"“{contact_list.name}” archived: hidden from the lists and the dashboard; "
                              "its campaigns and results are kept.")
    return redirect("list_index")
