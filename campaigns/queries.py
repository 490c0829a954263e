"""Reads on campaigns: counts and summaries shared by pages, commands and the API."""

from django.db.models import Count

from campaigns.models import Call, Campaign


def call_state_counts(campaign: Campaign) -> dict[str, int]:
    counts = {state: 0 for state in Call.State.values}
    for row in Call.objects.filter(campaign=campaign).values("state").annotate(n=Count("id")):
        counts[row["state"]] = row["n"]
    return counts


def campaign_summary(campaign: Campaign) -> dict:
    counts = call_state_counts(campaign)
    return {
        "campaign_id": campaign.pk,
        "status": campaign.status,
        "contacts": sum(counts.values()),
        "placed": counts[Call.State.PLACED],
        "accepted_unknown": counts[Call.State.ACCEPTED_UNKNOWN],
        "rejected": counts[Call.State.REJECTED],
        "skipped": counts[Call.State.SKIPPED],
        "batches": campaign.batches.count(),
    }
