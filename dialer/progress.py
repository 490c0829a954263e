"""Reads on campaigns' calls: counts by state and summaries, shared by pages, admin, commands and the API."""

from dataclasses import dataclass, field

from django.db.models import Count

from campaigns.models import Campaign
from dialer.models import Call

FINAL_CALL_STATES = tuple(Call.FINAL_STATES)
ACCEPTED_STATES = (Call.State.PLACED, Call.State.ACCEPTED_UNKNOWN)


@dataclass
class Progress:
    counts: dict[str, int] = field(default_factory=lambda: {state: 0 for state in Call.State.values})

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def final(self) -> int:
        return sum(self.counts[state] for state in FINAL_CALL_STATES)

    @property
    def percent(self) -> int:
        # Floor, so 100 % is shown only when every call really is final.
        return self.final * 100 // self.total if self.total else 0

    @property
    def placed(self) -> int:
        return self.counts[Call.State.PLACED]

    @property
    def accepted_unknown(self) -> int:
        return self.counts[Call.State.ACCEPTED_UNKNOWN]

    @property
    def rejected(self) -> int:
        return self.counts[Call.State.REJECTED]

    @property
    def skipped(self) -> int:
        return self.counts[Call.State.SKIPPED]

    @property
    def pending(self) -> int:
        return self.counts[Call.State.PENDING]


def progress_by_campaign(campaign_ids: list[int]) -> dict[int, Progress]:
    """Call counts by state for several campaigns in one grouped query."""
    progress = {campaign_id: Progress() for campaign_id in campaign_ids}
    rows = (
        Call.objects.filter(campaign_id__in=campaign_ids)
        .values("campaign_id", "state")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        progress[row["campaign_id"]].counts[row["state"]] = row["n"]
    return progress


def skip_reasons(campaign: Campaign, *, limit: int = 10) -> list[tuple[str, int]]:
    """Why the campaign's calls were skipped (do-not-call list, dialling cap, cancel, ...), with how
    many each, most first."""
    rows = (
        Call.objects.filter(campaign=campaign, state=Call.State.SKIPPED)
        .values_list("provider_message")
        .annotate(n=Count("id"))
        .order_by("-n", "provider_message")[:limit]
    )
    return [(reason or "no reason recorded", n) for reason, n in rows]


def campaign_progress(campaign: Campaign) -> Progress:
    return progress_by_campaign([campaign.pk])[campaign.pk]


def campaign_summary(campaign: Campaign) -> dict:
    """The counts `launch_campaign --wait` prints (a stable contract: never rename a field)."""
    progress = campaign_progress(campaign)
    return {
        "campaign_id": campaign.pk,
        "status": campaign.status,
        "contacts": progress.total,
        "placed": progress.placed,
        "accepted_unknown": progress.accepted_unknown,
        "rejected": progress.rejected,
        "skipped": progress.skipped,
        "batches": campaign.batches.count(),
    }
