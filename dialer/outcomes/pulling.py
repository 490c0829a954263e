"""The Pull API reconciler: calls placed PHONON_PULL_AFTER ago with no report are fetched, at most
PHONON_PULL_MAX_UUIDS a request, inside the Pull API's own limit (PHONON_PULL_RATE, in the shared
limiter); a "No Data Available" (213) asks again later with a growing wait; a call with no report
PHONON_PULL_GIVE_UP after it was sent stays unknown with that reason. Off without PHONON_PULL_URL.
What the Pull API returns is stored as reports and applied like pushed ones.
"""

import datetime
import json
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from dialer import ratelimit
from dialer.models import Call, CallOutcome, OutcomeReport
from dialer.outcomes.tallies import GIVEN_UP, Delta
from flows.models import Flow
from phonon import pull
from phonon.limits import Rate

log = logging.getLogger(__name__)

PULL_ENDPOINT = "pull"  # the limiter key kind for the Pull API (phonon:ratelimit:pull:<client id>)
# The wait after a 213 doubles with each empty answer, up to this many times the base.
BACKOFF_STEPS = 4
GIVE_UP_CHUNK = 5000


@dataclass
class PullRun:
    requests: int = 0
    uuids_asked: int = 0
    reports_stored: int = 0
    no_data: int = 0
    given_up: int = 0
    stopped: str = ""  # why the run ended early, in words


def _pending():
    return Q(outcome=CallOutcome.UNKNOWN, outcome_note="") & ~Q(phonon_uuid="")


def _due(now: datetime.datetime) -> Q:
    """Never pulled, or pulled long enough ago for its count of empty answers (backoff)."""
    base = datetime.timedelta(seconds=settings.PHONON_PULL_BACKOFF)
    due = Q(pulled_at__isnull=True)
    for attempts in range(1, BACKOFF_STEPS):
        due |= Q(pull_attempts=attempts, pulled_at__lte=now - base * 2 ** (attempts - 1))
    due |= Q(pull_attempts__gte=BACKOFF_STEPS, pulled_at__lte=now - base * 2 ** (BACKOFF_STEPS - 1))
    return due


def outcomes_pull(*, now: datetime.datetime | None = None, max_requests: int = 50, max_wait: float = 5.0) -> PullRun:
    """One round of the reconciler (beat runs it every PHONON_PULL_SECONDS)."""
    run = PullRun()
    if not settings.PHONON_PULL_URL:
        run.stopped = "The reconciler is off: PHONON_PULL_URL is empty."
        return run
    now = now or timezone.now()
    run.given_up = calls_give_up(now=now)
    after = now - datetime.timedelta(seconds=settings.PHONON_PULL_AFTER)
    size = settings.PHONON_PULL_MAX_UUIDS
    due = (
        Call.objects.filter(_pending(), _due(now), batch__completed_at__lte=after)
        .order_by("pulled_at", "id")
        .values_list("id", "phonon_uuid", "campaign__flow_id")[: size * max_requests]
    )
    by_flow: dict[int, list[tuple[int, str]]] = {}
    for call_id, uuid, flow_id in due:
        by_flow.setdefault(flow_id, []).append((call_id, uuid))
    rate = Rate.parse(settings.PHONON_PULL_RATE)
    for flow in Flow.objects.filter(pk__in=by_flow).select_related("account"):
        calls = by_flow[flow.pk]
        while calls and run.requests < max_requests and not run.stopped:
            chunk, calls = calls[:size], calls[size:]
            answer = _pull_chunk(flow, chunk, rate=rate, max_wait=max_wait, run=run)
            if answer is None:
                break
            if answer.kind == "too_many":
                log.warning("Pull API: %s", answer.words)
                size = max(1, len(chunk) // 2)
                calls = chunk + calls  # asked again, in smaller requests
            elif answer.kind in ("failed", "refused"):
                run.stopped = answer.words
                log.warning("Pull API for flow %s: %s", flow.flow_id, answer.words)
    return run


def _pull_chunk(flow: Flow, chunk: list[tuple[int, str]], *, rate: Rate, max_wait: float, run: PullRun):
    try:
        decision = ratelimit.acquire(
            endpoint=PULL_ENDPOINT, account_client_id=flow.account.client_id, calls=1, rate=rate, max_wait=max_wait
        )
    except ratelimit.LimiterUnavailable as error:
        run.stopped = str(error)
        return None
    if not decision.granted:
        run.stopped = "The Pull API's limit is used up for now; the next round goes on."
        return None
    body = pull.request_body(security_id=flow.security_id, flow_id=flow.flow_id, uuids=[uuid for _, uuid in chunk])
    answer = pull.pull(
        settings.PHONON_PULL_URL,
        body,
        connect_timeout=settings.PHONON_CONNECT_TIMEOUT,
        read_timeout=settings.PHONON_READ_TIMEOUT,
    )
    run.requests += 1
    if answer.kind not in ("data", "no_data"):
        return answer
    run.uuids_asked += len(chunk)
    asked = {uuid for _, uuid in chunk}
    entries = [entry for entry in answer.data if entry.get("phonon-uuid") in asked]
    with transaction.atomic():
        OutcomeReport.objects.bulk_create(
            [
                OutcomeReport(
                    flow_id=flow.pk,
                    source=OutcomeReport.Source.PULL,
                    phonon_uuid=entry["phonon-uuid"][:64],
                    body=json.dumps({"body": entry}),
                )
                for entry in entries
            ]
        )
        found = {entry["phonon-uuid"] for entry in entries}
        empty = [call_id for call_id, uuid in chunk if uuid not in found]
        Call.objects.filter(pk__in=[call_id for call_id, _ in chunk]).update(pulled_at=timezone.now())
        if empty:
            Call.objects.filter(pk__in=empty).update(pull_attempts=F("pull_attempts") + 1)
    run.reports_stored += len(entries)
    run.no_data += len(chunk) - len(entries)
    return answer


def calls_give_up(*, now: datetime.datetime) -> int:
    """Calls sent PHONON_PULL_GIVE_UP ago with still no report: their outcome stays unknown, with
    the reason, and they are no longer pulled. Returns how many."""
    cutoff = now - datetime.timedelta(seconds=settings.PHONON_PULL_GIVE_UP)
    hours = settings.PHONON_PULL_GIVE_UP / 3600
    note = f"No report within {hours:g} h of sending, pushed or pulled: the provider never said."
    total = 0
    while True:
        rows = list(
            Call.objects.filter(_pending(), batch__completed_at__lte=cutoff).values_list("id", "campaign_id")[
                :GIVE_UP_CHUNK
            ]
        )
        if not rows:
            return total
        by_campaign: dict[int, list[int]] = {}
        for call_id, campaign_id in rows:
            by_campaign.setdefault(campaign_id, []).append(call_id)
        with transaction.atomic():
            delta = Delta()
            for campaign_id, ids in by_campaign.items():
                # Conditional: a report applied meanwhile keeps its call out of this.
                moved = Call.objects.filter(_pending(), pk__in=ids).update(outcome_note=note, outcome_at=now)
                delta.outcomes[(campaign_id, GIVEN_UP)][0] += moved
                total += moved
            delta.write()
        if len(rows) < GIVE_UP_CHUNK:
            return total
