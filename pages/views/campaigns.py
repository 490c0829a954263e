"""Campaign pages: the list, the live view, pause, resume, priority, cancel, the results export."""

from urllib.parse import quote

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from campaigns import access, in_use
from campaigns.audit import campaign_audit_trail
from campaigns.models import Campaign, ContactList
from campaigns.reports import first_variable_name
from campaigns.windows import WEEKDAY_NAMES
from dialer import campaign_actions
from dialer.campaign_actions import ActionRefused
from dialer.eligibility import over_cap_reason
from dialer.models import Batch, Call, CallOutcome
from dialer.outcomes import tallies as outcome_tallies
from dialer.progress import OUTCOME_EXPLANATIONS, campaign_progress, progress_by_campaign, skip_reasons, split_summary
from dialer.read_model import campaign_reading, campaign_readings
from dialer.redials.best_time_results import best_time_last
from dialer.redials.survey import answer_list, calls_pressed, pressed_count, survey_results
from dialer.redials.waiting import redials_panel
from dialer.results import attempts_filename, results_csv_chunks, results_filename
from dialer.review import launch_confirmations
from dialer.sharing import limit_per_minute
from dialer.status import cancelled_words
from pages import selectors as queries
from pages.forms import CampaignEditForm, CancelForm, ContactSearchForm, DuplicateForm, PriorityForm, TableFilterForm
from pages.redial_forms import PressedForm
from pages.search import calls_matching
from pages.views import page
from phonon.codes import describe

CALLS_PER_PAGE = 25
BATCHES_PER_PAGE = 25
CAMPAIGN_ORDERINGS = {"newest": ("-created_at",), "oldest": ("created_at",), "name": ("name", "-created_at"),
                      "status": ("status", "-created_at"), "contacts": ("-contact_list__imported_count", "-created_at")}
CAMPAIGN_SORTS = {"newest": "Newest first", "oldest": "Oldest first", "name": "Name A–Z", "status": "Status",
                  "contacts": "Most contacts"}


@page
def campaign_list(request):
    """Search, filter, sort; test calls are listed apart (?show=tests). The table refreshes live."""
    every = access.campaigns_for(request.user)
    tests = request.GET.get("show") == "tests"
    campaigns = every.filter(contact_list__source=ContactList.Source.TEST_CALL) if tests else (
        in_use.campaigns_in_use(every)
    )
    filters = TableFilterForm(request.GET or None, flows=access.flows_for(request.user),
                              statuses=Campaign.Status.choices, sorts=CAMPAIGN_SORTS)
    campaigns = filters.filtered(campaigns, orderings=CAMPAIGN_ORDERINGS)
    page_obj = Paginator(campaigns, 25).get_page(request.GET.get("page"))
    progress = progress_by_campaign([campaign.pk for campaign in page_obj])
    # Each fact the explanations need is read once for the page's campaigns, not once per row.
    readings = campaign_readings([campaign for campaign in page_obj if not campaign.is_final], progress=progress)
    rows = [(campaign, progress[campaign.pk], readings[campaign.pk].explained if campaign.pk in readings else None)
            for campaign in page_obj]
    query = request.GET.copy()
    query.pop("page", None)
    context = {"page_obj": page_obj, "rows": rows, "filters": filters, "tests": tests, "query": query.urlencode(),
               "polling": any(not campaign.is_final for campaign in page_obj)}
    if request.htmx:
        return render(request, "pages/_campaign_table.html", context)
    return render(request, "pages/campaign_list.html", context)


def page_explanations(campaign) -> dict:
    """The outcomes in words, with every reason a call is skipped named (the export keeps its words)."""
    account = campaign.flow.account
    skipped = (f"Not sent: on a do-not-call list, {over_cap_reason(account.calls_per_number, account.cap_days)}, "
               "called within the campaign's look-back, cancelled before it was sent, or left out by the provider.")
    return {**OUTCOME_EXPLANATIONS, Call.State.SKIPPED: skipped}


def _live_context(campaign):
    reading = campaign_reading(campaign)
    progress = reading.progress
    batch_counts = queries.batch_counts_by_status(campaign)
    return {
        "campaign": campaign, "progress": progress, "polling": not campaign.is_final, "reading": reading,
        "explained": reading.explained,
        "explanations": page_explanations(campaign),
        "chart": queries.campaign_chart(campaign, limit_per_minute(campaign.flow.endpoint)),
        "batch_counts": queries.batch_status_counts(batch_counts),
        "weekdays": ", ".join(WEEKDAY_NAMES[day] for day in campaign.window_days),
        # The counts already say whether any request was split: no query of its own for the summary.
        "split_summary": split_summary(campaign) if batch_counts.get(Batch.Status.SPLIT) else "",
        "share": reading.share, "finish_at": reading.finish_at, "scheduled_later": reading.scheduled_later(),
        "cancelled_text": cancelled_words(campaign, progress) if campaign.status == Campaign.Status.CANCELLED else "",
        "priority_form": PriorityForm(initial={"priority": campaign.priority}),
        "outcomes": outcome_tallies.summary_of(campaign.pk),
        "redials": redials_panel(campaign),  # None without redial rules
    }


@page
def campaign_detail(request, pk):
    campaign = access.campaign_or_404(request.user, pk)
    context = _live_context(campaign)
    context["skip_reasons"] = skip_reasons(campaign) if context["progress"].skipped else []
    context.update(_batches_context(request, campaign))
    # What people pressed (dialer.redials.survey), counted under the outcome tallies just read.
    context["survey"] = survey_results(campaign, tallies=context["outcomes"])
    context.update(_calls_context(request, campaign, tallies=context["outcomes"], survey=context["survey"],
                                  progress=context["progress"]))
    context["audit_trail"] = campaign_audit_trail(campaign)
    context["best"] = best_time_last(account_id=campaign.flow.account_id, zone=campaign.timezone)
    return render(request, "pages/campaign_detail.html", context)


@page
def campaign_live(request, pk):
    campaign = access.campaign_or_404(request.user, pk)
    response = render(request, "pages/_campaign_live.html", _live_context(campaign))
    # The one poll of the page: the batches and calls tables refresh on this signal, right after it.
    response["HX-Trigger"] = "campaign-updated"
    return response


def _batches_context(request, campaign):
    batches = campaign.batches.select_related("parent").order_by("sequence")
    page_obj = Paginator(batches, BATCHES_PER_PAGE).get_page(request.GET.get("batches"))
    rows = [(batch, _batch_answer(batch)) for batch in page_obj]
    return {"campaign": campaign, "batch_page": page_obj, "batch_rows": rows, "polling": not campaign.is_final}


def _batch_answer(batch) -> str:
    if batch.status in (Batch.Status.SPLIT, Batch.Status.REJECTED) and batch.response_message:
        return batch.response_message  # the code in words, and whether and why it was sent again in halves
    return describe(batch.response_code, batch.response_message) if batch.response_code is not None else ""


@page
def campaign_batches(request, pk):
    campaign = access.campaign_or_404(request.user, pk)
    return render(request, "pages/_campaign_batches.html", _batches_context(request, campaign))


def _calls_context(request, campaign, *, tallies=None, survey=None, progress=None):
    """The calls table: a page of calls in list order, searched or filtered, with a count that the
    stored tallies give wherever they know it (`tallies`, `survey`, `progress`: read already by the
    campaign's page; the calls fragment reads what it needs)."""
    form = ContactSearchForm(request.GET or None)
    # In list order, through the (campaign, contact) key: ordering by id walked the primary key
    # past every older campaign's calls to find this one's first page.
    # A contact's attempts one under the other (redials), first to last.
    calls = Call.objects.filter(campaign=campaign).select_related("contact", "batch").order_by("contact_id", "attempt")
    searching = False
    name_key = first_variable_name(campaign.contact_list)
    if form.is_bound and form.is_valid() and form.cleaned_data["number"]:
        searching = True
        calls = calls_matching(calls, form.cleaned_data["number"], name_key=name_key)
    outcome = form.cleaned_data.get("outcome", "") if form.is_bound and form.is_valid() else ""
    if outcome:
        calls = calls.filter(outcome=outcome)
    pressed = PressedForm(request.GET if "pressed" in request.GET else None)  # dialer.redials.survey
    if pressed.is_bound and pressed.is_valid() and pressed.cleaned_data["pressed"]:
        searching = True
        calls = calls_pressed(calls, key=pressed.cleaned_data["pressed"], question=pressed.cleaned_data["question"])
    pressed_data = pressed.cleaned_data if pressed.is_bound and pressed.is_valid() else {}
    paginator = Paginator(calls, CALLS_PER_PAGE)
    number_searched = form.is_bound and form.is_valid() and form.cleaned_data["number"]
    if pressed_data.get("pressed") and not number_searched and not outcome:
        # The stored key tallies (any question) or the survey (question N) know the count.
        tallies = tallies or outcome_tallies.summary_of(campaign.pk)
        if pressed_data.get("question"):
            survey = survey or survey_results(campaign, tallies=tallies)
        known = pressed_count(survey, key=pressed_data["pressed"], question=pressed_data.get("question"),
                              tallies=tallies)
        if known is not None:
            paginator.count = known
    elif outcome and not searching:
        # The stored outcome tallies know the count (unknown: every call still without one).
        summary = tallies or outcome_tallies.summary_of(campaign.pk)
        if outcome != CallOutcome.UNKNOWN:
            paginator.count = summary.counts.get(outcome, 0)
    elif not searching:
        # The stored tallies know how many calls there are: counting them was a scan per poll.
        paginator.count = (progress or campaign_progress(campaign)).total
    page_obj = paginator.get_page(request.GET.get("calls"))
    return {
        "campaign": campaign, "search_form": form, "searching": searching, "call_page": page_obj, "name_key": name_key,
        "number": form.cleaned_data.get("number", "") if form.is_bound and form.is_valid() else "",
        "outcome": outcome,
        "pressed_form": pressed,
        "pressed": pressed_data,
        "filter_query": "".join(
            f"&{name}={quote(str(value))}"
            for name, value in (("number", form.cleaned_data.get("number", "") if form.is_bound and form.is_valid()
                                 else ""), ("outcome", outcome), ("pressed", pressed_data.get("pressed") or ""),
                                ("question", pressed_data.get("question") or ""))
            if value
        ),
        "polling": not campaign.is_final,
    }


@page
def campaign_calls(request, pk):
    campaign = access.campaign_or_404(request.user, pk)
    return render(request, "pages/_campaign_calls.html", _calls_context(request, campaign))


def _act(request, pk, action, done_message):
    campaign = access.campaign_or_404(request.user, pk)
    try:
        action(campaign=campaign, actor=request.user)
    except ActionRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, done_message)
    return redirect("campaign_detail", pk=campaign.pk)


@page
@require_POST
def campaign_pause(request, pk):
    return _act(request, pk, campaign_actions.campaign_pause,
                "Campaign paused: no new requests go out until you resume.")


@page
@require_POST
def campaign_resume(request, pk):
    return _act(request, pk, campaign_actions.campaign_resume, "Campaign resumed.")


@page
@require_POST
def campaign_priority(request, pk):
    campaign = access.campaign_or_404(request.user, pk)
    form = PriorityForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a priority: high, normal or low.")
        return redirect("campaign_detail", pk=campaign.pk)
    try:
        campaign_actions.campaign_set_priority(campaign=campaign, priority=form.cleaned_data["priority"],
                                               actor=request.user)
    except ActionRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"Priority set to {campaign.get_priority_display().lower()}.")
    return redirect("campaign_detail", pk=campaign.pk)


@page
def campaign_cancel(request, pk):
    campaign = access.campaign_or_404(request.user, pk)
    if campaign.is_final:
        messages.error(request, f"A {campaign.get_status_display().lower()} campaign cannot be cancelled.")
        return redirect("campaign_detail", pk=campaign.pk)
    form = CancelForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        return _act(request, pk, campaign_actions.campaign_cancel,
                    "Campaign cancelled: calls not yet sent were skipped.")
    progress = campaign_progress(campaign)
    status = 400 if request.method == "POST" else 200
    return render(request, "pages/campaign_cancel.html", {"campaign": campaign, "form": form,
                                                              "progress": progress}, status=status)



@page
def campaign_export(request, pk):
    """The results CSV, named after the campaign and its day, streamed in chunks."""
    campaign = access.campaign_or_404(request.user, pk)
    every_attempt = request.GET.get("attempts") == "1"  # one row per call, each redial too
    chunks = results_csv_chunks(campaign, every_attempt=every_attempt)
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    filename = attempts_filename(campaign) if every_attempt else results_filename(campaign)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@page
def campaign_edit(request, pk):
    """Change the name, start and calling window of a scheduled or paused campaign."""
    campaign = access.campaign_or_404(request.user, pk)
    form = CampaignEditForm(request.POST or None, campaign=campaign)
    status, unconfirmed = 200, []
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            unconfirmed = _window_unconfirmed(request, campaign, data)
        if form.is_valid() and not unconfirmed:
            try:
                campaign_actions.campaign_edit(
                    campaign=campaign, name=data["name"], start_at=data["start_at"], window=data["window"],
                    window_days=data["window_days"], timezone_name=data["timezone"], actor=request.user,
                )
                campaign_actions.campaign_redials_edit(campaign=campaign, rules=data["redials"],
                                                       key_labels=data["key_labels"])
            except ActionRefused as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, "Campaign changed: the new window and start apply from the next request.")
                return redirect("campaign_detail", pk=campaign.pk)
        status = 400
    return render(request, "pages/campaign_edit.html", {"campaign": campaign, "form": form,
                                                        "unconfirmed": unconfirmed}, status=status)


def _window_unconfirmed(request, campaign, data) -> list:
    """A new window across midnight or outside Indian calling hours is confirmed, as at launch."""
    end = f"{campaign.window_end:%H:%M}" if campaign.window_end else "24:00"
    if data["window"] == f"{campaign.window_start:%H:%M}-{end}" and data["timezone"] == campaign.timezone:
        return []
    asked = launch_confirmations(contact_list=campaign.contact_list, start_at=None, window=data["window"],
                                 timezone_name=data["timezone"])
    return [c for c in asked if c.name != "listener" and not request.POST.get(f"confirm_{c.name}")]


@page
@require_POST
def campaign_answer_list(request, pk):
    """The contacts who gave one answer become a new list, launched through the review."""
    campaign = access.campaign_or_404(request.user, pk)
    form = PressedForm(request.POST)
    if not form.is_valid() or not form.cleaned_data["pressed"]:
        messages.error(request, "Choose the answer whose contacts to list.")
        return redirect("campaign_detail", pk=campaign.pk)
    try:
        chosen = answer_list(campaign=campaign, key=form.cleaned_data["pressed"],
                             question=form.cleaned_data["question"], created_by=request.user)
    except ValueError as error:
        messages.error(request, str(error))
        return redirect("campaign_detail", pk=campaign.pk)
    messages.success(request, f"“{chosen.name}”: {chosen.imported_count:,} contact"
                              f"{'s' if chosen.imported_count != 1 else ''}. Review and launch.")
    return redirect(f"{reverse('list_launch', args=[chosen.pk])}?from={campaign.pk}")


@page
def campaign_duplicate(request, pk):
    """Pick another list; its launch form opens with this campaign's settings, then the review."""
    campaign = access.campaign_or_404(request.user, pk)
    lists = in_use.contact_lists_in_use(access.contact_lists_for(request.user)).filter(
        status=ContactList.Status.IMPORTED, imported_count__gt=0
    ).order_by("-created_at")
    # The campaign's own list first: a duplicate most often runs the same people again.
    form = DuplicateForm(request.GET if "contact_list" in request.GET else None, contact_lists=lists,
                         initial={"contact_list": campaign.contact_list_id})
    if form.is_bound and form.is_valid():
        url = reverse("list_launch", args=[form.cleaned_data["contact_list"].pk])
        return redirect(f"{url}?from={campaign.pk}")
    return render(request, "pages/campaign_duplicate.html", {"campaign": campaign, "form": form},
                  status=400 if form.is_bound else 200)


@page
@require_POST
def campaign_retry(request, pk):
    """The rejected and skipped calls become a new list, launched through the review."""
    campaign = access.campaign_or_404(request.user, pk)
    try:
        retry = campaign_actions.campaign_retry_list(campaign=campaign, actor=request.user)
    except ActionRefused as error:
        messages.error(request, str(error))
        return redirect("campaign_detail", pk=campaign.pk)
    messages.success(request, f"“{retry.name}”: {retry.imported_count:,} contact"
                              f"{'s' if retry.imported_count != 1 else ''} to retry. Review and launch.")
    return redirect(f"{reverse('list_launch', args=[retry.pk])}?from={campaign.pk}")
