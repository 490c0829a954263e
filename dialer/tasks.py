"""Celery tasks: thin wrappers that take ids and call one function each. All safe to run twice."""

import datetime
import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign
from dialer import campaign_states, dispatch, planning, pumping, settling
from dialer.models import Batch
from dialer.redials.planning import running_campaigns_plan_redials

log = logging.getLogger(__name__)

# A campaign is planned while scheduled, running or paused; a planner that has not finished a slice
# for this long is taken for lost (a slice commits in seconds) and another is started.
PLANNED_WHILE = (Campaign.Status.SCHEDULED, Campaign.Status.RUNNING, Campaign.Status.PAUSED)
PLANNER_LOST_AFTER = 30


def enqueue_batches(batch_ids: list[int]) -> None:
    for batch_id in batch_ids:
        transaction.on_commit(lambda batch_id=batch_id: send_batch_task.delay(batch_id))


@shared_task(ignore_result=True)
def plan_campaign_task(campaign_id: int, slice_size: int = planning.FIRST_SLICE) -> None:
    # Slices that re-queue themselves, growing; the campaign starts after the first one.
    done = planning.campaign_plan(campaign_id=campaign_id, slice_size=slice_size)
    if done is None:
        return  # another planner of this campaign is at it
    if not done:
        plan_campaign_task.delay(campaign_id, planning.next_slice_size(slice_size))
    _start_if_due(campaign_id)
    if done:
        # Its last batches may have finished before the last slice was planned.
        settling.campaign_complete_if_done(campaign_id=campaign_id)


def _start_if_due(campaign_id: int) -> None:
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or campaign.status != Campaign.Status.SCHEDULED:
        return
    if campaign.planned_at is None and not Batch.objects.filter(campaign_id=campaign_id).exists():
        return  # nothing planned to send yet
    if campaign.start_at and campaign.start_at > timezone.now():
        return  # the tick starts it when due: a stored due time, never a Celery ETA
    if campaign_states.campaign_start(campaign_id=campaign_id):
        enqueue_batches(pumping.campaign_pump(campaign_id=campaign_id))


@shared_task(ignore_result=True, acks_late=True)
def send_batch_task(batch_id: int) -> str:
    # The batch, or, when the limiter says so, another campaign's whose turn it is (dispatch).
    sent = dispatch.batch_dispatch_in_turn(batch_id=batch_id)
    first = sent[0].campaign_id or Batch.objects.filter(pk=batch_id).values_list("campaign_id", flat=True).first()
    for campaign_id in dict.fromkeys([first, *(each.campaign_id for each in sent[1:])]):
        if campaign_id is not None:
            # Keep the campaign's pipeline full without waiting for the next tick.
            enqueue_batches(pumping.campaign_pump(campaign_id=campaign_id))
    return ", ".join(each.outcome for each in sent)


def cancelled_with_open_batches() -> list[int]:
    """Cancelled campaigns a worker left something open in (handed back, or gone mid-send)."""
    return list(
        Batch.objects.filter(status__in=Batch.OPEN_STATUSES, campaign__status=Campaign.Status.CANCELLED)
        .values_list("campaign_id", flat=True)
        .distinct()
        .order_by()
    )


@shared_task(ignore_result=True)
def dispatch_tick_task() -> None:
    """Run by beat every few seconds: start due campaigns, pump running ones, re-queue lost work,
    complete finished campaigns, settle cancelled ones, and plan campaigns whose planner was lost."""
    now = timezone.now()
    lost_after = now - datetime.timedelta(seconds=PLANNER_LOST_AFTER)
    for campaign_id in Campaign.objects.filter(
        status__in=PLANNED_WHILE, planned_at__isnull=True, updated_at__lt=lost_after
    ).values_list("pk", flat=True):
        # Touched, so that the next ticks leave the new planner alone while it works.
        if Campaign.objects.filter(pk=campaign_id, updated_at__lt=lost_after).update(updated_at=now):
            plan_campaign_task.delay(campaign_id)
    for campaign_id in Campaign.objects.filter(status=Campaign.Status.SCHEDULED).values_list("pk", flat=True):
        _start_if_due(campaign_id)
    running_campaigns_plan_redials(now=now)  # before the pump below, which queues their batches
    for campaign_id in Campaign.objects.filter(status=Campaign.Status.RUNNING).values_list("pk", flat=True):
        settling.campaign_complete_if_done(campaign_id=campaign_id)
        enqueue_batches(pumping.campaign_pump(campaign_id=campaign_id, now=now))
    for campaign_id in cancelled_with_open_batches():
        settling.campaign_settle_cancelled(campaign_id=campaign_id)
    for batch_id in pumping.stale_batches(now=now):
        send_batch_task.delay(batch_id)
