"""Writing the provider's answer back: the batch's outcome, each call's phonon-uuid or reason, retries.

What each code means for a batch is decided in one place, phonon.codes; this applies it.
"""

import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from campaigns.models import Campaign
from core.backoff import backoff_seconds as retry_backoff_seconds
from dialer import campaign_states, settling, tallies
from dialer.claims import claimed
from dialer.models import Batch, BatchAttempt, Call
from dialer.splitting import batch_split, why_not_split
from phonon import client
from phonon.codes import Handling, ResponseCode, describe, handling_of

S = Batch.Status
NOT_PLACED_MISSING = "Not placed: missing from the provider's answer."
ACCEPTED_MISSING = (
    "Accepted: the provider answered 200 (every call accepted) but left this call out of its answer, "
    "so its UUID is unknown."
)


def backoff_seconds(attempt: int) -> float:
    """The wait before a batch is sent again (core.backoff, with the dispatch's base and cap)."""
    return retry_backoff_seconds(attempt, base=settings.DISPATCH_BACKOFF_BASE, cap=settings.DISPATCH_BACKOFF_CAP)


def retry_wait_seconds(attempt: int, answer: client.Answer) -> float:
    """The backoff, and never less than the provider's Retry-After."""
    return max(backoff_seconds(attempt), answer.retry_after or 0.0)


def batch_apply_answer(*, batch: Batch, token: str, answer: client.Answer) -> str:
    """Apply the answer in one transaction: the attempt's log, the batch's outcome and its calls'."""
    handling = handling_of(code=answer.code, http_status=answer.http_status)
    message = describe(answer.code, answer.message) if answer.code is not None else answer.message
    with transaction.atomic():
        BatchAttempt.objects.create(
            batch=batch, number=batch.attempts, outcome=answer.outcome, http_status=answer.http_status,
            response_code=answer.code, response_message=answer.message[:2000], duration_ms=answer.duration_ms,
        )
        if handling in (Handling.SUCCESS, Handling.PARTIAL):
            outcome = _record_placed(batch, answer, partial=handling is Handling.PARTIAL, message=message)
        elif handling is Handling.REPEATED:
            outcome = _record_final(batch, S.ACCEPTED_UNKNOWN, Call.State.ACCEPTED_UNKNOWN, answer, message)
        elif handling is Handling.SPLIT and (why := why_not_split(batch=batch, answer=answer)) is None:
            outcome = batch_split(batch=batch, token=token, answer=answer, message=message)
        elif handling is Handling.SPLIT:
            outcome = _record_final(batch, S.REJECTED, Call.State.REJECTED, answer, f"{message} {why}".strip())
        elif handling is Handling.REJECT:
            outcome = _record_final(batch, S.REJECTED, Call.State.REJECTED, answer, message)
        elif handling is Handling.PAUSE:
            outcome = _record_held(batch, token, answer, message)
        else:
            outcome = _record_retry(batch, token, answer, message)

    campaign_id = batch.campaign_id
    if handling is Handling.RETRY:
        breaker_check(campaign_id=campaign_id)
    campaign_settle_after_answer(campaign_id=campaign_id)
    return outcome


def campaign_settle_after_answer(*, campaign_id: int) -> None:
    """After a cancel, settle what came back unfinished; after the last batch, complete the campaign.
    One read in the common case (running, other batches open)."""
    open_batches = Batch.objects.filter(campaign_id=OuterRef("pk")).exclude(status__in=Batch.FINAL_STATUSES)
    status, planned_at, any_open = (
        Campaign.objects.filter(pk=campaign_id)
        .annotate(any_open=Exists(open_batches))
        .values_list("status", "planned_at", "any_open")
        .get()
    )
    if status == Campaign.Status.CANCELLED:
        settling.campaign_settle_cancelled(campaign_id=campaign_id)
    elif status == Campaign.Status.RUNNING and planned_at is not None and not any_open:
        settling.campaign_complete_if_done(campaign_id=campaign_id)


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
    # Inside batch_apply_answer's transaction (no savepoint of its own); atomic when called alone.
    with transaction.atomic(savepoint=False):
        if not _finalise_batch(batch, S.PARTIAL if partial else S.PLACED, answer, message):
            return "already-final"
        placed = calls_mark_placed(batch_id=batch.pk, pairs=pairs, code=answer.code)
        # 209 leaves out the calls it did not place; 200 says every call was accepted, so a call
        # it leaves out was accepted all the same, its UUID unknown (and must never be sent again).
        # When every call of the batch was placed, no call is left pending: no statement needed.
        missing_state, missing = Call.State.PENDING, 0
        if placed < batch.call_count:
            missing_state, missing_message = (
                (Call.State.REJECTED, NOT_PLACED_MISSING) if partial
                else (Call.State.ACCEPTED_UNKNOWN, ACCEPTED_MISSING)
            )
            missing = Call.objects.filter(batch=batch, state=Call.State.PENDING).update(
                state=missing_state, provider_code=answer.code, provider_message=missing_message,
                updated_at=timezone.now(),
            )
        tallies.calls_moved(campaign_id=batch.campaign_id, shard=batch.pk, moves={
            (Call.State.PENDING, Call.State.PLACED): placed, (Call.State.PENDING, missing_state): missing})
    return "partial" if partial else "placed"


def calls_mark_placed(*, batch_id: int, pairs: list[tuple[str, str]], code: int | None) -> int:
    """Write each phonon-uuid onto its call, matched by client-identifier, in one statement.
    Returns how many calls it placed."""
    if not pairs:
        return 0
    table = Call._meta.db_table
    if connection.vendor == "postgresql":
        # Two array parameters instead of 1,000 scalars: the driver binds 500 pairs in microseconds.
        answer = "unnest(%s::text[], %s::text[]) AS answer(cid, puuid)"
        params = [[c for c, _ in pairs], [u for _, u in pairs]]
    else:
        values = ",".join(["(%s, %s)"] * len(pairs))
        answer = f"(SELECT column1 AS cid, column2 AS puuid FROM (VALUES {values})) AS answer"
        params = [value for pair in pairs for value in pair]
    # The statement starts with UPDATE: SQLite's driver counts the rows of no other kind.
    sql = (
        f"UPDATE {table} SET state = %s, phonon_uuid = answer.puuid, provider_code = %s, "
        f"provider_message = '', updated_at = %s "
        f"FROM {answer} WHERE {table}.client_identifier = answer.cid AND {table}.batch_id = %s "
        f"AND {table}.state = %s"
    )
    params = [Call.State.PLACED, code, timezone.now(), *params, batch_id, Call.State.PENDING]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _record_final(batch: Batch, status: str, call_state: str, answer: client.Answer, message: str) -> str:
    with transaction.atomic(savepoint=False):
        if not _finalise_batch(batch, status, answer, message):
            return "already-final"
        moved = Call.objects.filter(batch=batch, state=Call.State.PENDING).update(
            state=call_state, provider_code=answer.code, provider_message=message, updated_at=timezone.now()
        )
        tallies.calls_moved(campaign_id=batch.campaign_id, shard=batch.pk,
                            moves={(Call.State.PENDING, call_state): moved})
    return status


def _record_held(batch: Batch, token: str, answer: client.Answer, message: str) -> str:
    with transaction.atomic(savepoint=False):
        claimed(batch.pk, token).update(
            status=S.HELD, response_code=answer.code, response_message=message, claim_token="", lease_until=None,
            # This answer refused the request outright; only an earlier unanswered send can have
            # delivered it (maybe_delivered was set before every send, this one included).
            maybe_delivered=batch.an_attempt_went_unanswered(),
            updated_at=timezone.now(),
        )
        campaign_states.campaign_pause_by_system(
            campaign_id=batch.campaign_id, reason=f"The provider answered {message}", provider_code=answer.code
        )
    return "held"


def _record_retry(batch: Batch, token: str, answer: client.Answer, message: str) -> str:
    if batch.attempts >= settings.DISPATCH_MAX_ATTEMPTS:
        reason = f"Failed after {batch.attempts} attempts; last: {message}"
        with transaction.atomic(savepoint=False):
            if not claimed(batch.pk, token).update(
                status=S.FAILED, response_code=answer.code, response_message=reason, completed_at=timezone.now(),
                claim_token="", lease_until=None, updated_at=timezone.now(),
            ):
                return "lost-claim"
            skipped = Call.objects.filter(batch=batch, state=Call.State.PENDING).update(
                state=Call.State.SKIPPED, provider_code=answer.code, provider_message=reason,
                updated_at=timezone.now(),
            )
            tallies.calls_moved(campaign_id=batch.campaign_id, shard=batch.pk,
                                moves={(Call.State.PENDING, Call.State.SKIPPED): skipped})
        return "failed"
    # An answer (a 500 in the body, an HTTP 429) says the request was not taken; silence or a
    # broken connection leaves it open whether it was.
    definite = answer.outcome == "answered" or answer.http_status == 429
    status = S.RETRY_WAIT if definite or not answer.maybe_delivered else S.UNCERTAIN
    updated = claimed(batch.pk, token).update(
        status=status, response_code=answer.code, response_message=message, claim_token="", lease_until=None,
        next_attempt_at=timezone.now() + datetime.timedelta(seconds=retry_wait_seconds(batch.attempts, answer)),
        updated_at=timezone.now(),
    )
    return status if updated else "lost-claim"


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
    return campaign_states.campaign_pause_by_system(
        campaign_id=campaign_id,
        reason=f"Paused automatically: {failures} of the last {len(recent)} requests to the provider failed. "
        "Check the provider's status, then resume.",
    )
