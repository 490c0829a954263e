"""Dismissing an entry of "Needs your attention" on the dashboard."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from campaigns import access
from pages.attention import attention_dismiss
from pages.views import page


@page
@require_POST
def dismiss_list(request, pk):
    contact_list = access.contact_list_or_404(request.user, pk)
    attention_dismiss(user=request.user, contact_list=contact_list)
    messages.success(request, f"“{contact_list.name}” no longer shows under “Needs your attention”.")
    return redirect("dashboard")


@page
@require_POST
def dismiss_campaign(request, pk):
    campaign = access.campaign_or_404(request.user, pk)
    attention_dismiss(user=request.user, campaign=campaign)
    messages.success(request, f"“{campaign.name}” no longer shows under “Needs your attention”.")
    return redirect("dashboard")
