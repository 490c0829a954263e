"""Sending one batch: claim it, freeze its body, wait for a rate-limit grant, POST, hand the answer on.

Invariants (DESIGN.md): the body is frozen before the first send and resent byte for byte; one
worker at a time holds a batch (claims); the attempt is recorded before the request leaves.

One commit before the request leaves: the claim, the frozen body and the recorded attempt go in
one transaction, before the grant. A request that then never leaves (no grant, a pause) takes its
record back with the release; a worker that dies first leaves it, which only errs on the safe side.
"""

import hashlib
import logging
import time
from dataclasses import dataclass, replace

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.windows import campaign_in_window
from dialer import eligibility, ratelimit
from dialer.campaign_states import campaign_status
from dialer.claims import LostClaim, attempt_taken_back, batch_claim, batch_release, claimed, lease_until
from dialer.metrics import record_limiter_wait
from dialer.models import Batch
from dialer.payload import body_never_left, build_request_body, flow_url
from dialer.pumping import batch_for_turn, campaign_not_asking
from dialer.settling import CANCELLED_MAYBE_SENT, calls_settle_cancelled_batch
from dialer.writeback import batch_apply_answer
from phonon import client

log = logging.getLogger(__name__)
S = Batch.Status


def attempt_fields() -> dict:
    """Recording an attempt: counted, and the batch possibly delivered, before the request leaves."""
    return {"attempts": F("attempts") + 1, "maybe_delivered": True, "lease_until": lease_until(),
            "updated_at": timezone.now()}


def batch_freeze(*, batch: Batch, token: str, record_attempt: bool = False) -> bytes | None:
    """Build and store the body before a send; once a send may have reached the provider, only
    these bytes are ever sent again. A body that never left (handed back unsent) is built again,
    with the lists and the cap asked again (payload.body_never_left). None: every call of the batch
    went on a do-not-call list (or over the cap) since planning, and the batch ended unsent.
    `record_attempt`: the attempt is recorded by the same statement (see batch_prepare)."""
    also = attempt_fields() if record_attempt else {}
    rebuilt = batch.body is not None
    if rebuilt and not body_never_left(batch):
        return _already_frozen(batch, token, also)
    # Do-not-call holds until the first send: numbers listed since planning leave the batch here.
    if not eligibility.batch_drop_listed_calls(batch=batch, token=token, cap=rebuilt):
        return None
    body = build_request_body(batch)
    digest = hashlib.sha256(body).hexdigest()
    if batch.body is None:
        unchanged = claimed(batch.pk, token).filter(body__isnull=True)
    else:
        unchanged = claimed(batch.pk, token).filter(body_sha256=batch.body_sha256, maybe_delivered=False)
        log.info("batch %s: rebuilding a body frozen %s that never left", batch.pk, batch.frozen_at)
    now = timezone.now()
    frozen = unchanged.update(body=body, body_sha256=digest, frozen_at=now, **{"updated_at": now, **also})
    if not frozen:
        batch.refresh_from_db()
        if batch.body is None:
            raise LostClaim()
        return _already_frozen(batch, token, also)
    batch.body, batch.body_sha256 = body, digest
    return body


# How often a worker retakes a grant that went stale before its request could leave.
def _already_frozen(batch: Batch, token: str, also: dict) -> bytes:
    """The body frozen earlier, with the attempt recorded (when asked) under the claim."""
    if also and not claimed(batch.pk, token).update(**also):
        raise LostClaim()
    return bytes(batch.body)


GRANT_TRIES = 20


@dataclass(frozen=True)
class Prepared:
    batch: Batch  # its `attempts` as recorded for this send
    token: str
    body: bytes
    delivered_before: bool  # maybe_delivered before this attempt was recorded


@dataclass(frozen=True)
class Sent:
    outcome: str  # a word saying what happened (for logs and tests)
    campaign_id: int | None = None  # None: the batch was not ours to look at
    turn_of: str = ""  # handed back for the share: the campaign whose turn it is, as the limiter names it


def batch_prepare(*, batch_id: int) -> Prepared | Sent:
    """Everything before the grant, in one transaction and one commit: claim the batch, load it
    with its campaign, flow and account, freeze its body on the first send, and record the
    attempt. Returns what the send needs, or what happened instead."""
    with transaction.atomic():
        token = batch_claim(batch_id=batch_id)
        if token is None:
            return Sent("not-claimed")
        batch = Batch.objects.select_related("campaign__flow__account", "campaign__contact_list").get(pk=batch_id)
        campaign = batch.campaign
        sent = Sent("", campaign.pk)
        if campaign.status == Campaign.Status.CANCELLED:
            _cancel_batch(batch, token)
            return replace(sent, outcome="cancelled")
        if campaign.status != Campaign.Status.RUNNING or not campaign_in_window(campaign, timezone.now()):
            batch_release(batch_id=batch_id, token=token)
            campaign_not_asking(campaign)
            return replace(sent, outcome="not-running")
        delivered_before = batch.maybe_delivered
        body = batch_freeze(batch=batch, token=token, record_attempt=True)
        if body is None:
            return replace(sent, outcome="all-on-do-not-call-list")
    batch.attempts, batch.maybe_delivered = batch.attempts + 1, True
    return Prepared(batch, token, body, delivered_before)


# How many times a worker turns from a batch whose campaign has had its turn to one of the campaign
# whose turn it is (the limiter names it), in one task.
TURN_HOPS = 3


def batch_dispatch_in_turn(*, batch_id: int) -> list[Sent]:
    """Send the batch; or, if the limiter says that another campaign's turn comes first, hand it back
    and send one of that campaign's batches instead, now. A worker never waits on a campaign that has
    had its turn while another's batch could go, and the campaign whose turn it is is served even
    while its own batches wait behind other work for a worker. Returns what happened to each batch."""
    sent = [batch_dispatch(batch_id=batch_id)]
    for _ in range(TURN_HOPS):
        turn_of = sent[-1].turn_of
        other = batch_for_turn(campaign_id=int(turn_of)) if turn_of.isdigit() else None
        if other is None:
            break
        sent.append(batch_dispatch(batch_id=other))
    return sent


def batch_send(*, batch_id: int) -> str:
    """Send one batch if it is ours to send. Returns a word saying what happened (for logs/tests)."""
    return batch_dispatch(batch_id=batch_id).outcome


def batch_dispatch(*, batch_id: int) -> Sent:
    """Send one batch if it is ours to send: prepare (one commit), take a grant, POST, write back."""
    try:
        prepared = batch_prepare(batch_id=batch_id)
    except LostClaim:
        return Sent("lost-claim")
    if isinstance(prepared, Sent):
        return prepared
    batch, token = prepared.batch, prepared.token
    campaign = batch.campaign
    sent = Sent("", campaign.pk)
    try:
        for tries in range(GRANT_TRIES):
            if tries == GRANT_TRIES - 1:
                batch_release(batch_id=batch_id, token=token, wait_seconds=1,
                              unsent_delivered_before=prepared.delivered_before)
                return replace(sent, outcome="too-slow-after-grant")
            grant, waited, turn_of = _wait_for_grant(prepared)
            if isinstance(grant, str):
                return replace(sent, outcome=grant, turn_of=turn_of)
            # A pause or cancel stops this request: a grant given at once comes a Redis round trip
            # after batch_prepare read the status under the claim; one that waited is checked again.
            if (waited or tries) and (status := campaign_status(campaign.pk)) != Campaign.Status.RUNNING:
                ratelimit.give_back(grant)
                campaign_not_asking(campaign)
                if status == Campaign.Status.CANCELLED:
                    _cancel_batch(batch, token, unsent_delivered_before=prepared.delivered_before)
                    return replace(sent, outcome="cancelled")
                batch_release(batch_id=batch_id, token=token, unsent_delivered_before=prepared.delivered_before)
                return replace(sent, outcome="not-running")
            # The limiter spaces grants, not arrivals: a request held up after its grant (a slow
            # database write, a descheduled process) could land in the provider's next window
            # together with the next grant's. Such a grant is given back and taken anew.
            if grant.age() <= settings.PHONON_RATE_MARGIN / 2:
                break
            ratelimit.give_back(grant)
        answer = client.post(
            flow_url(campaign.flow), prepared.body,
            connect_timeout=settings.PHONON_CONNECT_TIMEOUT, read_timeout=settings.PHONON_READ_TIMEOUT,
        )
    except LostClaim:
        return replace(sent, outcome="lost-claim")
    outcome = batch_apply_answer(batch=batch, token=token, answer=answer)
    log.info(
        "batch sent campaign=%s batch=%s seq=%s calls=%s outcome=%s code=%s",
        campaign.pk, batch.pk, batch.sequence, batch.call_count, outcome, answer.code,
    )
    return replace(sent, outcome=outcome)


def _wait_for_grant(prepared: Prepared) -> tuple[ratelimit.Decision | str, bool, str]:
    """The grant, or a word saying why the batch went back; whether the limiter made it wait; and,
    refused for the share, the campaign whose turn it is."""
    batch, token = prepared.batch, prepared.token
    campaign = batch.campaign
    started, slept = time.monotonic(), []

    def keep_waiting() -> bool:
        slept.append(True)  # acquire() calls this before every sleep
        if campaign_status(campaign.pk) != Campaign.Status.RUNNING:
            return False
        if not claimed(batch.pk, token).update(lease_until=lease_until()):
            raise LostClaim()
        return True

    try:
        decision = ratelimit.acquire(
            endpoint=batch.endpoint, account_client_id=campaign.flow.account.client_id, calls=batch.call_count,
            max_wait=settings.DISPATCH_GRANT_MAX_WAIT, on_wait=keep_waiting,
            campaign=str(campaign.pk), weight=campaign.weight, burst=settings.PHONON_RATE_BURST,
        )
    except ratelimit.LimiterUnavailable as error:
        log.error("rate limiter unavailable, batch %s held back: %s", batch.pk, error)
        batch_release(batch_id=batch.pk, token=token, wait_seconds=5, unsent_delivered_before=prepared.delivered_before)
        return "limiter-unavailable", False, ""
    if slept or not decision.granted:
        record_limiter_wait(batch.endpoint, time.monotonic() - started)
    if not decision.granted and not decision.reason:
        campaign_not_asking(campaign)  # acquire gave up: the campaign stopped running while it waited
        if campaign_status(campaign.pk) == Campaign.Status.CANCELLED:
            _cancel_batch(batch, token, unsent_delivered_before=prepared.delivered_before)
            return "cancelled", True, ""
    if not decision.granted:
        # Hand the batch back rather than hold a worker: other campaigns' work goes on.
        batch_release(batch_id=batch.pk, token=token, wait_seconds=decision.wait_seconds,
                      unsent_delivered_before=prepared.delivered_before)
        if decision.reason == "share":
            return "waiting-for-share", True, decision.turn_of
        return "rate-limited", True, ""
    return decision, bool(slept), ""


def _cancel_batch(batch: Batch, token: str, *, unsent_delivered_before: bool | None = None) -> None:
    """`unsent_delivered_before` (not None): take back the attempt recorded for a request that never left.
    Its calls are skipped if no send of the batch may have reached the provider, else they "may have
    been placed" (settling.calls_settle_cancelled_batch)."""
    undo = {} if unsent_delivered_before is None else attempt_taken_back(unsent_delivered_before)
    maybe_sent = batch.maybe_delivered if unsent_delivered_before is None else unsent_delivered_before
    extra = {"response_message": CANCELLED_MAYBE_SENT} if maybe_sent else {}
    with transaction.atomic():
        if claimed(batch.pk, token).update(status=S.CANCELLED, completed_at=timezone.now(), claim_token="",
                                           lease_until=None, **undo, **extra):
            calls_settle_cancelled_batch(batch=batch, maybe_sent=maybe_sent)
