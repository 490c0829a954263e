import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from campaigns.windows import is_within_window, next_window_opening, parse_window

IST = ZoneInfo("Asia/Kolkata")
EVERY_DAY = list(range(7))


def at(hour, minute=0, day=23):  # 2026-11-23 is a Monday
    return datetime.datetime(2026, 11, day, hour, minute, tzinfo=IST)


def test_default_window_is_inside_from_9_to_21_kolkata_time():
    start, end = parse_window("09:00-21:00")
    assert not is_within_window(at=at(8, 59), timezone="Asia/Kolkata", start=start, end=end, days=EVERY_DAY)
    assert is_within_window(at=at(9, 0), timezone="Asia/Kolkata", start=start, end=end, days=EVERY_DAY)
    assert is_within_window(at=at(20, 59), timezone="Asia/Kolkata", start=start, end=end, days=EVERY_DAY)
    assert not is_within_window(at=at(21, 0), timezone="Asia/Kolkata", start=start, end=end, days=EVERY_DAY)


def test_the_window_is_read_in_the_campaigns_zone_not_utc():
    start, end = parse_window("09:00-21:00")
    # 04:00 UTC is 09:30 in Kolkata
    utc = datetime.datetime(2026, 11, 23, 4, 0, tzinfo=datetime.UTC)
    assert is_within_window(at=utc, timezone="Asia/Kolkata", start=start, end=end, days=EVERY_DAY)
    assert not is_within_window(at=utc, timezone="Europe/London", start=start, end=end, days=EVERY_DAY)


def test_weekdays_limit_the_window():
    start, end = parse_window("09:00-21:00")
    monday_noon = at(12)
    assert not is_within_window(at=monday_noon, timezone="Asia/Kolkata", start=start, end=end, days=[1, 2, 3])


def test_00_to_24_lifts_the_window():
    start, end = parse_window("00:00-24:00")
    assert end is None
    assert is_within_window(at=at(0, 0), timezone="Asia/Kolkata", start=start, end=end, days=EVERY_DAY)
    assert is_within_window(at=at(23, 59), timezone="Asia/Kolkata", start=start, end=end, days=EVERY_DAY)


def test_a_window_across_midnight_belongs_to_the_day_it_opened():
    start, end = parse_window("22:00-06:00")
    assert is_within_window(at=at(23), timezone="Asia/Kolkata", start=start, end=end, days=[0])
    assert is_within_window(at=at(5, day=24), timezone="Asia/Kolkata", start=start, end=end, days=[0])
    assert not is_within_window(at=at(5, day=23), timezone="Asia/Kolkata", start=start, end=end, days=[0])
    assert not is_within_window(at=at(12), timezone="Asia/Kolkata", start=start, end=end, days=EVERY_DAY)


@pytest.mark.parametrize("text", ["9-21", "09:00", "25:00-26:00", "10:00-10:00"])
def test_nonsense_windows_are_refused_with_a_sentence(text):
    with pytest.raises(ValueError, match="window"):
        parse_window(text)


def test_the_next_opening_is_the_window_start_on_the_next_allowed_day():

    campaign = SimpleNamespace(timezone="Asia/Kolkata", window_start=datetime.time(9, 0),
                               window_end=datetime.time(21, 0), window_days=[2, 3])
    monday_late = at(22)  # Monday 22:00; the window runs Wednesday and Thursday only
    assert next_window_opening(campaign, monday_late) == datetime.datetime(2026, 11, 25, 9, 0, tzinfo=IST)
    wednesday_early = at(7, day=25)
    assert next_window_opening(campaign, wednesday_early) == datetime.datetime(2026, 11, 25, 9, 0, tzinfo=IST)
    assert next_window_opening(SimpleNamespace(**{**vars(campaign), "window_days": []}), monday_late) is None
