"""The launch review: what a launch will do, computed before anything is created.

Every way a campaign starts shows (or applies) the same review: the pages, `launch_campaign`,
auto-launch from intake and the API.
"""

import datetime
import math
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from campaigns.clock import clock_in_utc, duration_words, zone_label, zoned_time
from campaigns.models import ContactList
from campaigns.redial_rules import NO_REDIALS, RedialRules
from campaigns.windows import WEEKDAY_NAMES, is_within_window, parse_window
from dialer.recent_calls import DEFAULT_LOOK_BACK_DAYS, CalledSummary, contact_list_called_summary
from dialer.redials.review import RedialReview, redial_review, redial_review_lines
from dialer.status import limit_share


@dataclass
class Confirmation:
    """Something the manager must tick before the launch goes ahead (name, sentence)."""

    name: str
    label: str


@dataclass
class LaunchReview:
    contact_list: ContactList
    contacts: int
    called: CalledSummary
    look_back_days: int
    skip_called: bool
    start_at: datetime.datetime | None
    zone: str
    window: str
    window_days: list[int]
    per_minute: float
    sharing_with: list[str]
    confirmations: list[Confirmation] = field(default_factory=list)
    now: datetime.datetime = field(default_factory=timezone.now)
    redial_rules: RedialRules = NO_REDIALS

    @property
    def redials(self) -> RedialReview:
        """What the redial rules add (dialer.redials.review)."""
        return redial_review(rules=self.redial_rules, to_call=self.to_call, account=self.flow.account)

    @property
    def flow(self):
        return self.contact_list.flow

    @property
    def skipped(self) -> int:
        return self.called.count if self.skip_called else 0

    @property
    def to_call(self) -> int:
        return self.contacts - self.skipped

    @property
    def start_text(self) -> str:
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
        return f"{start:%H:%M}–{end_text} {zone_label(self.zone)} ({utc_start:%H:%M}–{utc_end:%H:%M} UTC)"

    @property
    def days_text(self) -> str:
        days = sorted(self.window_days)
        if days == list(range(7)):
            return "Every day"
        return ", ".join(WEEKDAY_NAMES[day] for day in days)

    @property
    def window_open_now(self) -> bool:
        start, end = parse_window(self.window)
        return is_within_window(at=self.now, timezone=self.zone, start=start, end=end, days=self.window_days)

    @property
    def duration_text(self) -> str:
        if not self.to_call:
            return "Nothing to send"
        return duration_words(self.to_call / self.per_minute * 60) if self.per_minute else "unknown"

    @property
    def rate_text(self) -> str:
        rate = f"{math.floor(self.per_minute):,} calls a minute"
        if not self.sharing_with:
            return f"{rate}, the account's limit"
        names = ", ".join(f"“{name}”" for name in self.sharing_with[:3])
        more = f" and {len(self.sharing_with) - 3} more" if len(self.sharing_with) > 3 else ""
        return f"{rate}, the account's share of the limit while {names}{more} also send"


def launch_confirmations(*, contact_list: ContactList, start_at: datetime.datetime | None) -> list[Confirmation]:
    """What the manager must tick before this launch goes ahead: a flow whose listener the provider
    has not activated yet may take the calls and connect none of them."""
    confirmations = []
    warning = contact_list.flow.listener_warning
    if warning:
        confirmations.append(Confirmation(
            name="listener",
            label=f"{warning} Launch anyway: I know calls may not connect until the provider activates the listener.",
        ))
    return confirmations


def launch_review(
    *, contact_list: ContactList, start_at: datetime.datetime | None = None, window: str = "09:00-21:00",
    window_days: list[int] | None = None, timezone_name: str = "", look_back_days: int = DEFAULT_LOOK_BACK_DAYS,
    skip_called: bool = True, now: datetime.datetime | None = None, redial_rules: RedialRules | None = None,
) -> LaunchReview:
    """Who, on which flow, when, how long, and who was already called: nothing is written."""
    now = now or timezone.now()
    share = limit_share(account_id=contact_list.flow.account_id, endpoint=contact_list.flow.endpoint)
    return LaunchReview(
        contact_list=contact_list,
        contacts=contact_list.contacts.count(),
        called=contact_list_called_summary(contact_list=contact_list, days=look_back_days, now=now),
        look_back_days=look_back_days,
        skip_called=skip_called,
        start_at=start_at,
        zone=timezone_name or settings.PHONON_TIMEZONE,
        window=window,
        window_days=list(window_days if window_days is not None else range(7)),
        per_minute=share.per_minute_each(extra=1),
        sharing_with=[campaign.name for campaign in share.campaigns],
        confirmations=launch_confirmations(contact_list=contact_list, start_at=start_at),
        now=now,
        redial_rules=redial_rules or NO_REDIALS,
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
    if review.called.count:
        action = "skipped" if review.skip_called else "CALLED AGAIN (--include-called)"
        lines.append(
            f"Already called in the last {review.look_back_days} days: {review.called.count:,}, {action}"
        )
    lines.append(f"Will call: {review.to_call:,} contact{'s' if review.to_call != 1 else ''}")
    lines.extend(redial_review_lines(review.redials))
    return lines
