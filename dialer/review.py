"""The launch review: what a launch will do, computed before anything is created.

Every way a campaign starts shows (or applies) the same review: the pages, `launch_campaign`,
auto-launch from intake and the API.
"""

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from campaigns.clock import clock_in_utc, starts_words, zone_label, zoned_time
from campaigns.models import Campaign, ContactList
from campaigns.redial_rules import NO_REDIALS, RedialRules
from campaigns.windows import WEEKDAY_NAMES, Window, parse_window
from dialer.recent_calls import DEFAULT_LOOK_BACK_DAYS, CalledSummary, contact_list_called_summary
from dialer.redials.review import RedialReview, redial_review, redial_review_lines
from dialer.sharing import Share, limit_share
from dialer.skip_forecast import Skip, contact_list_skips
from dialer.start_times import StartTimes, contact_list_start_times
from dialer.throughput import Estimate, finish_estimate

INDIAN_PREFIX = "91"  # numbers are stored with their country code


@dataclass
class Confirmation:
    """Something the manager must tick before the launch goes ahead (name, sentence)."""

    name: str
    label: str


@dataclass
class LaunchReview:
    contact_list: ContactList
    contacts: int
    called: CalledSummary  # the list's contacts called recently, whether or not they are skipped
    look_back_days: int
    skip_called: bool
    skips: list[Skip]  # what planning will skip, one line per reason, as planning will write it
    start_times: StartTimes
    outside_window: str
    start_at: datetime.datetime | None
    zone: str
    window: str
    window_days: list[int]
    share: Share
    confirmations: list[Confirmation] = field(default_factory=list)
    now: datetime.datetime = field(default_factory=timezone.now)
    redial_rules: RedialRules = NO_REDIALS
    batch_size: int = 0  # calls a request (0: PHONON_BATCH_SIZE)

    @property
    def redials(self) -> RedialReview:
        """What the redial rules add (dialer.redials.review)."""
        return redial_review(rules=self.redial_rules, to_call=self.to_call, account=self.flow.account)

    @property
    def flow(self):
        return self.contact_list.flow

    @property
    def skipped(self) -> int:
        return sum(skip.count for skip in self.skips)

    @property
    def to_call(self) -> int:
        """What will be sent: every contact but those planning will skip."""
        return self.contacts - self.skipped

    @property
    def per_minute(self) -> int:
        return self.share.calls_per_minute

    @property
    def estimate(self) -> Estimate:
        return finish_estimate(calls_left=self.to_call, allowed_per_minute=self.per_minute,
                               measured=None, now=self.first_send_at)

    @property
    def calling_window(self) -> Window:
        return Window.parse(self.window, days=self.window_days, zone=self.zone)

    @property
    def first_send_at(self) -> datetime.datetime:
        start = max(self.start_at or self.now, self.now)
        return self.calling_window.start_inside(start)

    @property
    def waits_for_window(self) -> bool:
        return self.first_send_at > max(self.start_at or self.now, self.now)

    @property
    def start_text(self) -> str:
        if self.waits_for_window:
            text = f"Waiting for the window: starts {starts_words(self.first_send_at, self.zone, now=self.now)}"
            if self.start_at and self.start_at > self.now:
                text += f"; the start asked for is {zoned_time(self.start_at, self.zone, utc=True)}"
            return text
        if self.start_at is None or self.start_at <= self.now:
            return "At once, inside the calling window"
        return zoned_time(self.start_at, self.zone, utc=True)

    @property
    def window_text(self) -> str:
        start, end = parse_window(self.window)
        if start == datetime.time(0) and end is None:
            return "Around the clock"
        day = (self.start_at or self.now).astimezone(datetime.UTC).date()
        end_text = f"{end:%H:%M}" if end else "24:00"
        utc_start = clock_in_utc(start, self.zone, on=day)
        utc_end = clock_in_utc(end or datetime.time(0), self.zone, on=day)
        text = f"{start:%H:%M}–{end_text} {zone_label(self.zone)} ({utc_start:%H:%M}–{utc_end:%H:%M} UTC)"
        if self.calling_window.crosses_midnight:
            text += f": {self.calling_window.hours_in_words()}"
        return text

    @property
    def days_text(self) -> str:
        days = sorted(self.window_days)
        if days == list(range(7)):
            return "Every day"
        return ", ".join(WEEKDAY_NAMES[day] for day in days)

    @property
    def window_open_now(self) -> bool:
        return self.calling_window.contains(self.now)

    @property
    def duration_text(self) -> str:
        if not self.to_call:
            return "Nothing to send"
        return self.estimate.left_words.removesuffix(" left") if self.per_minute else "unknown"

    @property
    def rate_text(self) -> str:
        rate = f"allowed up to {self.per_minute:,} calls a minute"
        if not self.share.sharing_with and not self.share.others_elsewhere:
            return f"{rate}, the account's limit"
        names = [f"“{name}”" for _, name, _ in self.share.sharing_with]
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        names = ", ".join(names[:3]) + more if names else "campaigns of other accounts"
        return f"{rate}, its share ({self.share.fraction_in_words}) while {names} also send"

    @property
    def share_note(self) -> str:
        """Said when the shares cannot hold within each window of the limit, and why (sharing.Share)."""
        return self.share.turns_in_words(self.batch_size or settings.PHONON_BATCH_SIZE)

    @property
    def start_times_text(self) -> str:
        return self.start_times.in_words()


def launch_confirmations(*, contact_list: ContactList, start_at: datetime.datetime | None, window: str = "",
                         timezone_name: str = "") -> list[Confirmation]:
    """What the manager must tick before this launch goes ahead: a flow whose listener the provider
    has not activated yet may take the calls and connect none of them; a window that crosses
    midnight (21:30-21:00 is 23 h 30 min, not 30 minutes); hours outside 09:00-21:00 for a list of
    Indian numbers, where calling hours are regulated (unless the account turned that warning off)."""
    confirmations = []
    warning = contact_list.flow.listener_warning
    if warning:
        confirmations.append(Confirmation(
            name="listener",
            label=f"{warning} Launch anyway: I know calls may not connect until the provider activates the listener.",
        ))
    if not window:
        return confirmations
    hours = Window.parse(window, zone=timezone_name or settings.PHONON_TIMEZONE)
    if hours.crosses_midnight:
        confirmations.append(Confirmation(
            name="overnight",
            label=f"The calling window runs {hours.hours_in_words()}: it crosses midnight. "
                  "Yes: I mean calls to go out overnight.",
        ))
    if (contact_list.flow.account.warn_outside_indian_hours and hours.outside_indian_hours()
            and contact_list.contacts.filter(primary_number__startswith=INDIAN_PREFIX).exists()):
        confirmations.append(Confirmation(
            name="indian_hours",
            label=f"Calls to Indian numbers may go out only from 09:00 to 21:00 Indian time; this window runs "
                  f"{hours.hours_in_words()} ({zone_label(hours.zone)}). Call in these hours: I have checked that "
                  "they are allowed for these numbers.",
        ))
    return confirmations


def launch_review(
    *, contact_list: ContactList, start_at: datetime.datetime | None = None, window: str = "09:00-21:00",
    window_days: list[int] | None = None, timezone_name: str = "", look_back_days: int = DEFAULT_LOOK_BACK_DAYS,
    skip_called: bool = True, priority: str = Campaign.Priority.NORMAL,
    outside_window: str = Campaign.OutsideWindow.MOVE, now: datetime.datetime | None = None,
    redial_rules: RedialRules | None = None, batch_size: int | None = None,
) -> LaunchReview:
    """Who, on which flow, when, how long, and who will be skipped and why: nothing is written."""
    now = now or timezone.now()
    zone = timezone_name or settings.PHONON_TIMEZONE
    days = list(window_days if window_days is not None else range(7))
    calling_window = Window.parse(window, days=days, zone=zone)
    skip_outside = calling_window if outside_window == Campaign.OutsideWindow.SKIP else None
    return LaunchReview(
        contact_list=contact_list,
        contacts=contact_list.contacts.count(),
        called=contact_list_called_summary(contact_list=contact_list, days=look_back_days, now=now),
        look_back_days=look_back_days,
        skip_called=skip_called,
        skips=contact_list_skips(contact_list=contact_list, skip_called_days=look_back_days if skip_called else None,
                                 now=now, zone=zone, skip_outside=skip_outside),
        start_times=contact_list_start_times(contact_list=contact_list, window=calling_window),
        outside_window=outside_window,
        start_at=start_at,
        zone=zone,
        window=window,
        window_days=days,
        share=limit_share(flow=contact_list.flow, weight=Campaign.PRIORITY_WEIGHTS[priority or "normal"]),
        confirmations=launch_confirmations(contact_list=contact_list, start_at=start_at, window=window,
                                           timezone_name=zone),
        now=now,
        redial_rules=redial_rules or NO_REDIALS,
        batch_size=batch_size or 0,
    )


def review_lines(review: LaunchReview) -> list[str]:
    """The review as lines of text, for `launch_campaign` (the page renders the same facts)."""
    flow = review.flow
    lines = [
        f"List:      “{review.contact_list.name}”, {review.contacts:,} contact{'s' if review.contacts != 1 else ''}",
        f"Flow:      {flow.flow_id}{' – ' + flow.name if flow.name else ''} ({flow.endpoint} endpoint)",
        f"Starts:    {review.start_text}",
        f"Window:    {review.window_text}, {review.days_text.lower()}",
        f"Duration:  {review.duration_text} at {review.rate_text}",
    ]
    if review.share_note:
        lines.append(f"Shares:    {review.share_note}")
    if review.start_times.own:
        what = "moved to the window's next opening" if review.outside_window == "move" else "skipped"
        lines.append(f"Own start: {review.start_times_text}{f' ({what})' if review.start_times.outside else ''}")
    if review.called.count and not review.skip_called:
        lines.append(f"Already called in the last {review.look_back_days} days: {review.called.count:,}, "
                     "CALLED AGAIN (--include-called)")
    for skip in review.skips:
        lines.append(f"Skipped:   {skip.sentence}")
    for confirmation in review.confirmations:
        if confirmation.name != "listener":  # the command warns about the listener itself
            lines.append(f"Check:     {confirmation.label.split('. ')[0]}.")
    lines.append(f"Will call: {review.to_call:,} contact{'s' if review.to_call != 1 else ''}")
    lines.extend(redial_review_lines(review.redials))
    return lines
