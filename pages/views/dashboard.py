"""The dashboard: today's numbers per flow, active campaigns, what needs attention."""

from django.conf import settings
from django.shortcuts import render

from campaigns import access, in_use
from dialer.redials.best_time_results import best_time_last
from pages import selectors as queries
from pages.attention import without_dismissed
from pages.views import page


@page
def dashboard(request):
    user = request.user
    # Archived lists and test calls leave the attention list and the recent tables.
    # The attention list and the recent tables show the rows' own fields only: no flow, account or
    # list joined in and built for each row (the active table shows its flow and list).
    campaigns = in_use.campaigns_in_use(access.campaigns_for(user)).select_related(None)
    contact_lists = in_use.contact_lists_in_use(access.contact_lists_for(user)).select_related(None)
    active = queries.active_campaigns(campaigns.select_related("flow", "contact_list"))
    # Fewer than the table's limit: that is every active campaign, the paused ones among them.
    whole = [campaign for campaign, _, _ in active] if len(active) < queries.ACTIVE_SHOWN else None
    context = {
        "active": active,
        "flows_today": queries.flows_today(access.flows_for(user)),
        "problems": without_dismissed(
            queries.problems(
                campaigns=campaigns, contact_lists=contact_lists, active=whole,
                retrying=queries.retrying_campaigns(active),
            ),
            user,
        ),
        "recent_lists": contact_lists.order_by("-created_at")[:5],
        "recent_finished": campaigns.filter(status__in=("completed", "cancelled")).order_by("-updated_at")[:5],
    }
    if request.htmx:
        return render(request, "pages/_dashboard_live.html", context)
    # The best time to call for each account the manager runs (a few; the last computed, read outside
    # the poll; None while a worker works it out).
    context["best_times"] = [
        (account, best_time_last(account_id=account.pk, zone=settings.PHONON_TIMEZONE))
        for account in access.accounts_for(user).order_by("name")[:3]
    ]
    return render(request, "pages/dashboard.html", context)
