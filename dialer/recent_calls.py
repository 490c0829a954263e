"""Contacts the account already called recently: counted by the launch review, skipped by planning.

A number counts as called when one of the account's calls to it was accepted by the provider
(placed, or accepted with its UUID unknown) within the look-back, or is still waiting in a
campaign that is scheduled, running or paused (it is about to be called).
"""

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from campaigns.models import Campaign, Contact, ContactList
from dialer import tallies
from dialer.models import Batch, Call

# A call that may have been placed (cancelled after an unanswered send) counts as called: it may have rung.
ACCEPTED = (Call.State.PLACED, Call.State.ACCEPTED_UNKNOWN, Call.State.MAYBE_PLACED)
ACTIVE = (Campaign.Status.SCHEDULED, Campaign.Status.RUNNING, Campaign.Status.PAUSED)
DEFAULT_LOOK_BACK_DAYS = 7


@dataclass(frozen=True)
class EarlierCalls:
    """The calls of one earlier campaign on one day (or still waiting, when `day` is None)."""

    campaign_id: int
    campaign_name: str
    day: datetime.date | None

    @property
    def reason(self) -> str:
        if self.day is None:
            return f"Also waiting to be called in “{self.campaign_name}”."
        return f"Called on {self.day.day} {self.day:%b %Y} in “{self.campaign_name}”."


def _earlier_calls(*, account_id: int, since: datetime.datetime, exclude_campaign_id=None) -> Q:
    condition = Q(campaign__flow__account_id=account_id) & (
        Q(state__in=ACCEPTED, updated_at__gte=since) | Q(state=Call.State.PENDING, campaign__status__in=ACTIVE)
    )
    return condition & ~Q(campaign_id=exclude_campaign_id) if exclude_campaign_id else condition


def earlier_call_groups(*, account_id: int, since: datetime.datetime, zone: str,
                        exclude_campaign_id=None) -> list[EarlierCalls]:
    """The earlier campaigns and days to skip for, newest first (a call takes the newest reason)."""
    calls = Call.objects.filter(
        _earlier_calls(account_id=account_id, since=since, exclude_campaign_id=exclude_campaign_id)
    ).filter(Q(campaign__finished_at__isnull=True) | Q(campaign__finished_at__gte=since))
    accepted = (
        calls.filter(state__in=ACCEPTED)
        .annotate(day=TruncDate("updated_at", tzinfo=ZoneInfo(zone)))
        .values_list("campaign_id", "campaign__name", "day")
        .distinct()
        .order_by("-day", "-campaign_id")
    )
    waiting = (
        calls.filter(state=Call.State.PENDING).values_list("campaign_id", "campaign__name").distinct().order_by()
    )
    groups = [EarlierCalls(campaign_id, name, None) for campaign_id, name in waiting]
    return groups + [EarlierCalls(campaign_id, name, day) for campaign_id, name, day in accepted]


def numbers_of(group: EarlierCalls, *, since: datetime.datetime, zone: str):
    calls = Call.objects.filter(campaign_id=group.campaign_id)
    if group.day is None:
        calls = calls.filter(state=Call.State.PENDING)
    else:
        start = datetime.datetime.combine(group.day, datetime.time(), tzinfo=ZoneInfo(zone))
        calls = calls.filter(
            state__in=ACCEPTED, updated_at__gte=max(start, since), updated_at__lt=start + datetime.timedelta(days=1)
        )
    return calls.values("contact__primary_number")


def recently_called_numbers(*, account_id: int, since: datetime.datetime, exclude_campaign_id=None):
    """A subquery of the primary numbers the account called (or is about to call) since `since`."""
    return Call.objects.filter(
        _earlier_calls(account_id=account_id, since=since, exclude_campaign_id=exclude_campaign_id)
    ).values("contact__primary_number")


@dataclass
class CalledSummary:
    count: int
    campaigns: list[tuple[str, int]]  # (campaign name, contacts of this list it called), most first


def contact_list_called_summary(*, contact_list: ContactList, days: int, now=None) -> CalledSummary:
    """How many of the list's contacts the account called within `days` days, and in which campaigns."""
    since = (now or timezone.now()) - datetime.timedelta(days=days)
    account_id = contact_list.flow.account_id
    contacts = Contact.objects.filter(contact_list=contact_list)
    count = contacts.filter(
        primary_number__in=recently_called_numbers(account_id=account_id, since=since)
    ).count()
    if not count:
        return CalledSummary(0, [])
    by_campaign = (
        Call.objects.filter(_earlier_calls(account_id=account_id, since=since))
        .filter(contact__primary_number__in=contacts.values("primary_number"))
        .values_list("campaign__name")
        .annotate(n=Count("contact__primary_number", distinct=True))
        .order_by("-n")[:5]
    )
    return CalledSummary(count, list(by_campaign))


def calls_skip_recently_called(*, campaign: Campaign, after_contact_id: int, first_sequence: int = 1) -> int:
    """Planning's follow-up, in its transaction: the slice's pending calls to numbers called within
    the campaign's look-back become skipped with the reason, leave their batch, and the slice's
    batches (sequence from `first_sequence`) left empty are removed (a batch's request carries every
    call in it). Earlier slices' batches are left alone: they may be on their way to the provider."""
    if campaign.skip_called_days is None:
        return 0
    now = timezone.now()
    since = now - datetime.timedelta(days=campaign.skip_called_days)
    skipped = 0
    for group in earlier_call_groups(
        account_id=campaign.flow.account_id, since=since, zone=campaign.timezone, exclude_campaign_id=campaign.pk
    ):
        skipped += Call.objects.filter(
            campaign=campaign, state=Call.State.PENDING, contact_id__gt=after_contact_id,
            contact__primary_number__in=numbers_of(group, since=since, zone=campaign.timezone),
        ).update(state=Call.State.SKIPPED, batch=None, provider_message=group.reason, updated_at=now)
    if skipped:
        tallies.calls_moved(campaign_id=campaign.pk, moves={(Call.State.PENDING, Call.State.SKIPPED): skipped})
        batches_recount(campaign, first_sequence)
    return skipped


def batches_recount(campaign: Campaign, first_sequence: int) -> None:
    planned = Batch.objects.filter(
        campaign=campaign, status=Batch.Status.PLANNED, sequence__gte=first_sequence
    ).annotate(n=Count("calls"))
    Batch.objects.filter(pk__in=list(planned.filter(n=0).values_list("pk", flat=True))).delete()
    for batch_id, calls in planned.filter(n__gt=0).exclude(n=F("call_count")).values_list("pk", "n"):
        Batch.objects.filter(pk=batch_id).update(call_count=calls)
