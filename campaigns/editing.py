"""Changing what a manager may change after launch: a campaign's name and schedule, a list's archive flag."""

import datetime
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils import timezone

from campaigns.audit import Action, campaign_audit_record
from campaigns.lifecycle import TransitionRefused
from campaigns.models import Campaign, ContactList
from campaigns.windows import WEEKDAY_NAMES, parse_window

EDITABLE = (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED, Campaign.Status.PAUSED)
ACTIVE = (Campaign.Status.SCHEDULED, Campaign.Status.RUNNING, Campaign.Status.PAUSED)


def campaign_edit(
    *, campaign: Campaign, name: str, start_at: datetime.datetime | None, window: str, window_days: list[int],
    timezone_name: str, by=None,
) -> Campaign:
    """Change the name, start and calling window of a campaign not sending now. The dispatcher reads
    them afresh on every tick; a request already frozen keeps its bytes (a resend must be identical)."""
    window_start, window_end = parse_window(window)
    days = sorted(set(window_days))
    if not days:
        raise ValueError("Choose at least one weekday for the calling window.")
    # Compare-and-set on the status: a campaign that started meanwhile is not changed under the dialer.
    updated = Campaign.objects.filter(pk=campaign.pk, status__in=EDITABLE).update(
        name=name or campaign.name, start_at=start_at, window_start=window_start, window_end=window_end,
        window_days=days, timezone=timezone_name, updated_at=timezone.now(),
    )
    before = campaign_summary(campaign)
    campaign.refresh_from_db()
    if updated != 1:
        raise TransitionRefused(
            f"Only a scheduled or paused campaign can be edited; this one is {campaign.get_status_display().lower()}."
            " Pause it first."
        )
    after = campaign_summary(campaign)
    changed = [f"{label}: {before[label]} → {after[label]}" for label in after if before[label] != after[label]]
    campaign_audit_record(campaign_id=campaign.pk, action=Action.EDITED, by=by,
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


def contact_list_archive(*, contact_list: ContactList) -> None:
    """Hide the list from attention and pickers. Nothing is deleted: its campaigns keep their data."""
    if contact_list.campaigns.filter(status__in=ACTIVE).exists():
        raise TransitionRefused("A list with a scheduled, running or paused campaign cannot be archived; "
                                "cancel or finish the campaign first.")
    ContactList.objects.filter(pk=contact_list.pk, archived_at__isnull=True).update(archived_at=timezone.now())


def contact_list_unarchive(*, contact_list: ContactList) -> None:
    ContactList.objects.filter(pk=contact_list.pk).update(archived_at=None)


def contact_lists_in_use(contact_lists):
    """Lists for attention and pickers: not archived, not a test call's one-number list."""
    return contact_lists.filter(archived_at__isnull=True).exclude(source=ContactList.Source.TEST_CALL)


def campaigns_in_use(campaigns):
    """Campaigns for the main tables: test calls are listed apart."""
    return campaigns.filter(~Q(contact_list__source=ContactList.Source.TEST_CALL))
