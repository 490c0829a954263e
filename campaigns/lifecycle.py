"""The campaign state machine: create, schedule, start, pause, and the allowed transitions.
What a transition does to batches and calls (launch, resume, cancel, complete) is in dialer.steering.

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
from django.utils import timezone

from campaigns.audit import Action, actor_words, campaign_audit_record
from campaigns.models import Campaign, ContactList
from campaigns.redial_rules import NO_REDIALS, RedialRules, rules_fields
from campaigns.windows import parse_window
from events.recording import event_record
from phonon.limits import MAX_CALLS_PER_REQUEST

Status = Campaign.Status
PAUSED_BY_MANAGER = "Paused by a manager."
MAX_LOOK_BACK_DAYS = 365

ALLOWED_FROM = {
    Status.SCHEDULED: (Status.DRAFT,),
    Status.RUNNING: (Status.SCHEDULED, Status.PAUSED),
    Status.PAUSED: (Status.RUNNING,),
    Status.COMPLETED: (Status.RUNNING,),
    Status.CANCELLED: (Status.DRAFT, Status.SCHEDULED, Status.RUNNING, Status.PAUSED),
}


class TransitionRefused(Exception):
    """The campaign is not in a state that allows this action; the message says so in words."""


def campaign_transition(
    campaign_id: int, to: str, *, reason: str = "", event: str = "", event_facts=None, when=None, **fields
) -> bool:
    """Compare-and-set the status; when it wins, the webhooks' event is recorded in the same transaction.
    `when`: further conditions on the row, checked in the same UPDATE (a lookup dict)."""
    now = timezone.now()
    with transaction.atomic():
        updated = Campaign.objects.filter(pk=campaign_id, status__in=ALLOWED_FROM[to], **(when or {})).update(
            status=to, status_reason=reason, updated_at=now, **fields
        )
        if updated == 1 and event:
            campaign_event_record(campaign_id, event, status=to, status_reason=reason, **(event_facts or {}))
    return updated == 1


def campaign_event_record(campaign_id: int, event: str, **facts) -> None:
    """The webhooks' outbox row, in the transaction of the transition it reports."""
    account_id = Campaign.objects.filter(pk=campaign_id).values_list("flow__account_id", flat=True).first()
    event_record(account=account_id, type=event, payload={"object": "campaign", "id": campaign_id, **facts})


def campaign_status(campaign_id: int) -> str:
    """The status as stored now (workers re-read it right before a request leaves)."""
    return Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).get()


def new_campaign_token() -> str:
    # Ten hex characters: 40 bits, uniqueness enforced by the database.
    return secrets.token_hex(8)[:10].upper()


def contact_list_check_launchable(contact_list: ContactList) -> None:
    """Raises ValueError with a sentence when the list cannot be launched."""
    if contact_list.status != ContactList.Status.IMPORTED:
        state = contact_list.get_status_display().lower()
        raise ValueError(f"The list “{contact_list.name}” is {state}, not imported.")
    if contact_list.imported_count == 0:
        raise ValueError(f"The list “{contact_list.name}” has no contacts to call.")


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
    skip_called_days: int | None = None,
    priority: str | None = None,
    outside_window: str | None = None,
    redials: RedialRules | None = None,
    key_labels: str = "",
    created_by=None,
) -> Campaign:
    """A draft campaign for an imported list. Raises ValueError with a sentence on bad input."""
    contact_list_check_launchable(contact_list)
    window_start, window_end = parse_window(window)
    size = batch_size or settings.PHONON_BATCH_SIZE
    if not 1 <= size <= MAX_CALLS_PER_REQUEST:
        raise ValueError(f"A batch holds 1 to {MAX_CALLS_PER_REQUEST} calls (the provider's maximum).")
    if skip_called_days is not None and not 0 <= skip_called_days <= MAX_LOOK_BACK_DAYS:
        raise ValueError(f"Look back 0 to {MAX_LOOK_BACK_DAYS} days for contacts already called.")
    priority = priority or Campaign.Priority.NORMAL
    if priority not in Campaign.Priority.values:
        raise ValueError(f"A priority is high, normal or low; got {priority!r}.")
    outside_window = outside_window or Campaign.OutsideWindow.MOVE
    if outside_window not in Campaign.OutsideWindow.values:
        raise ValueError(f"Rows outside the window are moved or skipped; got {outside_window!r}.")
    days = sorted(set(window_days if window_days is not None else range(7)))
    if not days or not all(0 <= day <= 6 for day in days):
        raise ValueError("Choose at least one weekday for the calling window.")
    return Campaign.objects.create(
        name=name or f"{contact_list.name} {timezone.localtime():%Y-%m-%d %H:%M}",
        contact_list=contact_list,
        flow=contact_list.flow,
        api_version=api_version or contact_list.flow.api_version,
        batch_size=size,
        priority=priority,
        token=new_campaign_token(),
        start_at=start_at,
        timezone=timezone_name or settings.PHONON_TIMEZONE,
        window_start=window_start,
        window_end=window_end,
        window_days=days,
        skip_called_days=skip_called_days,
        outside_window=outside_window,
        **rules_fields(redials or NO_REDIALS),
        key_labels=key_labels,
        created_by=created_by,
    )


def campaign_start(*, campaign_id: int) -> bool:
    """scheduled -> running, once planned and due (the dispatch tick calls this)."""
    return campaign_transition(campaign_id, Status.RUNNING, started_at=timezone.now(), event="campaign.started")


def campaign_pause(*, campaign: Campaign, reason: str = PAUSED_BY_MANAGER, by=None) -> None:
    """running -> paused, by a person (`by`: the user or a label, named in the reason and the trail)."""
    if by is not None and reason == PAUSED_BY_MANAGER:
        reason = f"Paused by a manager ({actor_words(by)})."
    facts = {"provider_code": None}
    with transaction.atomic():
        if not campaign_transition(
            campaign.pk, Status.PAUSED, reason=reason, event="campaign.paused", event_facts=facts
        ):
            campaign.refresh_from_db()
            raise TransitionRefused(f"Only a running campaign can be paused; this one is {campaign.status}.")
        campaign_audit_record(campaign_id=campaign.pk, action=Action.PAUSED, by=by, detail=reason)


def campaign_pause_by_system(*, campaign_id: int, reason: str, provider_code: int | None = None) -> bool:
    facts = {"provider_code": provider_code}
    return campaign_transition(campaign_id, Status.PAUSED, reason=reason, event="campaign.paused", event_facts=facts)


def campaign_schedule(*, campaign: Campaign) -> None:
    """draft -> scheduled. The dialer plans a scheduled campaign's batches (dialer.steering)."""
    if not campaign_transition(campaign.pk, Status.SCHEDULED):
        raise TransitionRefused(f"Only a draft campaign can be launched; this one is {campaign.status}.")


def campaign_set_priority(*, campaign: Campaign, priority: str, by=None) -> None:
    """Change a campaign's share of the account's limit; the limiter reads it on the next request."""
    if priority not in Campaign.Priority.values:
        raise ValueError(f"A priority is high, normal or low; got {priority!r}.")
    if campaign.is_final:
        raise TransitionRefused(f"A {campaign.get_status_display().lower()} campaign's priority cannot change.")
    with transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).update(priority=priority, updated_at=timezone.now())
        if priority != campaign.priority:
            campaign_audit_record(campaign_id=campaign.pk, action=Action.PRIORITY, by=by,
                                  detail=f"{campaign.get_priority_display()} → {Campaign.Priority(priority).label}")
    campaign.priority = priority
