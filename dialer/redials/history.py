"""Each contact's attempts in a campaign: how many calls, the last one, and the counts a summary needs.

A contact's last call is the one with its highest attempt number; the export's stable columns
describe it (dialer.results), and `attempts` counts its calls.
"""

from django.db.models import Count, Exists, Max, OuterRef

from campaigns.redial_rules import campaign_rules
from dialer.models import Call


def redial_summary(campaign, *, calls: int) -> dict:
    """What `launch_campaign --wait` adds for a campaign with redial rules: contacts (each counted
    once), calls (every attempt) and redials (calls after a contact's first). Nothing without rules,
    where calls and contacts are one and the same."""
    if not campaign_rules(campaign).active:
        return {}
    redials = Call.objects.filter(campaign=campaign, attempt__gt=1).count()
    return {"contacts": calls - redials, "calls": calls, "redials": redials}


def has_redials(campaign) -> bool:
    """True when the campaign may hold more than one call per contact (rules now, or a planner that
    ran under earlier rules)."""
    return campaign.max_attempts > 1 or campaign.redials_checked_until is not None


def last_calls(campaign, calls):
    """`calls` (of this campaign) narrowed to each contact's last attempt; unchanged, and as cheap
    as before, for a campaign that never had redials."""
    if not has_redials(campaign):
        return calls
    later = Call.objects.filter(
        campaign_id=OuterRef("campaign_id"), contact_id=OuterRef("contact_id"), attempt__gt=OuterRef("attempt")
    )
    return calls.filter(~Exists(later))


def attempts_by_contact(campaign, contact_ids) -> dict[int, int]:
    """{contact id: its number of calls} for these contacts (read along the (campaign, contact,
    attempt) key)."""
    return dict(
        Call.objects.filter(campaign=campaign, contact_id__in=list(contact_ids))
        .values("contact_id")
        .annotate(n=Max("attempt"))
        .values_list("contact_id", "n")
    )


def contact_attempts(campaign, contact_id: int) -> list[Call]:
    """One contact's calls in this campaign, first to last."""
    return list(Call.objects.filter(campaign=campaign, contact_id=contact_id).order_by("attempt"))


def attempts_histogram(campaign) -> dict[int, int]:
    """{number of attempts: contacts that had that many}."""
    rows = (
        Call.objects.filter(campaign=campaign)
        .values("contact_id")
        .annotate(n=Max("attempt"))
        .values("n")
        .annotate(contacts=Count("contact_id"))
        .values_list("n", "contacts")
    )
    return dict(rows)
