"""What a campaign's transitions do to its batches and calls: resume, cancel, skip, complete.

The allowed transitions themselves are the compare-and-set in campaigns.lifecycle.
"""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

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

CANCELLED_BEFORE_SENT = "Campaign cancelled before this call was sent."


def campaign_resume(*, campaign: Campaign) -> None:
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
        held = Batch.objects.filter(campaign=campaign, status=Batch.Status.HELD)
        held.filter(maybe_delivered=False).update(
            status=Batch.Status.PLANNED, body=None, body_sha256="", frozen_at=None, next_attempt_at=None
        )
        held.update(status=Batch.Status.UNCERTAIN, next_attempt_at=None)


def campaign_cancel(*, campaign: Campaign, reason: str = "Cancelled by a manager.") -> None:
    """Cancel now: nothing more is sent. Batches being sent this instant finish on their own
    (their worker re-checks the status before the request leaves)."""
    with transaction.atomic():
        if not campaign_transition(
            campaign.pk, Status.CANCELLED, reason=reason, finished_at=timezone.now(), event="campaign.cancelled"
        ):
            campaign.refresh_from_db()
            raise TransitionRefused(f"A {campaign.status} campaign cannot be cancelled.")
        unsent = Batch.objects.filter(campaign=campaign).exclude(
            status__in=(*Batch.FINAL_STATUSES, Batch.Status.SENDING)
        )
        unsent.update(status=Batch.Status.CANCELLED, completed_at=timezone.now())
        calls_skip(campaign_id=campaign.pk, reason=CANCELLED_BEFORE_SENT)


def calls_skip(*, campaign_id: int, reason: str) -> int:
    """Mark the campaign's calls that are still pending and not in a batch being sent as skipped."""
    with transaction.atomic():
        skipped = (
            Call.objects.filter(campaign_id=campaign_id, state=Call.State.PENDING)
            .filter(Q(batch__isnull=True) | ~Q(batch__status=Batch.Status.SENDING))
            .update(state=Call.State.SKIPPED, provider_message=reason, updated_at=timezone.now())
        )
        tallies.calls_moved(campaign_id=campaign_id, moves={(Call.State.PENDING, Call.State.SKIPPED): skipped})
    return skipped


def campaign_complete_if_done(*, campaign_id: int) -> bool:
    """running -> completed once planned and every batch is final."""
    campaign = Campaign.objects.filter(pk=campaign_id).only("status", "planned_at").first()
    if campaign is None or campaign.status != Status.RUNNING or campaign.planned_at is None:
        return False
    if Batch.objects.filter(campaign_id=campaign_id).exclude(status__in=Batch.FINAL_STATUSES).exists():
        return False
    if not campaign_redials_settled(campaign_id=campaign_id):
        return False  # redials wait, or outcomes that may ask for one (dialer.redials)
    return campaign_transition(campaign_id, Status.COMPLETED, finished_at=timezone.now(), event="campaign.completed")
