"""Calling windows: the daily hours and weekdays in the campaign's zone when calls may go out."""

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# The hours Indian rules allow for commercial calls; a window outside them is warned about.
INDIAN_CALLING_HOURS = (datetime.time(9, 0), datetime.time(21, 0))


def parse_window(text: str) -> tuple[datetime.time, datetime.time | None]:
    """`09:00-21:00` -> (09:00, 21:00); `00:00-24:00` -> (00:00, None), None meaning midnight."""
    try:
        start_text, end_text = (part.strip() for part in text.split("-"))
        start = datetime.time.fromisoformat(start_text)
        end = None if end_text == "24:00" else datetime.time.fromisoformat(end_text)
    except ValueError as error:
        raise ValueError(f"A calling window is written HH:MM-HH:MM, e.g. 09:00-21:00; got {text!r}.") from error
    if end is not None and end == start:
        raise ValueError("A calling window must not start and end at the same time.")
    return start, end


@dataclass(frozen=True)
class Window:
    """The hours (in `zone`) and weekdays (Monday = 0) when calls may go out; `end` None is midnight.
    A window whose end is before its start crosses midnight: its early hours belong to the day before."""

    start: datetime.time
    end: datetime.time | None
    days: tuple[int, ...]
    zone: str

    @classmethod
    def of(cls, campaign) -> "Window":
        return cls(campaign.window_start, campaign.window_end, tuple(campaign.window_days), campaign.timezone)

    @classmethod
    def parse(cls, text: str, *, days=range(7), zone: str) -> "Window":
        start, end = parse_window(text)
        return cls(start, end, tuple(days), zone)

    @property
    def crosses_midnight(self) -> bool:
        return self.end is not None and self.end < self.start

    @property
    def around_the_clock(self) -> bool:
        return self.start == datetime.time(0) and self.end is None and len(set(self.days)) == 7

    @property
    def minutes(self) -> int:
        """How long the window stays open each day."""
        start = self.start.hour * 60 + self.start.minute
        end = 24 * 60 if self.end is None else self.end.hour * 60 + self.end.minute
        return end - start if end > start else end + 24 * 60 - start

    def contains(self, at: datetime.datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.zone))
        now = local.time()
        if not self.crosses_midnight:
            inside = self.start <= now and (self.end is None or now < self.end)
            return inside and local.weekday() in self.days
        if now >= self.start:
            return local.weekday() in self.days
        if now < self.end:
            return (local.weekday() - 1) % 7 in self.days
        return False

    def next_opening(self, after: datetime.datetime) -> datetime.datetime | None:
        """When the window next opens after `after`: its start time on the next allowed weekday.
        Computed, not searched: the live page asks every second while a campaign waits."""
        zone = ZoneInfo(self.zone)
        local = after.astimezone(zone)
        for offset in range(8):
            day = local.date() + datetime.timedelta(days=offset)
            opening = datetime.datetime.combine(day, self.start, tzinfo=zone)
            if opening > local and day.weekday() in self.days:
                return opening
        return None

    def start_inside(self, when: datetime.datetime) -> datetime.datetime:
        """`when` if the window is open then, else the window's next opening after it."""
        if self.contains(when):
            return when
        return self.next_opening(when) or when

    def outside_indian_hours(self) -> bool:
        """True when some of the window lies before 09:00 or after 21:00."""
        early, late = INDIAN_CALLING_HOURS
        return self.crosses_midnight or self.start < early or self.end is None or self.end > late

    def hours_in_words(self) -> str:
        """`from 21:30 until 21:00 the next day, 23 h 30 min`, or `from 09:00 until 21:00, 12 h`."""
        end = "24:00" if self.end is None else f"{self.end:%H:%M}"
        until = f"{end} the next day" if self.crosses_midnight else end
        hours, minutes = divmod(self.minutes, 60)
        length = f"{hours} h" + (f" {minutes} min" if minutes else "")
        return f"from {self.start:%H:%M} until {until}, {length}"


def is_within_window(
    *, at: datetime.datetime, timezone: str, start: datetime.time, end: datetime.time | None, days: list[int]
) -> bool:
    return Window(start, end, tuple(days), timezone).contains(at)


def campaign_in_window(campaign, at: datetime.datetime) -> bool:
    return Window.of(campaign).contains(at)


def next_window_opening(campaign, after: datetime.datetime) -> datetime.datetime | None:
    """When the campaign's window next opens (for display)."""
    return Window.of(campaign).next_opening(after)
