"""Keeping campaigns moving: queue each running campaign's due batches, and find lost work to re-queue."""

import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.windows import campaign_in_window
from dialer import ratelimit, settling
from dialer.models import Batch

S = Batch.Status


def campaign_pump(*, campaign_id: int, now: datetime.datetime | None = None) -> list[int]:
    """Queue the campaign's due batches, keeping at most DISPATCH_INFLIGHT_PER_CAMPAIGN in flight.
    Returns the ids to enqueue (the caller enqueues them after commit)."""
    now = now or timezone.now()
    # The campaign and its batches in flight in one read: the pump runs after every batch sent.
    campaign = (
        Campaign.objects.select_related("flow__account")
        .annotate(queued=_batches_in(S.QUEUED), sending=_batches_in(S.SENDING))
        .filter(pk=campaign_id).first()
    )
    if campaign is None:
        return []
    if campaign.status == Campaign.Status.CANCELLED:
        # A worker hands back what it held when the cancel came (no grant, a lost claim): settled here.
        settling.campaign_settle_cancelled(campaign_id=campaign_id)
    if campaign.status != Campaign.Status.RUNNING or not campaign_in_window(campaign, now):
        campaign_not_asking(campaign)
        return []
    in_flight = campaign.queued + campaign.sending
    if campaign.queued:
        # Batches waiting for a worker: the campaign wants to send even while no worker asks for it.
        campaign_asking(campaign)
    room = settings.DISPATCH_INFLIGHT_PER_CAMPAIGN - in_flight
    if room <= 0:
        return []
    queued = batches_queue_due(campaign_id=campaign_id, room=room, now=now)
    if queued and not campaign.queued:
        campaign_asking(campaign)
    elif not queued and not in_flight:
        # A batch handed back for its share or the pace is due again within a second or so: the
        # campaign keeps its place in the turns (dropped, it would rejoin level with the others and
        # lose the turns it is owed). Done, or every batch waiting for a retry: its turn goes to others.
        if _batch_due_within(campaign_id, now + datetime.timedelta(seconds=settings.PHONON_SHARE_IDLE_SECONDS)):
            campaign_asking(campaign)
        else:
            campaign_not_asking(campaign)
    return queued


def _batch_due_within(campaign_id: int, until: datetime.datetime) -> bool:
    return Batch.objects.filter(
        campaign_id=campaign_id, status__in=Batch.WAITING_STATUSES, next_attempt_at__lte=until
    ).exists()


def _batches_in(status: str):
    """How many of the campaign's batches are in this status (a subquery of the campaign's row)."""
    count = (
        Batch.objects.filter(campaign_id=OuterRef("pk"), status=status)
        .order_by().values("campaign_id").annotate(n=Count("pk")).values("n")
    )
    return Coalesce(Subquery(count), 0)


def batches_queue_due(*, campaign_id: int, room: int, now: datetime.datetime) -> list[int]:
    """Move up to `room` of the campaign's due batches to queued, in one statement, and return their
    ids. Each batch moves only from a waiting status (compare-and-set): of two pumps picking the
    same batch at once, one queues it."""
    due = (
        Batch.objects.filter(campaign_id=campaign_id, status__in=Batch.WAITING_STATUSES)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("next_attempt_at", "sequence")
        .values("pk")[:room]
    )
    due_sql, due_params = due.query.sql_with_params()
    stamp = Batch._meta.get_field("queued_at").get_db_prep_value(now, connection)
    waiting = ", ".join(["%s"] * len(Batch.WAITING_STATUSES))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Batch._meta.db_table} SET status = %s, queued_at = %s, updated_at = %s "
            f"WHERE id IN ({due_sql}) AND status IN ({waiting}) RETURNING id",
            [S.QUEUED, stamp, stamp, *due_params, *Batch.WAITING_STATUSES],
        )
        return sorted(row[0] for row in cursor.fetchall())


def batch_for_turn(*, campaign_id: int, now: datetime.datetime | None = None) -> int | None:
    """A batch of the campaign whose turn it is, for a worker to send now: one already queued (its
    message may wait behind other work), else a due one, queued for it while the campaign has room in
    flight. None: the campaign has nothing to send now."""
    queued = (
        Batch.objects.filter(campaign_id=campaign_id, status=S.QUEUED)
        .order_by("queued_at", "sequence").values_list("pk", flat=True).first()
    )
    if queued is not None:
        return queued
    sending = Batch.objects.filter(campaign_id=campaign_id, status=S.SENDING).count()
    if sending >= settings.DISPATCH_INFLIGHT_PER_CAMPAIGN:
        return None
    due = batches_queue_due(campaign_id=campaign_id, room=1, now=now or timezone.now())
    return due[0] if due else None


def campaign_asking(campaign: Campaign) -> None:
    """Tell the limiter that this campaign wants to send, so that its share of the account's limit
    is kept for it while its batches wait for a worker."""
    ratelimit.campaign_asking(
        endpoint=campaign.flow.endpoint, account_client_id=campaign.flow.account.client_id,
        campaign=str(campaign.pk), weight=campaign.weight, calls=campaign.batch_size,
    )


def campaign_not_asking(campaign: Campaign) -> None:
    ratelimit.campaign_gone(
        endpoint=campaign.flow.endpoint, account_client_id=campaign.flow.account.client_id, campaign=str(campaign.pk)
    )


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
