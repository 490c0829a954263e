"""Celery tasks for outcomes: thin wrappers, safe to run twice (a report is applied once)."""

import time

import redis
from celery import shared_task
from django.conf import settings
from django.db import transaction

from dialer.outcomes import applying, events, pulling, sandbox_link

# One apply task queued at a time from the receiver (the rest find their reports already applied).
SCHEDULED_KEY = "phonon:outcomes:apply-scheduled"
# Longest one task drains before it hands over to a fresh one (a slice, never one giant task).
DRAIN_SECONDS = 20.0


def _redis():
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


_client = None
_scheduled_at = 0.0
SCHEDULE_EVERY = 0.5


def apply_soon() -> None:
    """After a report is stored: make sure a worker applies it within a moment, with one task for
    a burst of reports rather than one task each. Beat's sweep covers a lost message."""
    global _client, _scheduled_at
    # A task queued from this process a moment ago drains this report too (or the sweep does):
    # no round trip to Redis for each of a burst of reports.
    if time.monotonic() - _scheduled_at < SCHEDULE_EVERY:
        return
    _scheduled_at = time.monotonic()
    try:
        _client = _client or _redis()
        if not _client.set(SCHEDULED_KEY, "1", nx=True, px=int(SCHEDULE_EVERY * 1000)):
            return
    except redis.RedisError:
        return  # the sweep applies it
    transaction.on_commit(lambda: apply_reports_task.apply_async(countdown=0.2))


@shared_task(ignore_result=True, acks_late=True)
def apply_reports_task() -> int:
    """Apply stored reports, a batch a transaction, until none are left or the slice is over.
    Beat runs it too (OUTCOME_SWEEP_SECONDS): a report whose task was lost is applied then."""
    sandbox_link.report_urls_register()
    deadline = time.monotonic() + DRAIN_SECONDS
    total = 0
    while True:
        applied = applying.reports_apply(limit=settings.OUTCOME_APPLY_BATCH)
        done = applied.reports + applied.unmatched + applied.refused + applied.malformed
        total += done
        if done == 0:
            return total
        if time.monotonic() > deadline:
            apply_reports_task.delay()
            return total


@shared_task(ignore_result=True)
def pull_outcomes_task() -> dict:
    """Beat: one round of the Pull API reconciler; what it fetched is applied at once."""
    run = pulling.outcomes_pull()
    if run.reports_stored:
        apply_soon()
    return run.__dict__


@shared_task(ignore_result=True)
def outcome_events_task() -> int:
    """Beat, every OUTCOME_EVENT_SECONDS: one `calls.outcomes` event per campaign with changes."""
    return events.outcome_events_record()
