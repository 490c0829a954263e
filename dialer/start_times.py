"""Rows with their own start time, kept inside the campaign's calling window.

Every start-time sent to the provider falls inside the window and its days: a row whose own time is
outside it is moved to the window's next opening, or (the manager's choice at launch) skipped by
planning with the reason. The review counts them before launch; the campaign's page lists the calls
the provider holds for later.
"""

import datetime
from collections import Counter
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db.models import Count, Max
from django.utils import timezone

from campaigns.clock import zone_label
from campaigns.importing.numbers import parse_start_time
from campaigns.models import Campaign, Contact, ContactList
from campaigns.windows import Window
from dialer import tallies
from dialer.models import Call
from dialer.recent_calls import batches_recount

OUTSIDE_WINDOW_REASON = "start time outside the calling window"
ACCEPTED = (Call.State.PLACED, Call.State.ACCEPTED_UNKNOWN)
UPDATE_CHUNK = 5_000


def default_start(campaign: Campaign) -> datetime.datetime | None:
    """The start of a row without its own: the list's common start (from the file's name), else the
    campaign's."""
    return campaign.contact_list.common_start_at or campaign.start_at


def call_start_time(
    campaign: Campaign, own: datetime.datetime | None, *, window: Window | None = None, now: datetime.datetime
) -> datetime.datetime:
    """The start-time a call is sent with: its own (or the default), never past, inside the window."""
    start = max(own or default_start(campaign) or now, now)
    return (window or Window.of(campaign)).start_inside(start)


@dataclass(frozen=True)
class StartTimes:
    """A list's rows with their own start time, against one window."""

    own: int  # rows with a start time of their own
    outside: int  # of those, the rows whose time is outside the window

    def in_words(self) -> str:
        if not self.own:
            return ""
        rows = f"{self.own:,} row{'s' if self.own != 1 else ''} {'have' if self.own != 1 else 'has'}"
        return (
            f"{rows} their own start time; {self.outside:,} fall{'s' if self.outside == 1 else ''} outside the window"
        )


def contact_list_start_times(*, contact_list: ContactList, window: Window) -> StartTimes:
    """Counted by distinct start time: a file's rows share a handful of times."""
    own = outside = 0
    rows = (
        Contact.objects.filter(contact_list=contact_list, start_at__isnull=False)
        .values_list("start_at")
        .annotate(n=Count("id"))
        .order_by()
    )
    for start_at, n in rows.iterator():
        own += n
        if not window.contains(start_at):
            outside += n
    return StartTimes(own, outside)


def preview_start_times(preview: dict, *, window: Window) -> str:
    """For the preview of a file: "3 of the first 10 rows have their own start time; 1 falls outside
    09:00-21:00 IST, the default calling window (the launch review asks what to do with those)"."""
    if preview.get("error") or "starttime" not in preview.get("columns", []):
        return ""
    index = preview["columns"].index("starttime")
    zone = ZoneInfo(window.zone)
    times = [parse_start_time(row[index], zone) for row in preview["rows"] if index < len(row) and row[index]]
    times = [when for when in times if when is not None]
    if not times:
        return ""
    rows, outside = len(preview["rows"]), sum(1 for when in times if not window.contains(when))
    end = f"{window.end:%H:%M}" if window.end else "24:00"
    return (
        f"{len(times)} of the first {rows} row{'s' if rows != 1 else ''} "
        f"{'have' if len(times) != 1 else 'has'} their own start time; {outside} fall"
        f"{'s' if outside == 1 else ''} outside {window.start:%H:%M}–{end} {zone_label(window.zone)}, the default "
        "calling window. The launch review asks whether to move those to the window's next opening or skip them."
    )


def campaign_note_last_start(campaign: Campaign) -> None:
    """Planning's note, once planned, of the latest start the provider may hold for this campaign
    (its rows' and the default start), moved inside the window."""
    latest = Contact.objects.filter(contact_list_id=campaign.contact_list_id).aggregate(latest=Max("start_at"))[
        "latest"
    ]
    candidates = [when for when in (latest, default_start(campaign)) if when]
    if not candidates:
        return
    last = Window.of(campaign).start_inside(max(candidates))
    if last != campaign.last_start_at:
        Campaign.objects.filter(pk=campaign.pk).update(last_start_at=last)
        campaign.last_start_at = last


def calls_skip_outside_window(*, campaign: Campaign, after_contact_id: int, first_sequence: int = 1) -> int:
    """Planning's follow-up when the manager chose to skip them: the slice's pending calls whose row
    starts outside the window become skipped with the reason and leave their batch."""
    if campaign.outside_window != Campaign.OutsideWindow.SKIP:
        return 0
    window = Window.of(campaign)
    calls = (
        Call.objects.filter(
            campaign=campaign,
            state=Call.State.PENDING,
            contact_id__gt=after_contact_id,
            contact__start_at__isnull=False,
        )
        .values_list("pk", "contact__start_at")
        .order_by()
    )
    outside = [pk for pk, start_at in calls.iterator() if not window.contains(start_at)]
    now, skipped = timezone.now(), 0
    for index in range(0, len(outside), UPDATE_CHUNK):
        skipped += Call.objects.filter(pk__in=outside[index : index + UPDATE_CHUNK], state=Call.State.PENDING).update(
            state=Call.State.SKIPPED, batch=None, provider_message=OUTSIDE_WINDOW_REASON, updated_at=now
        )
    if skipped:
        tallies.calls_moved(campaign_id=campaign.pk, moves={(Call.State.PENDING, Call.State.SKIPPED): skipped})
        batches_recount(campaign, first_sequence)
    return skipped


def scheduled_later(
    campaign: Campaign, *, now: datetime.datetime | None = None, limit: int = 10
) -> list[tuple[datetime.datetime, int]]:
    """The calls the provider accepted to make later: (start-time, calls), soonest first. Read only
    while planning noted a start still ahead (Campaign.last_start_at), so most pages ask nothing."""
    now = now or timezone.now()
    if campaign.last_start_at is None or campaign.last_start_at <= now:
        return []
    window, later = Window.of(campaign), Counter()
    rows = (
        Call.objects.filter(campaign=campaign, state__in=ACCEPTED)
        .values_list("contact__start_at")
        .annotate(n=Count("id"))
        .order_by()
    )
    for own, n in rows:
        start = window.start_inside(own or default_start(campaign) or now)
        if start > now:
            later[start] += n
    return sorted(later.items())[:limit]
