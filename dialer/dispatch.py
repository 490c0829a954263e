"""Send batches: claim, freeze, wait for a rate-limit grant, POST, write the outcome back.

The guarantees (DESIGN.md, invariants 1-4):
- A batch is claimed with a compare-and-set on its status, committed before the HTTP call, with a
  lease; a worker that dies loses the batch to the next one when the lease runs out.
- The body is frozen (bytes + SHA-256) before the first send; every later send is those bytes.
- Pause and cancel are re-checked after the grant, right before the request leaves.
- Outcomes follow dialer.codes: success, partial, repeated, pause, reject, retry.
"""

import datetime
import hashlib
import logging
import random
import time
import uuid

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from campaigns import lifecycle
from campaigns.models import Call, Campaign
from campaigns.windows import campaign_in_window
from config.metrics import record_limiter_wait
from dialer import client, ratelimit
from dialer.codes import Handling, ResponseCode, describe
from dialer.models import Batch, BatchAttempt
from dialer.payload import build_request_body

log = logging.getLogger(__name__)
S = Batch.Status


def _lease() -> datetime.datetime:
    return timezone.now() + datetime.timedelta(seconds=settings.DISPATCH_LEASE_SECONDS)


def backoff_seconds(attempt: int) -> float:
    """Capped exponential backoff with full jitter."""
    ceiling = min(settings.DISPATCH_BACKOFF_CAP, settings.DISPATCH_BACKOFF_BASE * (2 ** max(attempt - 1, 0)))
    return random.uniform(ceiling / 2, ceiling)


# --- Claiming ---------------------------------------------------------------------------------


def batch_claim(*, batch_id: int) -> str | None:
    """Take the batch for this worker. Returns the claim token, or None if someone else has it."""
    now = timezone.now()
    token = uuid.uuid4().hex
    claimed = (
        Batch.objects.filter(pk=batch_id)
        .filter(Q(status=S.QUEUED) | Q(status=S.SENDING, lease_until__lt=now))
        .update(status=S.SENDING, claim_token=token, lease_until=_lease(), updated_at=now)
    )
    return token if claimed == 1 else None


def _mine(batch_id: int, token: str):
    return Batch.objects.filter(pk=batch_id, status=S.SENDING, claim_token=token)


def batch_release(*, batch_id: int, token: str, wait_seconds: float = 0.0) -> bool:
    """Hand a claimed batch back unsent, to be queued again after `wait_seconds`."""
    return bool(
        _mine(batch_id, token).update(
            status=S.UNCERTAIN if Batch.objects.filter(pk=batch_id, maybe_delivered=True).exists() else S.PLANNED,
            claim_token="", lease_until=None,
            next_attempt_at=timezone.now() + datetime.timedelta(seconds=wait_seconds) if wait_seconds else None,
            updated_at=timezone.now(),
        )
    )


def batch_freeze(*, batch: Batch, token: str) -> bytes:
    """Build and store the body once; from then on only these bytes are ever sent."""
    if batch.body is not None:
        return bytes(batch.body)
    body = build_request_body(batch)
    digest = hashlib.sha256(body).hexdigest()
    frozen = (
        _mine(batch.pk, token)
        .filter(body__isnull=True)
        .update(body=body, body_sha256=digest, frozen_at=timezone.now(), updated_at=timezone.now())
    )
    if not frozen:
        batch.refresh_from_db()
        if batch.body is None:
            raise LostClaim()
        return bytes(batch.body)
    batch.body, batch.body_sha256 = body, digest
    return body


class LostClaim(Exception):
    """The lease ran out and another worker owns the batch now."""


# --- Sending ----------------------------------------------------------------------------------


# How often a worker retakes a grant that went stale before its request could leave.
GRANT_TRIES = 20


def _campaign_status(campaign_id: int) -> str:
    return Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).get()


def batch_send(*, batch_id: int) -> str:
    """Send one batch if it is ours to send. Returns a word saying what happened (for logs/tests)."""
    token = batch_claim(batch_id=batch_id)
    if token is None:
        return "not-claimed"
    batch = Batch.objects.select_related("campaign__flow__account", "campaign__contact_list").get(pk=batch_id)
    campaign = batch.campaign
    try:
        if campaign.status == Campaign.Status.CANCELLED:
            _cancel_batch(batch, token)
            return "cancelled"
        if campaign.status != Campaign.Status.RUNNING or not campaign_in_window(campaign, timezone.now()):
            batch_release(batch_id=batch_id, token=token)
            return "not-running"
        body = batch_freeze(batch=batch, token=token)
        recorded = False
        for tries in range(GRANT_TRIES):
            if tries == GRANT_TRIES - 1:
                batch_release(batch_id=batch_id, token=token, wait_seconds=1)
                return "too-slow-after-grant"
            grant = _wait_for_grant(batch, token)
            if isinstance(grant, str):
                return grant
            # Re-checked under the claim, after the grant: a pause or cancel stops this request.
            status = _campaign_status(campaign.pk)
            if status != Campaign.Status.RUNNING:
                ratelimit.give_back(grant)
                if status == Campaign.Status.CANCELLED:
                    _cancel_batch(batch, token)
                    return "cancelled"
                batch_release(batch_id=batch_id, token=token)
                return "not-running"
            if not recorded:
                # The attempt is recorded, and the batch marked as possibly delivered, before the send.
                if not _mine(batch_id, token).update(
                    attempts=F("attempts") + 1, maybe_delivered=True, lease_until=_lease(), updated_at=timezone.now()
                ):
                    ratelimit.give_back(grant)
                    raise LostClaim()
                recorded = True
            # The limiter spaces grants, not arrivals: a request held up after its grant (a slow
            # database write, a descheduled process) could land in the provider's next window
            # together with the next grant's. Such a grant is given back and taken anew.
            if grant.age() <= settings.PHONON_RATE_MARGIN / 2:
                break
            ratelimit.give_back(grant)
        answer = client.post(client.flow_url(campaign.flow), body)
    except LostClaim:
        return "lost-claim"
    batch.refresh_from_db(fields=["attempts"])
    outcome = batch_apply_answer(batch=batch, token=token, answer=answer)
    log.info(
        "batch sent campaign=%s batch=%s seq=%s calls=%s outcome=%s code=%s",
        campaign.pk, batch.pk, batch.sequence, batch.call_count, outcome, answer.code,
    )
    return outcome


def _wait_for_grant(batch: Batch, token: str):
    campaign = batch.campaign
    started, slept = time.monotonic(), []

    def keep_waiting() -> bool:
        slept.append(True)  # acquire() calls this after every sleep
        if _campaign_status(campaign.pk) != Campaign.Status.RUNNING:
            return False
        if not _mine(batch.pk, token).update(lease_until=_lease()):
            raise LostClaim()
        return True

    try:
        decision = ratelimit.acquire(
            endpoint=batch.endpoint, account_client_id=campaign.flow.account.client_id, calls=batch.call_count,
            max_wait=settings.DISPATCH_GRANT_MAX_WAIT, on_wait=keep_waiting,
        )
    except ratelimit.LimiterUnavailable as error:
        log.error("rate limiter unavailable, batch %s held back: %s", batch.pk, error)
        batch_release(batch_id=batch.pk, token=token, wait_seconds=5)
        return "limiter-unavailable"
    if slept or not decision.granted:
        record_limiter_wait(batch.endpoint, time.monotonic() - started)
    if not decision.granted:
        # Hand the batch back rather than hold a worker: other campaigns' work goes on.
        batch_release(batch_id=batch.pk, token=token, wait_seconds=decision.wait_seconds)
        return "rate-limited"
    return decision


def _cancel_batch(batch: Batch, token: str) -> None:
    with transaction.atomic():
        if _mine(batch.pk, token).update(status=S.CANCELLED, completed_at=timezone.now(), claim_token=""):
            Call.objects.filter(batch=batch, state=Call.State.PENDING).update(
                state=Call.State.SKIPPED, provider_message="Campaign cancelled before this call was sent.",
                updated_at=timezone.now(),
            )


# --- Outcomes ---------------------------------------------------------------------------------


def batch_apply_answer(*, batch: Batch, token: str, answer: client.Answer) -> str:
    BatchAttempt.objects.create(
        batch=batch, number=batch.attempts, outcome=answer.outcome, http_status=answer.http_status,
        response_code=answer.code, response_message=answer.message[:2000], duration_ms=answer.duration_ms,
    )
    known = ResponseCode.lookup(answer.code) if answer.outcome == "answered" else None
    handling = known.handling if known else Handling.RETRY
    message = describe(answer.code, answer.message) if answer.outcome == "answered" else answer.message

    if handling in (Handling.SUCCESS, Handling.PARTIAL):
        outcome = _record_placed(batch, answer, partial=handling is Handling.PARTIAL, message=message)
    elif handling is Handling.REPEATED:
        outcome = _record_final(batch, S.ACCEPTED_UNKNOWN, Call.State.ACCEPTED_UNKNOWN, answer, message)
    elif handling is Handling.REJECT:
        outcome = _record_final(batch, S.REJECTED, Call.State.REJECTED, answer, message)
    elif handling is Handling.PAUSE:
        outcome = _record_held(batch, token, answer, message)
    else:
        outcome = _record_retry(batch, token, answer, message)

    campaign_id = batch.campaign_id
    if handling is Handling.RETRY:
        breaker_check(campaign_id=campaign_id)
    if _campaign_status(campaign_id) == Campaign.Status.CANCELLED:
        _settle_cancelled(campaign_id)
    lifecycle.campaign_complete_if_done(campaign_id=campaign_id)
    return outcome


def _finalise_batch(batch: Batch, status: str, answer: client.Answer, message: str) -> bool:
    # A late answer still counts if no one has finished the batch in the meantime (its bytes are
    # the same, so whichever answer comes first is the truth about them).
    return bool(
        Batch.objects.filter(pk=batch.pk)
        .exclude(status__in=Batch.FINAL_STATUSES)
        .update(
            status=status, request_id=answer.request_id or F("request_id"), response_code=answer.code,
            response_message=message, completed_at=timezone.now(), claim_token="", lease_until=None,
            updated_at=timezone.now(),
        )
    )


def _record_placed(batch: Batch, answer: client.Answer, *, partial: bool, message: str) -> str:
    pairs = [
        (str(item.get("client-identifier", "")), str(item.get("phonon-uuid", "")))
        for item in answer.call_details
        if isinstance(item, dict) and item.get("phonon-uuid")
    ]
    with transaction.atomic():
        if not _finalise_batch(batch, S.PARTIAL if partial else S.PLACED, answer, message):
            return "already-final"
        calls_mark_placed(batch_id=batch.pk, pairs=pairs, code=answer.code)
        missing = Call.objects.filter(batch=batch, state=Call.State.PENDING).update(
            state=Call.State.REJECTED, provider_code=answer.code,
            provider_message="Not placed: missing from the provider's answer.", updated_at=timezone.now(),
        )
        if missing and not partial:
            Batch.objects.filter(pk=batch.pk).update(status=S.PARTIAL)
    return "partial" if partial or missing else "placed"


def calls_mark_placed(*, batch_id: int, pairs: list[tuple[str, str]], code: int | None) -> int:
    """Write each phonon-uuid onto its call, matched by client-identifier, in one statement."""
    if not pairs:
        return 0
    table = Call._meta.db_table
    values = ",".join(["(%s, %s)"] * len(pairs))
    sql = (
        f"WITH answer(cid, puuid) AS (VALUES {values}) "
        f"UPDATE {table} SET state = %s, phonon_uuid = answer.puuid, provider_code = %s, "
        f"provider_message = '', updated_at = %s "
        f"FROM answer WHERE {table}.client_identifier = answer.cid AND {table}.batch_id = %s "
        f"AND {table}.state = %s"
    )
    params = [value for pair in pairs for value in pair]
    params += [Call.State.PLACED, code, timezone.now(), batch_id, Call.State.PENDING]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _record_final(batch: Batch, status: str, call_state: str, answer: client.Answer, message: str) -> str:
    with transaction.atomic():
        if not _finalise_batch(batch, status, answer, message):
            return "already-final"
        Call.objects.filter(batch=batch, state=Call.State.PENDING).update(
            state=call_state, provider_code=answer.code, provider_message=message, updated_at=timezone.now()
        )
    return status


def _record_held(batch: Batch, token: str, answer: client.Answer, message: str) -> str:
    with transaction.atomic():
        _mine(batch.pk, token).update(
            status=S.HELD, response_code=answer.code, response_message=message, claim_token="", lease_until=None,
            # This answer refused the request outright; only an earlier unanswered send can have
            # delivered it (maybe_delivered was set before every send, this one included).
            maybe_delivered=_an_attempt_went_unanswered(batch),
            updated_at=timezone.now(),
        )
        lifecycle.campaign_pause_by_system(
            campaign_id=batch.campaign_id, reason=f"The provider answered {message}", provider_code=answer.code
        )
    return "held"


def _an_attempt_went_unanswered(batch: Batch) -> bool:
    return batch.attempt_log.exclude(outcome=BatchAttempt.Outcome.ANSWERED).exists()


def _record_retry(batch: Batch, token: str, answer: client.Answer, message: str) -> str:
    if batch.attempts >= settings.DISPATCH_MAX_ATTEMPTS:
        reason = f"Failed after {batch.attempts} attempts; last: {message}"
        with transaction.atomic():
            if not _mine(batch.pk, token).update(
                status=S.FAILED, response_code=answer.code, response_message=reason, completed_at=timezone.now(),
                claim_token="", lease_until=None, updated_at=timezone.now(),
            ):
                return "lost-claim"
            Call.objects.filter(batch=batch, state=Call.State.PENDING).update(
                state=Call.State.SKIPPED, provider_code=answer.code, provider_message=reason,
                updated_at=timezone.now(),
            )
        return "failed"
    # An answer (a 500 in the body, an HTTP 429) says the request was not taken; silence or a
    # broken connection leaves it open whether it was.
    definite = answer.outcome == "answered" or answer.http_status == 429
    status = S.RETRY_WAIT if definite or not answer.maybe_delivered else S.UNCERTAIN
    updated = _mine(batch.pk, token).update(
        status=status, response_code=answer.code, response_message=message, claim_token="", lease_until=None,
        next_attempt_at=timezone.now() + datetime.timedelta(seconds=backoff_seconds(batch.attempts)),
        updated_at=timezone.now(),
    )
    return status if updated else "lost-claim"


def _settle_cancelled(campaign_id: int) -> None:
    """After a cancel, batches that came back unfinished from a send are cancelled too."""
    Batch.objects.filter(campaign_id=campaign_id, status__in=Batch.WAITING_STATUSES + (S.HELD,)).update(
        status=S.CANCELLED, completed_at=timezone.now()
    )
    lifecycle.calls_skip(campaign_id=campaign_id, reason="Campaign cancelled before this call was sent.")


def breaker_check(*, campaign_id: int) -> bool:
    """Pause the campaign if most of its recent requests failed (circuit breaker)."""
    recent = list(
        BatchAttempt.objects.filter(batch__campaign_id=campaign_id)
        .order_by("-id")
        .values_list("outcome", "response_code")[: settings.BREAKER_WINDOW]
    )
    if len(recent) < settings.BREAKER_WINDOW:
        return False
    failures = sum(
        1 for outcome, code in recent
        if outcome != "answered" or (ResponseCode.lookup(code) or ResponseCode.FAILURE).handling is Handling.RETRY
    )
    if failures / len(recent) < settings.BREAKER_FAILURE_RATIO:
        return False
    return lifecycle.campaign_pause_by_system(
        campaign_id=campaign_id,
        reason=f"Paused automatically: {failures} of the last {len(recent)} requests to the provider failed. "
        "Check the provider's status, then resume.",
    )


# --- Pumping and sweeping ---------------------------------------------------------------------


def campaign_pump(*, campaign_id: int, now: datetime.datetime | None = None) -> list[int]:
    """Queue the campaign's due batches, keeping at most DISPATCH_INFLIGHT_PER_CAMPAIGN in flight.
    Returns the ids to enqueue (the caller enqueues them after commit)."""
    now = now or timezone.now()
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or campaign.status != Campaign.Status.RUNNING or not campaign_in_window(campaign, now):
        return []
    in_flight = Batch.objects.filter(campaign_id=campaign_id, status__in=(S.QUEUED, S.SENDING)).count()
    room = settings.DISPATCH_INFLIGHT_PER_CAMPAIGN - in_flight
    if room <= 0:
        return []
    due = list(
        Batch.objects.filter(campaign_id=campaign_id, status__in=Batch.WAITING_STATUSES)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("next_attempt_at", "sequence")
        .values_list("pk", flat=True)[:room]
    )
    queued = []
    for batch_id in due:
        if Batch.objects.filter(pk=batch_id, status__in=Batch.WAITING_STATUSES).update(
            status=S.QUEUED, queued_at=now, updated_at=now
        ):
            queued.append(batch_id)
    return queued


def stale_batches(*, now: datetime.datetime | None = None) -> list[int]:
    """Queued batches whose message seems lost, and sending batches whose worker died."""
    now = now or timezone.now()
    requeue_before = now - datetime.timedelta(seconds=settings.DISPATCH_REQUEUE_AFTER)
    stale = list(
        Batch.objects.filter(
            Q(status=S.QUEUED, queued_at__lt=requeue_before) | Q(status=S.SENDING, lease_until__lt=now)
        ).values_list("pk", flat=True)[:500]
    )
    Batch.objects.filter(pk__in=stale, status=S.QUEUED).update(queued_at=now)
    return stale
