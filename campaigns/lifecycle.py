"""The campaign state machine: launch, pause, resume, cancel, complete.

    draft -> scheduled -> running <-> paused
    running -> completed
    any state but completed/cancelled -> cancelled

Every transition is a compare-and-set on the status column, so two actors (a manager clicking
pause while a worker completes the campaign) can never both win.
"""

import datetime
import secrets

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from campaigns.models import Call, Campaign, ContactList
from campaigns.windows import parse_window
from events.recording import event_record

Status = Campaign.Status

ALLOWED_FROM = {
    Status.SCHEDULED: (Status.DRAFT,),
    Status.RUNNING: (Status.SCHEDULED, Status.PAUSED),
    Status.PAUSED: (Status.RUNNING,),
    Status.COMPLETED: (Status.RUNNING,),
    Status.CANCELLED: (Status.DRAFT, Status.SCHEDULED, Status.RUNNING, Status.PAUSED),
}


class TransitionRefused(Exception):
    """The campaign is not in a state that allows this action; the message says so in words."""


def _transition(campaign_id: int, to: str, *, reason: str = "", event: str = "", event_facts=None, **fields) -> bool:
    now = timezone.now()
    with transaction.atomic():
        updated = Campaign.objects.filter(pk=campaign_id, status__in=ALLOWED_FROM[to]).update(
            status=to, status_reason=reason, updated_at=now, **fields
        )
        if updated == 1 and event:
            _record(campaign_id, event, status=to, status_reason=reason, **(event_facts or {}))
    return updated == 1


def _record(campaign_id: int, event: str, **facts) -> None:
    """The webhooks' outbox row, in the transaction of the transition it reports."""
    account_id = Campaign.objects.filter(pk=campaign_id).values_list("flow__account_id", flat=True).first()
    event_record(account=account_id, type=event, payload={"object": "campaign", "id": campaign_id, **facts})


def new_campaign_token() -> str:
    # Ten base32 characters: 50 bits, unique enforced by the database.
    return secrets.token_hex(8)[:10].upper()


def campaign_create(
    *,
    contact_list: ContactList,
    name: str = "",
    start_at: datetime.datetime | None = None,
    window: str = "09:00-21:00",
    window_days: list[int] | None = None,
    timezone_name: str | None = None,
    batch_size: int | None = None,
    api_version: str | None = None,
    created_by=None,
) -> Campaign:
    """A draft campaign for an imported list. Raises ValueError with a sentence on bad input."""
    if contact_list.status != ContactList.Status.IMPORTED:
        state = contact_list.get_status_display().lower()
        raise ValueError(f"The list “{contact_list.name}” is {state}, not imported.")
    if contact_list.imported_count == 0:
        raise ValueError(f"The list “{contact_list.name}” has no contacts to call.")
    window_start, window_end = parse_window(window)
    size = batch_size or settings.PHONON_BATCH_SIZE
    if not 1 <= size <= 500:
        raise ValueError("A batch holds 1 to 500 calls (the provider's maximum).")
    days = sorted(set(window_days if window_days is not None else range(7)))
    if not days or not all(0 <= day <= 6 for day in days):
        raise ValueError("Choose at least one weekday for the calling window.")
    return Campaign.objects.create(
        name=name or f"{contact_list.name} {timezone.localtime():%Y-%m-%d %H:%M}",
        contact_list=contact_list,
        flow=contact_list.flow,
        api_version=api_version or contact_list.flow.api_version,
        batch_size=size,
        token=new_campaign_token(),
        start_at=start_at,
        timezone=timezone_name or settings.PHONON_TIMEZONE,
        window_start=window_start,
        window_end=window_end,
        window_days=days,
        created_by=created_by,
    )


def campaign_schedule(*, campaign: Campaign) -> None:
    """draft -> scheduled, and ask a worker to plan its batches."""
    from dialer.tasks import plan_campaign_task

    if not _transition(campaign.pk, Status.SCHEDULED):
        raise TransitionRefused(f"Only a draft campaign can be launched; this one is {campaign.status}.")
    transaction.on_commit(lambda: plan_campaign_task.delay(campaign.pk))


def campaign_launch(*, contact_list: ContactList, **options) -> Campaign:
    campaign = campaign_create(contact_list=contact_list, **options)
    campaign_schedule(campaign=campaign)
    campaign.refresh_from_db()
    return campaign


def campaign_start(*, campaign_id: int) -> bool:
    """scheduled -> running, once planned and due (the dispatch tick calls this)."""
    return _transition(campaign_id, Status.RUNNING, started_at=timezone.now(), event="campaign.started")


def campaign_pause(*, campaign: Campaign, reason: str = "Paused by a manager.") -> None:
    facts = {"provider_code": None}
    if not _transition(campaign.pk, Status.PAUSED, reason=reason, event="campaign.paused", event_facts=facts):
        campaign.refresh_from_db()
        raise TransitionRefused(f"Only a running campaign can be paused; this one is {campaign.status}.")


def campaign_pause_by_system(*, campaign_id: int, reason: str, provider_code: int | None = None) -> bool:
    facts = {"provider_code": provider_code}
    return _transition(campaign_id, Status.PAUSED, reason=reason, event="campaign.paused", event_facts=facts)


def campaign_resume(*, campaign: Campaign) -> None:
    """paused -> running. Batches held by a configuration error are given another go; those the
    provider refused outright are rebuilt from the flow's current settings (nothing of them was
    accepted, so new bytes cannot dial anyone twice)."""
    from dialer.models import Batch

    with transaction.atomic():
        if not Campaign.objects.filter(pk=campaign.pk, status=Status.PAUSED).update(
            status=Status.RUNNING, status_reason="", updated_at=timezone.now()
        ):
            campaign.refresh_from_db()
            raise TransitionRefused(f"Only a paused campaign can be resumed; this one is {campaign.status}.")
        _record(campaign.pk, "campaign.resumed", status=Status.RUNNING, status_reason="")
        held = Batch.objects.filter(campaign=campaign, status=Batch.Status.HELD)
        held.filter(maybe_delivered=False).update(
            status=Batch.Status.PLANNED, body=None, body_sha256="", frozen_at=None, next_attempt_at=None
        )
        held.update(status=Batch.Status.UNCERTAIN, next_attempt_at=None)


def campaign_cancel(*, campaign: Campaign, reason: str = "Cancelled by a manager.") -> None:
    """Cancel now: nothing more is sent. Batches being sent this instant finish on their own
    (their worker re-checks the status before the request leaves)."""
    from dialer.models import Batch

    with transaction.atomic():
        if not _transition(
            campaign.pk, Status.CANCELLED, reason=reason, finished_at=timezone.now(), event="campaign.cancelled"
        ):
            campaign.refresh_from_db()
            raise TransitionRefused(f"A {campaign.status} campaign cannot be cancelled.")
        unsent = Batch.objects.filter(campaign=campaign).exclude(
            status__in=(*Batch.FINAL_STATUSES, Batch.Status.SENDING)
        )
        unsent.update(status=Batch.Status.CANCELLED, completed_at=timezone.now())
        calls_skip(campaign_id=campaign.pk, reason="Campaign cancelled before this call was sent.")


def calls_skip(*, campaign_id: int, reason: str) -> int:
    """Mark the campaign's calls that are still pending and not in a batch being sent as skipped."""
    from dialer.models import Batch

    return (
        Call.objects.filter(campaign_id=campaign_id, state=Call.State.PENDING)
        .filter(Q(batch__isnull=True) | ~Q(batch__status=Batch.Status.SENDING))
        .update(state=Call.State.SKIPPED, provider_message=reason, updated_at=timezone.now())
    )


def campaign_complete_if_done(*, campaign_id: int) -> bool:
    """running -> completed once planned and every batch is final."""
    from dialer.models import Batch

    campaign = Campaign.objects.filter(pk=campaign_id).only("status", "planned_at").first()
    if campaign is None or campaign.status != Status.RUNNING or campaign.planned_at is None:
        return False
    if Batch.objects.filter(campaign_id=campaign_id).exclude(status__in=Batch.FINAL_STATUSES).exists():
        return False
    return _transition(campaign_id, Status.COMPLETED, finished_at=timezone.now(), event="campaign.completed")
