"""What a campaign's end does to its batches and calls: settle a cancelled one, skip calls, complete.

The allowed transitions themselves are the compare-and-set in dialer.campaign_states. A manager's
cancel (dialer.campaign_actions.campaign_cancel) settles here right after its transition commits;
the workers and the tick settle what it leaves, with the same functions.
"""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from campaigns.models import Campaign
from dialer import tallies
from dialer.campaign_states import Status, campaign_transition
from dialer.models import Batch, Call
from dialer.redials.waiting import campaign_redials_settled

CANCELLED_BEFORE_SENT = "Campaign cancelled before this call was sent."
CANCELLED_MAYBE_SENT = (
    "Campaign cancelled after this call's request was sent without a readable answer (a timeout, or a "
    "worker stopped mid-send): the provider may have placed it. It was not sent again."
)


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
