"""Times for people: every time with its zone ("10:30 IST (05:00 UTC)"), and the zones a manager may pick."""

import datetime
import functools
import zoneinfo
from pathlib import Path

# Short names where the zone's own abbreviation is the one people use; every other zone is
# written out in full ("14:30 Europe/London"), which is never ambiguous.
SHORT_NAMES = {"Asia/Kolkata": "IST", "UTC": "UTC"}


def zone_label(zone: str) -> str:
    return SHORT_NAMES.get(zone, zone)


def zoned_time(when: datetime.datetime | None, zone: str, *, date: bool = True, utc: bool = False) -> str:
    """`2 Dec 2026, 10:30 IST (05:00 UTC)`; without `date`, only the clock time."""
    if when is None:
        return ""
    local = when.astimezone(zoneinfo.ZoneInfo(zone))
    text = f"{local.day} {local:%b %Y}, {local:%H:%M}" if date else f"{local:%H:%M}"
    text += f" {zone_label(zone)}"
    if utc and zone != "UTC":
        in_utc = when.astimezone(datetime.UTC)
        same_day = in_utc.date() == local.date() or not date
        text += f" ({in_utc:%H:%M} UTC)" if same_day else f" ({in_utc.day} {in_utc:%b}, {in_utc:%H:%M} UTC)"
    return text


def starts_words(when: datetime.datetime, zone: str, *, now: datetime.datetime) -> str:
    """`8 Dec 09:00 IST (in 12 h)`: when something waiting begins, and how soon."""
    local = when.astimezone(zoneinfo.ZoneInfo(zone))
    return f"{local.day} {local:%b} {local:%H:%M} {zone_label(zone)} ({in_words(when - now)})"


def in_words(delta: datetime.timedelta) -> str:
    """`in 12 h`, `in 1 h 20 min`, `in 5 min`, `in 2 days`: a wait, rounded as a person says it."""
    minutes = max(0, round(delta.total_seconds() / 60))
    if minutes < 1:
        return "in under a minute"
    if minutes < 60:
        return f"in {minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours >= 48:
        return f"in {round(minutes / 1440)} days"
    if hours >= 3 or not rest:
        return f"in {round(minutes / 60)} h"
    return f"in {hours} h {rest} min"


def clock_in_utc(clock: datetime.time, zone: str, *, on: datetime.date) -> datetime.time:
    """A wall-clock time of the zone on a given day, as the UTC clock time."""
    local = datetime.datetime.combine(on, clock, tzinfo=zoneinfo.ZoneInfo(zone))
    return local.astimezone(datetime.UTC).time()


def duration_words(seconds: float) -> str:
    """`about 12 minutes`, `about 2 hours 5 minutes`, `less than a minute`."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "less than a minute"
    if minutes < 60:
        return f"about {minutes} minute{'s' if minutes != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    text = f"about {hours} hour{'s' if hours != 1 else ''}"
    return text + (f" {rest} minute{'s' if rest != 1 else ''}" if rest else "")


def elapsed_words(seconds: float) -> str:
    """An exact-enough length of time that happened: `12 minutes`, `1 hour 5 minutes`, `40 seconds`."""
    if seconds < 60:
        whole = max(0, round(seconds))
        return f"{whole} second{'s' if whole != 1 else ''}"
    return duration_words(seconds).removeprefix("about ")


@functools.cache
def zone_names() -> tuple[str, ...]:
    """Every zone a manager may pick: the tz database's zone.tab (one canonical name per region;
    no aliases such as Asia/Calcutta or Asia/Saigon), plus UTC."""
    for folder in zoneinfo.TZPATH:
        table = Path(folder) / "zone.tab"
        if table.is_file():
            names = {
                line.split("\t")[2].strip()
                for line in table.read_text(encoding="utf-8").splitlines()
                if line and not line.startswith("#") and line.count("\t") >= 2
            }
            return tuple(sorted(names | {"UTC"}))
    # No zone.tab (a tz database without its tables): region names only, without the old aliases.
    return tuple(sorted({
        name for name in zoneinfo.available_timezones()
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/", "Brazil/", "Canada/", "Chile/", "Mexico/"))
    } | {"UTC"}))
