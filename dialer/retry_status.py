"""A provider that keeps failing, in words: "Retrying: the provider answered 500 to the last 6
requests (attempt 3 of 8), next try at 14:05 IST". Read for the status line and "Needs your attention"."""

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Max, Min

from campaigns.clock import zone_label
from dialer.models import Batch, BatchAttempt
from dialer.throughput import ACCEPTED_CODES

# How far back the run of failed requests is counted.
LOOK_BACK_ATTEMPTS = 50


@dataclass(frozen=True)
class Retrying:
    failures: int  # the campaign's latest requests that failed in a row
    answer: str  # "answered 500", "answered HTTP 503", "did not answer in time", "could not be reached"
    attempt: int  # the attempts made so far by its most-tried waiting request
    max_attempts: int
    next_try_at: datetime.datetime | None

    def in_words(self, zone: str) -> str:
        when = ""
        if self.next_try_at:
            when = f", next try at {self.next_try_at.astimezone(ZoneInfo(zone)):%H:%M} {zone_label(zone)}"
        requests = "the last request" if self.failures == 1 else f"the last {self.failures} requests"
        attempt = f"attempt {self.attempt} of {self.max_attempts}"
        return f"Retrying: the provider {self.answer} to {requests} ({attempt}){when}"


def _answer(outcome: str, http_status: int | None, code: int | None) -> str:
    if outcome == BatchAttempt.Outcome.TIMEOUT:
        return "did not answer in time"
    if outcome == BatchAttempt.Outcome.CONNECTION_ERROR:
        return "could not be reached"
    if code is not None and code not in ACCEPTED_CODES and (http_status is None or http_status < 300):
        return f"answered {code}"
    if http_status == 500:
        return "answered 500"
    return f"answered HTTP {http_status}" if http_status else "gave no answer"


def retrying_by_campaign(campaign_ids: list[int]) -> dict[int, Retrying]:
    """The campaigns among these whose requests wait to be retried after the provider's latest answers
    failed: one query for all of them, then one per campaign in trouble."""
    if not campaign_ids:
        return {}
    waiting = (
        Batch.objects.filter(campaign_id__in=campaign_ids, status=Batch.Status.RETRY_WAIT)
        .values_list("campaign_id")
        .annotate(next_at=Min("next_attempt_at"), attempts=Max("attempts"))
        .order_by()
    )
    found = {}
    for campaign_id, next_at, attempts in waiting:
        latest = list(
            BatchAttempt.objects.filter(batch__campaign_id=campaign_id)
            .order_by("-created_at", "-pk")
            .values_list("outcome", "http_status", "response_code")[:LOOK_BACK_ATTEMPTS]
        )
        failures = 0
        for outcome, _, code in latest:
            if outcome == BatchAttempt.Outcome.ANSWERED and code in ACCEPTED_CODES:
                break
            failures += 1
        if failures:
            outcome, http_status, code = latest[0]
            found[campaign_id] = Retrying(
                failures, _answer(outcome, http_status, code), attempts, settings.DISPATCH_MAX_ATTEMPTS, next_at
            )
    return found
