"""What a campaign gets through, measured: calls the provider accepted, per minute, and the one
finishing estimate built on it (bounded by the campaign's share of the limit).

Only accepted calls count: a request answered 500 and retried charged the limiter, but placed no
call, and a chart or a rate drawn from attempts made a failing provider look busy.
"""

import datetime
from dataclasses import dataclass

from django.db.models import Max, Q, Sum
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


@dataclass(frozen=True)
class Measured:
    per_minute: float  # calls accepted a minute, lately
    last_at: datetime.datetime  # when the latest of them was accepted


def accepted_lately(campaigns, *, now: datetime.datetime, minutes: int = MEASURE_MINUTES) -> dict[int, Measured]:
    """Calls accepted per minute for each campaign, over the last `minutes` minutes (or since it
    started, when that is shorter), and the latest accepted request's time, in one query."""
    since = now - datetime.timedelta(minutes=minutes)
    by_id = {campaign.pk: campaign for campaign in campaigns}
    if not by_id:
        return {}
    rows = (BatchAttempt.objects.filter(accepted_attempts(), batch__campaign_id__in=list(by_id), created_at__gte=since)
            .values_list("batch__campaign_id").annotate(calls=Sum("batch__call_count"), last_at=Max("created_at"))
            .order_by())
    measured = {}
    for campaign_id, calls, last_at in rows:
        started = by_id[campaign_id].started_at or since
        span = max(1.0, min(minutes, (now - max(started, since)).total_seconds() / 60))
        measured[campaign_id] = Measured((calls or 0) / span, last_at)
    return measured


def accepted_per_minute(campaigns, *, now: datetime.datetime, minutes: int = MEASURE_MINUTES) -> dict[int, float]:
    return {pk: m.per_minute for pk, m in accepted_lately(campaigns, now=now, minutes=minutes).items()}


@dataclass(frozen=True)
class Estimate:
    """When a campaign's calls still to send will have left, at one pace."""

    calls_left: int
    per_minute: float  # measured, bounded by the share; the share alone before anything was measured
    measured: bool
    now: datetime.datetime
    # The pace is counted from the latest accepted request, so the estimate stays put between
    # requests instead of sliding with every look at the page.
    since: datetime.datetime | None = None

    @property
    def finish_at(self) -> datetime.datetime | None:
        if not self.per_minute:
            return None
        finish = (self.since or self.now) + datetime.timedelta(minutes=self.calls_left / self.per_minute)
        return max(finish, self.now)

    @property
    def left_words(self) -> str:
        if not self.per_minute:
            return "time left unknown"
        return duration_words((self.finish_at - self.now).total_seconds()) + " left"


def finish_estimate(*, calls_left: int, allowed_per_minute: float, measured: Measured | None,
                    now: datetime.datetime | None = None) -> Estimate:
    """The one finishing estimate: the measured pace, never above what the share allows."""
    now = now or timezone.now()
    if measured and measured.per_minute:
        pace = min(measured.per_minute, allowed_per_minute or measured.per_minute)
        return Estimate(calls_left, pace, True, now, since=min(measured.last_at, now))
    return Estimate(calls_left, allowed_per_minute, False, now)
