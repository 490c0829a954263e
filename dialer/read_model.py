"""One read model for "what is this campaign doing?": status in words, progress, share of the limit,
finishing time and what the provider holds for later, read together so that the page, its live
fragment, the tables, the dashboard and the API can never disagree.

The launch review (dialer.review) is built from the same parts: the share (dialer.sharing), the
estimate (dialer.throughput) and planning's own checks (dialer.skip_forecast).
"""

import datetime
from dataclasses import dataclass

from django.utils import timezone

from campaigns.clock import starts_words, zoned_time
from campaigns.models import Campaign
from campaigns.windows import Window, campaign_in_window
from dialer.progress import Progress, progress_by_campaign
from dialer.retry_status import Retrying
from dialer.sharing import Share
from dialer.start_times import scheduled_later
from dialer.status import StatusExplained, StatusFacts, campaign_status_explained
from dialer.throughput import Estimate


@dataclass(frozen=True)
class CampaignReading:
    campaign: Campaign
    progress: Progress
    explained: StatusExplained
    share: Share | None  # while it may send: running, inside its window
    estimate: Estimate | None  # the one finishing estimate, while it may send
    retrying: Retrying | None
    now: datetime.datetime

    @property
    def finish_at(self) -> datetime.datetime | None:
        # While the provider keeps failing, no finishing time is honest: none is given.
        if self.retrying or not self.estimate or not self.estimate.calls_left:
            return None
        return self.estimate.finish_at

    @property
    def starts_text(self) -> str:
        """When its first request leaves, in words: `8 Dec 09:00 IST (in 12 h)`, `started 7 Dec, 10:02 IST`,
        `at once`."""
        campaign, now = self.campaign, self.now
        start = max(campaign.start_at or now, now)
        first = Window.of(campaign).start_inside(start)
        if first > now and not self.progress.sent:
            return starts_words(first, campaign.timezone, now=now)  # nothing has left yet: it waits
        if campaign.started_at:
            return f"started {zoned_time(campaign.started_at, campaign.timezone)}"
        return starts_words(first, campaign.timezone, now=now) if first > now else "at once"

    def scheduled_later(self) -> list[tuple[datetime.datetime, int]]:
        """The calls the provider accepted to make later (read on demand: the page's own list)."""
        return scheduled_later(self.campaign, now=self.now)


def campaign_readings(
    campaigns: list[Campaign], *, progress: dict[int, Progress] | None = None, now: datetime.datetime | None = None
) -> dict[int, CampaignReading]:
    """The reading of each campaign, every fact read once for all of them."""
    now = now or timezone.now()
    progress = progress if progress is not None else progress_by_campaign([c.pk for c in campaigns])
    facts = StatusFacts(campaigns, now)
    readings = {}
    for campaign in campaigns:
        share = estimate = None
        if campaign.status == Campaign.Status.RUNNING and campaign_in_window(campaign, now):
            share = facts.share(campaign)
            estimate = facts.estimate(campaign, progress[campaign.pk])
        readings[campaign.pk] = CampaignReading(
            campaign=campaign,
            progress=progress[campaign.pk],
            explained=campaign_status_explained(campaign, progress=progress[campaign.pk], now=now, facts=facts),
            share=share,
            estimate=estimate,
            retrying=facts.retrying.get(campaign.pk) if campaign.status == Campaign.Status.RUNNING else None,
            now=now,
        )
    return readings


def campaign_reading(campaign: Campaign, *, now: datetime.datetime | None = None) -> CampaignReading:
    return campaign_readings([campaign], now=now)[campaign.pk]
