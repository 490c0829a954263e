import tempfile

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from campaigns import lifecycle
from campaigns.models import Campaign
from campaigns.windows import WEEKDAY_NAMES, campaign_in_window, next_window_opening
from dialer import steering
from dialer.models import Call
from dialer.progress import campaign_progress, progress_by_campaign, skip_reasons
from dialer.results import export_results_csv
from pages import access
from pages import selectors as queries
from pages.forms import CancelForm, ContactSearchForm
from pages.views import page
from phonon.codes import describe

CALLS_PER_PAGE = 25
BATCHES_PER_PAGE = 25
EXPORT_CHUNK = 64 * 1024


@page
def campaign_list(request):
    campaigns = access.campaigns_for(request.user).order_by("-created_at")
    status = request.GET.get("status", "")
    if status in Campaign.Status.values:
        campaigns = campaigns.filter(status=status)
    page_obj = Paginator(campaigns, 25).get_page(request.GET.get("page"))
    progress = progress_by_campaign([campaign.pk for campaign in page_obj])
    rows = [(campaign, progress[campaign.pk]) for campaign in page_obj]
    return render(
        request, "pages/campaign_list.html",
        {"page_obj": page_obj, "rows": rows, "status": status, "statuses": Campaign.Status.choices},
    )


def _live_context(campaign):
    progress = campaign_progress(campaign)
    limit = queries.limit_per_minute(campaign.flow.endpoint)
    now = timezone.now()
    waiting_for_window = campaign.status in (Campaign.Status.RUNNING, Campaign.Status.SCHEDULED) and not (
        campaign_in_window(campaign, now)
    )
    return {
        "waiting_for_window": waiting_for_window,
        "next_opening": next_window_opening(campaign, now) if waiting_for_window else None,
        "campaign": campaign, "progress": progress, "polling": not campaign.is_final,
        "chart": queries.chart(queries.calls_sent_per_minute(campaign), limit),
        "batch_counts": queries.batch_status_counts(campaign),
        "weekdays": ", ".join(WEEKDAY_NAMES[day] for day in campaign.window_days),
    }


@page
def campaign_detail(request, pk):
    campaign = access.campaign_or_404(request.user, pk)
    context = _live_context(campaign)
    context["skip_reasons"] = skip_reasons(campaign) if context["progress"].skipped else []
    context.update(_batches_context(request, campaign))
    context.update(_calls_context(request, campaign))
    return render(request, "pages/campaign_detail.html", context)


@page
def campaign_live(request, pk):
    campaign = access.campaign_or_404(request.user, pk)
    return render(request, "pages/_campaign_live.html", _live_context(campaign))


def _batches_context(request, campaign):
    batches = campaign.batches.order_by("sequence")
    page_obj = Paginator(batches, BATCHES_PER_PAGE).get_page(request.GET.get("batches"))
    rows = [
        (batch, describe(batch.response_code, batch.response_message) if batch.response_code is not None else "")
        for batch in page_obj
    ]
    return {"campaign": campaign, "batch_page": page_obj, "batch_rows": rows, "polling": not campaign.is_final}


@page
def campaign_batches(request, pk):
    campaign = access.campaign_or_404(request.user, pk)
    return render(request, "pages/_campaign_batches.html", _batches_context(request, campaign))


def _calls_context(request, campaign):
    form = ContactSearchForm(request.GET or None)
    calls = Call.objects.filter(campaign=campaign).select_related("contact", "batch").order_by("id")
    searching = False
    if form.is_bound and form.is_valid() and form.cleaned_data["number"]:
        searching = True
        calls = calls.filter(contact__primary_number__endswith=form.cleaned_data["number"])
    page_obj = Paginator(calls, CALLS_PER_PAGE).get_page(request.GET.get("calls"))
    return {
        "campaign": campaign, "search_form": form, "searching": searching, "call_page": page_obj,
        "number": form.cleaned_data.get("number", "") if form.is_bound and form.is_valid() else "",
        "polling": not campaign.is_final,
    }


@page
def campaign_calls(request, pk):
    campaign = access.campaign_or_404(request.user, pk)
    return render(request, "pages/_campaign_calls.html", _calls_context(request, campaign))


def _act(request, pk, action, done_message):
    campaign = access.campaign_or_404(request.user, pk)
    try:
        action(campaign=campaign)
    except lifecycle.TransitionRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, done_message)
    return redirect("campaign_detail", pk=campaign.pk)


@page
@require_POST
def campaign_pause(request, pk):
    return _act(request, pk, lifecycle.campaign_pause, "Campaign paused: no new requests go out until you resume.")


@page
@require_POST
def campaign_resume(request, pk):
    return _act(request, pk, steering.campaign_resume, "Campaign resumed.")


@page
def campaign_cancel(request, pk):
    campaign = access.campaign_or_404(request.user, pk)
    if campaign.is_final:
        messages.error(request, f"A {campaign.get_status_display().lower()} campaign cannot be cancelled.")
        return redirect("campaign_detail", pk=campaign.pk)
    form = CancelForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        return _act(request, pk, steering.campaign_cancel, "Campaign cancelled: calls not yet sent were skipped.")
    progress = campaign_progress(campaign)
    status = 400 if request.method == "POST" else 200
    return render(request, "pages/campaign_cancel.html", {"campaign": campaign, "form": form,
                                                              "progress": progress}, status=status)


def _file_chunks(spooled):
    try:
        spooled.seek(0)
        while chunk := spooled.read(EXPORT_CHUNK):
            yield chunk.encode()
    finally:
        spooled.close()


@page
def campaign_export(request, pk):
    """The results CSV. It is written to a spooled temporary file (memory up to 4 MB, disk beyond)
    inside the request, where the database connection is ours, then streamed out in chunks."""
    campaign = access.campaign_or_404(request.user, pk)
    spooled = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024, mode="w+", encoding="utf-8", newline="")
    export_results_csv(campaign, spooled)
    response = StreamingHttpResponse(_file_chunks(spooled), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campaign_{campaign.pk}_results.csv"'
    return response
