"""Flow pages: the list, the listener checklist, the call-list template, a test call."""

from urllib.parse import quote

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from campaigns import access, in_use
from campaigns.models import ContactList
from campaigns.reports import template_csv
from core.encrypted_fields import mask_secret
from dialer.listener_test_call import ListenerNotActivated, test_call_launch
from flows import services
from pages.forms import TestCallForm
from pages.intake_channels import flow_intake_channels
from pages.views import csv_attachment, page

PROVIDER_HELP_ADDRESS = "help@phonon.io"


def activation_mail(flow, dids: list[str], sender: str) -> dict:
    """The listener activation request the provider asks for: client ID, flow ID, every DID."""
    subject = f"Listener activation request: flow {flow.flow_id}, client {flow.account.client_id}"
    lines = [
        "Hello Phonon support,",
        "",
        "Please activate the listener of this outbound flow.",
        "",
        f"Client ID: {flow.account.client_id}",
        f"Flow ID: {flow.flow_id}",
        *([f"Flow name: {flow.name}"] if flow.name else []),
        f"Flow type: {flow.get_kind_display()} ({flow.get_mode_display().lower()})",
        f"DIDs attached ({len(dids)}):",
        *[f"  {number}" for number in dids],
        "",
        "Thank you,",
        sender,
    ]
    body = "\n".join(lines)
    return {
        "to": PROVIDER_HELP_ADDRESS, "subject": subject, "body": body,
        "mailto": f"mailto:{PROVIDER_HELP_ADDRESS}?subject={quote(subject)}&body={quote(body)}",
    }


@page
def flow_list(request):
    flows = (
        access.flows_for(request.user)
        .annotate(did_count=Count("dids", distinct=True), list_count=Count("contact_lists", distinct=True))
        .order_by("account__name", "flow_id")
    )
    return render(request, "pages/flow_list.html", {"flows": flows})


def _flow_context(request, flow, test_call_form=None):
    dids = list(flow.dids.values_list("number", flat=True))
    sender = request.user.get_full_name() or request.user.get_username()
    checklist = [
        {"label": "Flow created", "done": True, "at": flow.created_at},
        {"label": f"DIDs attached ({len(dids)})", "done": bool(dids), "at": None},
        {"label": "Activation requested from the provider", "done": bool(flow.activation_requested_at),
         "at": flow.activation_requested_at, "action": "requested"},
        {"label": "Listener activated by the provider", "done": bool(flow.activated_at), "at": flow.activated_at,
         "action": "activated"},
    ]
    return {
        "flow": flow, "dids": dids, "checklist": checklist, "mail": activation_mail(flow, dids, sender),
        "intake_channels": flow_intake_channels(flow),
        "masked_security_id": mask_secret(flow.security_id),
        "report_url": services.flow_report_url(flow),
        "test_call_form": test_call_form or TestCallForm(),
        "campaigns": in_use.campaigns_in_use(flow.campaigns.all()).order_by("-created_at")[:10],
        "lists": in_use.contact_lists_in_use(flow.contact_lists.all()).order_by("-created_at")[:10],
        "test_calls": flow.campaigns.filter(contact_list__source=ContactList.Source.TEST_CALL).order_by(
            "-created_at")[:10],
    }


@page
def flow_detail(request, pk):
    flow = access.flow_or_404(request.user, pk)
    return render(request, "pages/flow_detail.html", _flow_context(request, flow))


@page
@require_POST
def flow_mark(request, pk, step):
    flow = access.flow_or_404(request.user, pk)
    if step == "requested":
        services.flow_mark_activation_requested(flow=flow)
        messages.success(request, f"Flow {flow.flow_id}: activation marked as requested.")
    else:
        services.flow_mark_activated(flow=flow)
        messages.success(request, f"Flow {flow.flow_id}: listener marked as activated.")
    return redirect("flow_detail", pk=flow.pk)


@page
@require_POST
def flow_rotate_report_url(request, pk):
    flow = access.flow_or_404(request.user, pk)
    services.flow_report_token_rotate(flow=flow)
    messages.success(
        request, f"Flow {flow.flow_id} has a new report URL; the old one is refused from now on. Give the provider "
        "the new one.",
    )
    return redirect("flow_detail", pk=flow.pk)


@page
@require_POST
def flow_test_call(request, pk):
    flow = access.flow_or_404(request.user, pk)
    form = TestCallForm(request.POST)
    if form.is_valid():
        try:
            campaign = test_call_launch(
                flow=flow, number=form.cleaned_data["number"], variables=form.cleaned_data["variables"],
                created_by=request.user, even_if_not_activated=form.cleaned_data["confirm_not_activated"],
            )
        except ListenerNotActivated as error:
            form.add_error("confirm_not_activated", str(error))
        except ValueError as error:
            form.add_error("number", str(error))
        else:
            messages.success(request, "Test call sent with api-version TEST; its result shows below as it comes in.")
            return redirect("campaign_detail", pk=campaign.pk)
    return render(request, "pages/flow_detail.html", _flow_context(request, flow, form), status=400)


@page
def flow_template_csv(request, pk):
    flow = access.flow_or_404(request.user, pk)
    return csv_attachment(f"template_{flow.flow_id}.csv", template_csv, flow)
