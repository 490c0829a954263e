"""What a campaign gets through, measured: calls the provider accepted, per minute, and the one
finishing estimate built on it (bounded by the campaign's share of the limit).

Only accepted calls count: a request answered 500 and retried charged the limiter, but placed no
call, and a chart or a rate drawn from attempts made a failing provider look busy.
"""

import datetime
from dataclasses import dataclass

from django.db.models import Q, Sum
from django.utils import timezone

from campaigns.clock import duration_words
from dialer.models import BatchAttempt
from phonon.codes import Handling, ResponseCode

ACCEPTED_CODES = tuple(
    code.value for code in ResponseCode if code.handling in (Handling.SUCCESS, Handling.PARTIAL, Handling.REPEATED)
)
# Measured over the last few minutes, so one slow minute does not swing the estimate.
MEASURE_MINUTES = 3


def accepted_attempts() -> Q:
    """The attempts whose calls the provider accepted (placed, partly placed, or accepted earlier)."""
    return Q(outcome=BatchAttempt.Outcome.ANSWERED, response_code__in=ACCEPTED_CODES)


def accepted_per_minute(campaigns, *, now: datetime.datetime, minutes: int = MEASURE_MINUTES) -> dict[int, float]:
    """Calls accepted per minute for each campaign, over the last `minutes` minutes (or since it
    started, when that is shorter), in one query."""
    since = now - datetime.timedelta(minutes=minutes)
    by_id = {campaign.pk: campaign for campaign in campaigns}
    if not by_id:
        return {}
    rows = (
        BatchAttempt.objects.filter(accepted_attempts(), batch__campaign_id__in=list(by_id), created_at__gte=since)
        .values_list("batch__campaign_id")
        .annotate(calls=Sum("batch__call_count"))
        .order_by()
    )
    rates = {}
    for campaign_id, calls in rows:
        started = by_id[campaign_id].started_at or since
        measured = max(1.0, min(minutes, (now - max(started, since)).total_seconds() / 60))
        rates[campaign_id] = (calls or 0) / measured
    return rates


@dataclass(frozen=True)
class Estimate:
    """When a campaign's calls still to send will have left, at one pace."""

    calls_left: int
    per_minute: float  # measured, bounded by the share; the share alone before anything was measured
    measured: bool
    now: datetime.datetime

    @property
    def finish_at(self) -> datetime.datetime | None:
        if not self.per_minute:
            return None
        return self.now + datetime.timedelta(minutes=self.calls_left / self.per_minute)

    @property
    def left_words(self) -> str:
        if not self.per_minute:
            return "time left unknown"
        return duration_words(self.calls_left / self.per_minute * 60) + " left"


def finish_estimate(
    *,
    calls_left: int,
    allowed_per_minute: float,
    measured_per_minute: float | None,
    now: datetime.datetime | None = None,
) -> Estimate:
    """The one finishing estimate: the measured pace, never above what the share allows."""
    now = now or timezone.now()
    if measured_per_minute:
        return Estimate(calls_left, min(measured_per_minute, allowed_per_minute or measured_per_minute), True, now)
    return Estimate(calls_left, allowed_per_minute, False, now)
