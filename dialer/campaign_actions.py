"""A campaign's actions, one keyword-only service each, called by the pages, the API, intake, the
admin and the management commands: create, launch, pause, resume, cancel, edit (and its redial
rules), duplicate, retry (its failed calls as a new list, its failed batches sent again), priority,
and a list's archive.

Each does the domain work without asking who may (its caller did), and returns a plain result or
raises ActionRefused with a sentence for a person. `actor` is who asked, for the audit trail
(campaigns.audit): the user (a page, the admin), a label in words ("API key “CRM nightly”"), or
None (the system, a script). The allowed transitions are dialer.campaign_states, beside this;
what a cancel does to batches and calls is dialer.settling, which the workers run too.
"""

import datetime
import logging
import secrets
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from campaigns.audit import Action, actor_words, campaign_audit_record
from campaigns.models import Campaign, ContactList
from campaigns.redial_rules import NO_REDIALS, RedialRules, campaign_rules, rules_fields
from campaigns.windows import WEEKDAY_NAMES, parse_window
from dialer import tallies
from dialer.campaign_states import (
    ACTIVE,
    EDITABLE,
    RULES_CHANGEABLE,
    Status,
    campaign_event_record,
    campaign_transition,
)
from dialer.list_copies import contact_list_copied_from_calls
from dialer.models import Batch, Call
from dialer.settling import campaign_settle_cancelled
from dialer.tasks import plan_campaign_task
from phonon.limits import MAX_CALLS_PER_REQUEST

log = logging.getLogger(__name__)
PAUSED_BY_MANAGER = "Paused by a manager."
CANCELLED_BY_MANAGER = "Cancelled by a manager."
MAX_LOOK_BACK_DAYS = 365
RETRY_STATES = (Call.State.REJECTED, Call.State.SKIPPED)


class ActionRefused(Exception):
    """An action on a campaign was refused; `str()` is a sentence for a person. `conflict`: the
    campaign's (or the list's) state refused it, and it may succeed later (the API's 409); else the
    values given did (the API's 422)."""

    def __init__(self, sentence: str, *, conflict: bool = True):
        super().__init__(sentence)
        self.conflict = conflict


# -- create and launch -------------------------------------------------------------------------


def contact_list_check_launchable(*, contact_list: ContactList) -> None:
    """Refuses, in words, a list that cannot be launched."""
    if contact_list.status != ContactList.Status.IMPORTED:
        state = contact_list.get_status_display().lower()
        raise ActionRefused(f"The list “{contact_list.name}” is {state}, not imported.", conflict=False)
    if contact_list.imported_count == 0:
        raise ActionRefused(f"The list “{contact_list.name}” has no contacts to call.", conflict=False)


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
    actor=None,
) -> Campaign:
    """A draft campaign for an imported list (`actor`, a user, is kept as its creator)."""
    contact_list_check_launchable(contact_list=contact_list)
    window_start, window_end = _window(window)
    size = batch_size or settings.PHONON_BATCH_SIZE
    if not 1 <= size <= MAX_CALLS_PER_REQUEST:
        raise _bad(f"A batch holds 1 to {MAX_CALLS_PER_REQUEST} calls (the provider's maximum).")
    if skip_called_days is not None and not 0 <= skip_called_days <= MAX_LOOK_BACK_DAYS:
        raise _bad(f"Look back 0 to {MAX_LOOK_BACK_DAYS} days for contacts already called.")
    priority = priority or Campaign.Priority.NORMAL
    if priority not in Campaign.Priority.values:
        raise _bad(f"A priority is high, normal or low; got {priority!r}.")
    outside_window = outside_window or Campaign.OutsideWindow.MOVE
    if outside_window not in Campaign.OutsideWindow.values:
        raise _bad(f"Rows outside the window are moved or skipped; got {outside_window!r}.")
    days = sorted(set(window_days if window_days is not None else range(7)))
    if not days or not all(0 <= day <= 6 for day in days):
        raise _bad("Choose at least one weekday for the calling window.")
    return Campaign.objects.create(
        name=name or f"{contact_list.name} {timezone.localtime():%Y-%m-%d %H:%M}",
        contact_list=contact_list,
        flow=contact_list.flow,
        api_version=api_version or contact_list.flow.api_version,
        batch_size=size,
        priority=priority,
        token=_new_campaign_token(),
        start_at=start_at,
        timezone=timezone_name or settings.PHONON_TIMEZONE,
        window_start=window_start,
        window_end=window_end,
        window_days=days,
        skip_called_days=skip_called_days,
        outside_window=outside_window,
        **rules_fields(redials or NO_REDIALS),
        key_labels=key_labels,
        created_by=actor if hasattr(actor, "get_username") else None,
    )


def campaign_launch(*, contact_list: ContactList, actor=None, **settings_) -> Campaign:
    """Create and schedule a campaign (`settings_`: campaign_create's), and ask a worker to plan its
    batches once this commits."""
    campaign = campaign_create(contact_list=contact_list, actor=actor, **settings_)
    campaign_schedule(campaign=campaign)
    campaign_audit_record(campaign_id=campaign.pk, action=Action.LAUNCHED, by=actor,
                          detail=f"{contact_list.name} ({contact_list.imported_count:,} contacts)")
    campaign_plan_soon(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


def campaign_schedule(*, campaign: Campaign) -> None:
    """draft -> scheduled; a worker plans a scheduled campaign's batches (dialer.planning)."""
    if not campaign_transition(campaign.pk, Status.SCHEDULED):
        raise ActionRefused(f"Only a draft campaign can be launched; this one is {campaign.status}.")


def campaign_plan_soon(*, campaign_id: int) -> None:
    """Plan the campaign's batches (again) once the caller's transaction commits."""
    transaction.on_commit(lambda: plan_campaign_task.delay(campaign_id))


def campaign_duplicate(*, campaign: Campaign) -> dict:
    """The settings an earlier campaign was launched with, as campaign_launch takes them, to launch
    another list (or its retry) alike. Its name, list and start time are not copied."""
    return {
        "window": _window_text(campaign), "window_days": list(campaign.window_days),
        "timezone_name": campaign.timezone, "batch_size": campaign.batch_size, "api_version": campaign.api_version,
        "priority": campaign.priority, "outside_window": campaign.outside_window,
        "skip_called_days": campaign.skip_called_days, "redials": campaign_rules(campaign),
        "key_labels": campaign.key_labels,
    }


# -- pause, resume, cancel ---------------------------------------------------------------------


def campaign_pause(*, campaign: Campaign, actor=None, reason: str = PAUSED_BY_MANAGER) -> None:
    """running -> paused, by a person (named in the reason, unless one is given, and in the trail)."""
    if actor is not None and reason == PAUSED_BY_MANAGER:
        reason = f"Paused by a manager ({actor_words(actor)})."
    facts = {"provider_code": None}
    with transaction.atomic():
        if not campaign_transition(
            campaign.pk, Status.PAUSED, reason=reason, event="campaign.paused", event_facts=facts
        ):
            campaign.refresh_from_db()
            raise ActionRefused(f"Only a running campaign can be paused; this one is {campaign.status}.")
        campaign_audit_record(campaign_id=campaign.pk, action=Action.PAUSED, by=actor, detail=reason)


def campaign_resume(*, campaign: Campaign, actor=None) -> None:
    """paused -> running. Batches held by a configuration error are given another go; those the
    provider refused outright are rebuilt from the flow's current settings (nothing of them was
    accepted, so new bytes cannot dial anyone twice)."""
    with transaction.atomic():
        if not Campaign.objects.filter(pk=campaign.pk, status=Status.PAUSED).update(
            status=Status.RUNNING, status_reason="", updated_at=timezone.now()
        ):
            campaign.refresh_from_db()
            raise ActionRefused(f"Only a paused campaign can be resumed; this one is {campaign.status}.")
        campaign_event_record(campaign.pk, "campaign.resumed", status=Status.RUNNING, status_reason="")
        campaign_audit_record(campaign_id=campaign.pk, action=Action.RESUMED, by=actor)
        held = Batch.objects.filter(campaign=campaign, status=Batch.Status.HELD)
        held.filter(maybe_delivered=False).update(
            status=Batch.Status.PLANNED, body=None, body_sha256="", frozen_at=None, next_attempt_at=None
        )
        held.update(status=Batch.Status.UNCERTAIN, next_attempt_at=None)


def campaign_cancel(*, campaign: Campaign, actor=None, reason: str = CANCELLED_BY_MANAGER) -> None:
    """Cancel now: nothing more is sent. The transition commits alone (the campaign's row and its
    event: no lock a worker or a planner holds can hold it up past their own short statements),
    then what it stopped is settled. Requests already in flight finish on their own: their worker
    re-checks the status before the request leaves, and writes back whatever answer comes."""
    if actor is not None and reason == CANCELLED_BY_MANAGER:
        reason = f"Cancelled by a manager ({actor_words(actor)})."
    with transaction.atomic():
        if not campaign_transition(
            campaign.pk, Status.CANCELLED, reason=reason, finished_at=timezone.now(), event="campaign.cancelled"
        ):
            campaign.refresh_from_db()
            raise ActionRefused(f"A {campaign.status} campaign cannot be cancelled.")
        campaign_audit_record(campaign_id=campaign.pk, action=Action.CANCELLED, by=actor, detail=reason)
    try:
        campaign_settle_cancelled(campaign_id=campaign.pk)
    except DatabaseError:
        # The cancel itself is committed; the dispatch tick settles what is left (the same function).
        log.warning("campaign %s cancelled; settling its batches is left to the tick", campaign.pk, exc_info=True)


# -- edit, redial rules, priority --------------------------------------------------------------


def campaign_edit(
    *, campaign: Campaign, name: str, start_at: datetime.datetime | None, window: str, window_days: list[int],
    timezone_name: str, actor=None,
) -> Campaign:
    """Change the name, start and calling window of a campaign not sending now. The dispatcher reads
    them afresh on every tick; a request already frozen keeps its bytes (a resend must be identical)."""
    window_start, window_end = _window(window)
    days = sorted(set(window_days))
    if not days:
        raise _bad("Choose at least one weekday for the calling window.")
    # Compare-and-set on the status: a campaign that started meanwhile is not changed under the dialer.
    updated = Campaign.objects.filter(pk=campaign.pk, status__in=EDITABLE).update(
        name=name or campaign.name, start_at=start_at, window_start=window_start, window_end=window_end,
        window_days=days, timezone=timezone_name, updated_at=timezone.now(),
    )
    before = campaign_summary(campaign)
    campaign.refresh_from_db()
    if updated != 1:
        raise ActionRefused(
            f"Only a scheduled or paused campaign can be edited; this one is {campaign.get_status_display().lower()}."
            " Pause it first."
        )
    after = campaign_summary(campaign)
    changed = [f"{label}: {before[label]} → {after[label]}" for label in after if before[label] != after[label]]
    campaign_audit_record(campaign_id=campaign.pk, action=Action.EDITED, by=actor,
                          detail="; ".join(changed) or "nothing changed")
    return campaign


def campaign_summary(campaign: Campaign) -> dict[str, str]:
    """What an edit may change, in words, for the audit trail."""
    end = campaign.window_end.strftime("%H:%M") if campaign.window_end else "24:00"
    start = campaign.start_at.astimezone(ZoneInfo(campaign.timezone)).strftime("%d %b %Y %H:%M") if (
        campaign.start_at) else "at once"
    return {
        "name": campaign.name, "start": start, "zone": campaign.timezone,
        "window": f"{campaign.window_start.strftime('%H:%M')}–{end}",
        "weekdays": ", ".join(WEEKDAY_NAMES[day] for day in sorted(campaign.window_days)),
    }


def campaign_redials_edit(*, campaign: Campaign, rules: RedialRules, key_labels: str | None = None) -> Campaign:
    """Change the redial rules while the campaign is scheduled, running or paused. The planner reads
    them afresh under the campaign's lock each time it runs, so a change applies to every redial not
    yet planned; one already planned is a call like any other (cancel the campaign to stop it).
    Raising max attempts or adding an outcome makes the planner look at every outcome again."""
    # Looked at afresh under rules that redial; kept (it marks that redials were planned) otherwise.
    fresh = {"redials_checked_until": None} if rules.active else {}
    if key_labels is not None:
        fresh["key_labels"] = key_labels
    updated = Campaign.objects.filter(pk=campaign.pk, status__in=RULES_CHANGEABLE).update(
        **rules_fields(rules), **fresh, updated_at=timezone.now()
    )
    campaign.refresh_from_db()
    if updated != 1:
        raise ActionRefused(
            f"A {campaign.get_status_display().lower()} campaign's redial rules can no longer change."
        )
    return campaign


def campaign_set_priority(*, campaign: Campaign, priority: str, actor=None) -> None:
    """Change a campaign's share of the account's limit; the limiter reads it on the next request."""
    if priority not in Campaign.Priority.values:
        raise _bad(f"A priority is high, normal or low; got {priority!r}.")
    if campaign.is_final:
        raise ActionRefused(f"A {campaign.get_status_display().lower()} campaign's priority cannot change.")
    with transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).update(priority=priority, updated_at=timezone.now())
        if priority != campaign.priority:
            campaign_audit_record(campaign_id=campaign.pk, action=Action.PRIORITY, by=actor,
                                  detail=f"{campaign.get_priority_display()} → {Campaign.Priority(priority).label}")
    campaign.priority = priority


# -- retry -------------------------------------------------------------------------------------


def campaign_retry_list(*, campaign: Campaign, actor=None) -> ContactList:
    """A new imported list holding a copy of each contact whose call was rejected or skipped (one
    INSERT ... SELECT), to launch through the review."""
    if not campaign.is_final:
        raise ActionRefused("Retry once the campaign is completed or cancelled; its calls may still go out.")
    count = Call.objects.filter(campaign=campaign, state__in=RETRY_STATES).count()
    if not count:
        raise ActionRefused("No call of this campaign was rejected or skipped: there is nothing to retry.")
    return contact_list_copied_from_calls(
        campaign=campaign, name=f"Retry of {campaign.name}", count=count,
        created_by=actor if hasattr(actor, "get_username") else None,
        calls_where="k.state IN (%s, %s)", params=[*RETRY_STATES],
    )


def campaign_requeue_failed(*, campaign: Campaign) -> int:
    """Give the campaign's failed batches another go (an admin action, after the cause is fixed);
    returns how many. A batch fails once its retries ran out on transient errors (500s, timeouts,
    resets), its calls then marked skipped: it goes back to `planned` with its attempts counted from
    zero and those calls back to `pending`, so the ordinary dispatch sends it again. Its frozen body
    and `maybe_delivered` are kept on purpose: some sends may have reached the provider, and only
    the same bytes may go again (the provider drops an identical resend with code 201)."""
    now = timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status == Campaign.Status.CANCELLED:
            raise ActionRefused("A cancelled campaign's batches cannot be sent again.")
        failed_ids = list(
            Batch.objects.filter(campaign=campaign, status=Batch.Status.FAILED).values_list("pk", flat=True)
        )
        if not failed_ids:
            return 0
        Batch.objects.filter(pk__in=failed_ids, status=Batch.Status.FAILED).update(
            status=Batch.Status.PLANNED, attempts=0, next_attempt_at=None, completed_at=None,
            claim_token="", lease_until=None, queued_at=None, updated_at=now,
        )
        requeued = Call.objects.filter(batch_id__in=failed_ids, state=Call.State.SKIPPED).update(
            state=Call.State.PENDING, provider_code=None, provider_message="", updated_at=now
        )
        tallies.calls_moved(campaign_id=campaign.pk, moves={(Call.State.SKIPPED, Call.State.PENDING): requeued})
        if campaign.status == Campaign.Status.COMPLETED:
            # The state machine has no completed -> running edge, deliberately: nothing else may
            # reopen a finished campaign. Re-queueing is the one case where it has work again, so
            # the status is set directly, and only from `completed` (compare-and-set).
            Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.COMPLETED).update(
                status=Campaign.Status.RUNNING, finished_at=None, updated_at=now,
                status_reason=f"Reopened: {len(failed_ids)} failed batch(es) re-queued by an admin.",
            )
    return len(failed_ids)


# -- a list's archive --------------------------------------------------------------------------


def contact_list_archive(*, contact_list: ContactList) -> None:
    """Hide the list from attention and pickers. Nothing is deleted: its campaigns keep their data."""
    if contact_list.campaigns.filter(status__in=ACTIVE).exists():
        raise ActionRefused("A list with a scheduled, running or paused campaign cannot be archived; "
                            "cancel or finish the campaign first.")
    ContactList.objects.filter(pk=contact_list.pk, archived_at__isnull=True).update(archived_at=timezone.now())


def contact_list_unarchive(*, contact_list: ContactList) -> None:
    ContactList.objects.filter(pk=contact_list.pk).update(archived_at=None)


def _window(window: str):
    try:
        return parse_window(window)
    except ValueError as error:
        raise _bad(str(error)) from error


def _window_text(campaign: Campaign) -> str:
    end = campaign.window_end.strftime("%H:%M") if campaign.window_end else "24:00"
    return f"{campaign.window_start.strftime('%H:%M')}-{end}"


def _bad(sentence: str) -> ActionRefused:
    """A refusal of the values given (not of the campaign's state)."""
    return ActionRefused(sentence, conflict=False)


def _new_campaign_token() -> str:
    # Ten hex characters: 40 bits, uniqueness enforced by the database.
    return secrets.token_hex(8)[:10].upper()
