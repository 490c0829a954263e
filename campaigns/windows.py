"""Calling windows: the daily hours and weekdays in the campaign's zone when calls may go out."""

import datetime
from zoneinfo import ZoneInfo

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


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


def is_within_window(*, at: datetime.datetime, timezone: str, start: datetime.time,
                     end: datetime.time | None, days: list[int]) -> bool:
    local = at.astimezone(ZoneInfo(timezone))
    now = local.time()
    if end is None or start < end:
        inside = start <= now and (end is None or now < end)
        return inside and local.weekday() in days
    # A window across midnight (22:00-06:00): the early hours belong to the previous day's window.
    if now >= start:
        return local.weekday() in days
    if now < end:
        return (local.weekday() - 1) % 7 in days
    return False


def campaign_in_window(campaign, at: datetime.datetime) -> bool:
    return is_within_window(
        at=at, timezone=campaign.timezone, start=campaign.window_start, end=campaign.window_end,
        days=list(campaign.window_days),
    )


def next_window_opening(campaign, after: datetime.datetime) -> datetime.datetime | None:
    """When the window next opens (for display): its start time on the next allowed weekday.
    Computed, not searched: the live page asks every second while a campaign waits."""
    zone = ZoneInfo(campaign.timezone)
    local = after.astimezone(zone)
    for offset in range(8):
        day = local.date() + datetime.timedelta(days=offset)
        opening = datetime.datetime.combine(day, campaign.window_start, tzinfo=zone)
        if opening > local and day.weekday() in campaign.window_days:
            return opening
    return None
