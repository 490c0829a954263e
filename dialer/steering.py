"""What a campaign's transitions do to its batches and calls: resume, cancel, skip, complete.

The allowed transitions themselves are the compare-and-set in campaigns.lifecycle.
"""

import logging

from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from campaigns.audit import Action, actor_words, campaign_audit_record
from campaigns.lifecycle import (
    Status,
    TransitionRefused,
    campaign_event_record,
    campaign_transition,
)
from campaigns.models import Campaign
from dialer import tallies
from dialer.models import Batch, Call
from dialer.redials.waiting import campaign_redials_settled

log = logging.getLogger(__name__)
CANCELLED_BEFORE_SENT = "Campaign cancelled before this call was sent."
CANCELLED_BY_MANAGER = "Cancelled by a manager."
CANCELLED_MAYBE_SENT = (
    "Campaign cancelled after this call's request was sent without a readable answer (a timeout, or a "
    "worker stopped mid-send): the provider may have placed it. It was not sent again."
)


def campaign_resume(*, campaign: Campaign, by=None) -> None:
    """paused -> running. Batches held by a configuration error are given another go; those the
    provider refused outright are rebuilt from the flow's current settings (nothing of them was
    accepted, so new bytes cannot dial anyone twice)."""
    with transaction.atomic():
        if not Campaign.objects.filter(pk=campaign.pk, status=Status.PAUSED).update(
            status=Status.RUNNING, status_reason="", updated_at=timezone.now()
        ):
            campaign.refresh_from_db()
            raise TransitionRefused(f"Only a paused campaign can be resumed; this one is {campaign.status}.")
        campaign_event_record(campaign.pk, "campaign.resumed", status=Status.RUNNING, status_reason="")
        campaign_audit_record(campaign_id=campaign.pk, action=Action.RESUMED, by=by)
        held = Batch.objects.filter(campaign=campaign, status=Batch.Status.HELD)
        held.filter(maybe_delivered=False).update(
            status=Batch.Status.PLANNED, body=None, body_sha256="", frozen_at=None, next_attempt_at=None
        )
        held.update(status=Batch.Status.UNCERTAIN, next_attempt_at=None)


def campaign_cancel(*, campaign: Campaign, reason: str = CANCELLED_BY_MANAGER, by=None) -> None:
    """Cancel now: nothing more is sent. The transition commits alone (the campaign's row and its
    event: no lock a worker or a planner holds can hold it up past their own short statements),
    then what it stopped is settled. Requests already in flight finish on their own: their worker
    re-checks the status before the request leaves, and writes back whatever answer comes."""
    if by is not None and reason == CANCELLED_BY_MANAGER:
        reason = f"Cancelled by a manager ({actor_words(by)})."
    with transaction.atomic():
        if not campaign_transition(
            campaign.pk, Status.CANCELLED, reason=reason, finished_at=timezone.now(), event="campaign.cancelled"
        ):
            campaign.refresh_from_db()
            raise TransitionRefused(f"A {campaign.status} campaign cannot be cancelled.")
        campaign_audit_record(campaign_id=campaign.pk, action=Action.CANCELLED, by=by, detail=reason)
    try:
        campaign_settle_cancelled(campaign_id=campaign.pk)
    except DatabaseError:
        # The cancel itself is committed; the dispatch tick settles what is left (the same function).
        log.warning("campaign %s cancelled; settling its batches is left to the tick", campaign.pk, exc_info=True)


def campaign_settle_cancelled(*, campaign_id: int) -> int:
    """Finish a cancelled campaign's batches that no worker is sending: a batch that never left is
    cancelled with its calls skipped; one whose send may have reached the provider (an answer lost,
    a worker gone mid-send) is cancelled with its calls "may have been placed", never "not sent".
    Safe to run any number of times, at once (the cancel, a worker after its batch, the tick).
    Returns how many calls it settled."""
    now = timezone.now()
    with transaction.atomic():
        loose = Batch.objects.filter(campaign_id=campaign_id).filter(
            Q(status__in=(*Batch.WAITING_STATUSES, Batch.Status.QUEUED, Batch.Status.HELD))
            | Q(status=Batch.Status.SENDING, lease_until__lt=now)
        )
        # Compare-and-set on the status: a worker that claimed a batch meanwhile keeps it.
        loose.filter(maybe_delivered=True).update(
            status=Batch.Status.CANCELLED,
            response_message=CANCELLED_MAYBE_SENT,
            completed_at=now,
            claim_token="",
            lease_until=None,
            updated_at=now,
        )
        loose.update(status=Batch.Status.CANCELLED, completed_at=now, claim_token="", lease_until=None, updated_at=now)
        maybe_sent = Batch.objects.filter(campaign_id=campaign_id, status=Batch.Status.CANCELLED, maybe_delivered=True)
        maybe = _calls_move(
            Call.objects.filter(campaign_id=campaign_id, batch_id__in=maybe_sent.values("pk")),
            campaign_id,
            Call.State.MAYBE_PLACED,
            CANCELLED_MAYBE_SENT,
        )
    return maybe + calls_skip(campaign_id=campaign_id, reason=CANCELLED_BEFORE_SENT)


def calls_skip(*, campaign_id: int, reason: str) -> int:
    """Mark the campaign's pending calls that never left as skipped: those in no batch, or in a
    batch cancelled before any send of it may have reached the provider."""
    never_sent = Batch.objects.filter(campaign_id=campaign_id, status=Batch.Status.CANCELLED, maybe_delivered=False)
    with transaction.atomic():
        return _calls_move(
            Call.objects.filter(campaign_id=campaign_id).filter(
                Q(batch_id__isnull=True) | Q(batch_id__in=never_sent.values("pk"))
            ),
            campaign_id,
            Call.State.SKIPPED,
            reason,
        )


def calls_settle_cancelled_batch(*, batch: Batch, maybe_sent: bool) -> int:
    """The pending calls of one batch a worker just cancelled: skipped if it never left, else
    "may have been placed" (in the caller's transaction)."""
    state, reason = (
        (Call.State.MAYBE_PLACED, CANCELLED_MAYBE_SENT) if maybe_sent else (Call.State.SKIPPED, CANCELLED_BEFORE_SENT)
    )
    return _calls_move(Call.objects.filter(batch=batch), batch.campaign_id, state, reason, shard=batch.pk)


def _calls_move(calls, campaign_id: int, state: str, reason: str, *, shard: int = 0) -> int:
    """Move the pending ones of `calls` to `state` and count them. The state is checked by the
    UPDATE itself, on the rows it changes (`calls` must filter the call table alone, no join): two
    settles at once (the cancel's, a worker's) then move, and count, each call once."""
    moved = calls.filter(state=Call.State.PENDING).update(
        state=state, provider_message=reason, updated_at=timezone.now()
    )
    tallies.calls_moved(campaign_id=campaign_id, shard=shard, moves={(Call.State.PENDING, state): moved})
    return moved


def campaign_complete_if_done(*, campaign_id: int) -> bool:
    """running -> completed once planned and every batch is final."""
    campaign = Campaign.objects.filter(pk=campaign_id).only("status", "planned_at").first()
    if campaign is None or campaign.status != Status.RUNNING or campaign.planned_at is None:
        return False
    if Batch.objects.filter(campaign_id=campaign_id).exclude(status__in=Batch.FINAL_STATUSES).exists():
        return False
    if not campaign_redials_settled(campaign_id=campaign_id):
        return False  # redials wait, or outcomes that may ask for one (dialer.redials)
    # Still planned in the same UPDATE: contacts added to the running campaign meanwhile unset it.
    return campaign_transition(
        campaign_id,
        Status.COMPLETED,
        finished_at=timezone.now(),
        event="campaign.completed",
        when={"planned_at__isnull": False},
    )
