"""The best time to call: how often the account's recent calls were answered by hour of day and day
of week (in a campaign's zone), the redial delay that reached most people, and a calling window
suggested from them.

A call's time is when its outcome came (Call.outcome_at, a minute or two after the call ended):
close enough for hours. Only calls with an outcome count. Never computed inside a page (46 s on
PostgreSQL at a million calls): a worker computes it and the pages read the last result
(dialer.redials.best_time_results).
"""

import datetime
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, Q
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from campaigns.models import Campaign
from campaigns.windows import WEEKDAY_NAMES
from dialer.models import Call, CallOutcome

LOOK_BACK_DAYS = 28
# An hour or delay with fewer calls than this says too little to suggest anything.
ENOUGH_CALLS = 20
SUGGESTED_HOURS = 4
# Redial delays, grouped: (label, up to this many seconds).
DELAY_GROUPS = (
    ("under 30 min", 1800),
    ("30 min to 2 h", 7200),
    ("2 to 6 h", 21600),
    ("6 to 24 h", 86400),
    ("over a day", None),
)


@dataclass(frozen=True)
class Bar:
    label: str
    calls: int
    answered: int

    @property
    def rate(self) -> int | None:
        """Answered, in percent of the calls; None without calls."""
        return round(100 * self.answered / self.calls) if self.calls else None

    @property
    def height(self) -> int:
        return self.rate or 0

    @property
    def y(self) -> int:
        """The top of its column in a chart 100 high (SVG: y grows downwards)."""
        return 100 - self.height

    @property
    def title(self) -> str:
        if not self.calls:
            return f"{self.label}: no calls"
        return f"{self.label}: {self.rate}% answered ({self.answered:,} of {self.calls:,} calls)"


@dataclass(frozen=True)
class BestTime:
    zone: str
    days: int
    hours: list[Bar] = field(default_factory=list)
    weekdays: list[Bar] = field(default_factory=list)
    delays: list[Bar] = field(default_factory=list)
    calls: int = 0
    answered: int = 0
    # The calls counted are those with an outcome up to this moment.
    computed_at: datetime.datetime | None = None

    @property
    def computed_text(self) -> str:
        """When it was computed, in its zone: `14:05`, with the day when that is not today."""
        if self.computed_at is None:
            return ""
        at = self.computed_at.astimezone(ZoneInfo(self.zone))
        if at.date() == timezone.now().astimezone(ZoneInfo(self.zone)).date():
            return at.strftime("%H:%M")
        return f"{at.day} {at.strftime('%b %H:%M')}"

    @property
    def rate(self) -> int | None:
        return round(100 * self.answered / self.calls) if self.calls else None

    @property
    def hour_columns(self) -> list[dict]:
        """The hours as SVG columns 8 wide, 10 apart; every third hour labelled."""
        return [
            {"bar": bar, "x": 10 * hour + 1, "label": bar.label[:2] if hour % 3 == 0 else ""}
            for hour, bar in enumerate(self.hours)
        ]

    @property
    def weekday_columns(self) -> list[dict]:
        return [{"bar": bar, "x": 14 * day + 2, "label": bar.label} for day, bar in enumerate(self.weekdays)]

    @property
    def hours_svg(self) -> str:
        """The hour columns drawn (31 columns with a title each were a third of the page's rendering
        as template loops)."""
        return format_html_join(
            "",
            '<rect x="{}" y="{}" width="8" height="{}" class="bar"><title>{}</title></rect>{}',
            (
                (column["x"], column["bar"].y, column["bar"].height, column["bar"].title,
                 format_html('<text x="{}" y="110" class="tick">{}</text>', column["x"], column["label"])
                 if column["label"] else "")
                for column in self.hour_columns
            ),
        )

    @property
    def weekdays_svg(self) -> str:
        return format_html_join(
            "",
            '<rect x="{}" y="{}" width="10" height="{}" class="bar"><title>{}</title></rect>'
            '<text x="{}" y="110" class="tick">{}</text>',
            (
                (column["x"], column["bar"].y, column["bar"].height, column["bar"].title, column["x"], column["label"])
                for column in self.weekday_columns
            ),
        )

    @property
    def best_delay(self) -> Bar | None:
        known = [bar for bar in self.delays if bar.calls >= ENOUGH_CALLS]
        return max(known, key=lambda bar: (bar.answered / bar.calls, bar.calls)) if known else None

    @property
    def suggested_window(self) -> tuple[str, int] | None:
        """The SUGGESTED_HOURS in a row (within one day) answered most often, as `HH:00-HH:00`, with
        its answer rate in percent; None while too few calls say so."""
        best = None
        for start in range(0, 24 - SUGGESTED_HOURS + 1):
            block = self.hours[start : start + SUGGESTED_HOURS]
            calls = sum(bar.calls for bar in block)
            if calls < ENOUGH_CALLS * SUGGESTED_HOURS // 2:
                continue
            rate = sum(bar.answered for bar in block) / calls
            if best is None or (rate, calls) > (best[1], best[2]):  # a tie goes to the hours with more calls
                best = (start, rate, calls)
        if best is None:
            return None
        end = best[0] + SUGGESTED_HOURS
        return f"{best[0]:02d}:00-{end:02d}:00" if end < 24 else f"{best[0]:02d}:00-24:00", round(100 * best[1])

    @property
    def suggestion_text(self) -> str:
        suggested = self.suggested_window
        if suggested is None:
            return ""
        window, rate = suggested
        overall = f" against {self.rate}% over the day" if self.rate is not None else ""
        return f"{window} ({self.zone}): {rate}% of calls answered in those hours{overall}"


def best_time_read(*, account_id: int, zone: str, days: int = LOOK_BACK_DAYS, now=None) -> BestTime:
    now = now or timezone.now()
    tz = ZoneInfo(zone)
    since = now - datetime.timedelta(days=days)
    calls = Call.objects.filter(campaign__flow__account_id=account_id, outcome_at__gte=since).exclude(
        outcome=CallOutcome.UNKNOWN
    )
    answered = Count("pk", filter=Q(outcome=CallOutcome.ANSWERED))
    # One scan counted by hour and weekday together (at most 168 rows), summed each way here: two
    # scans, one by hour and one by weekday, read the account's calls twice.
    by_hour: dict[int, dict] = {}
    by_day: dict[int, dict] = {}
    for row in (
        calls.annotate(hour=ExtractHour("outcome_at", tzinfo=tz), day=ExtractIsoWeekDay("outcome_at", tzinfo=tz))
        .values("hour", "day")
        .annotate(calls=Count("pk"), answered=answered)
        .order_by()
    ):
        for found, key in ((by_hour, row["hour"]), (by_day, row["day"])):
            counted = found.setdefault(key, {"calls": 0, "answered": 0})
            counted["calls"] += row["calls"]
            counted["answered"] += row["answered"]
    hours = [
        Bar(f"{hour:02d}:00", by_hour.get(hour, {}).get("calls", 0), by_hour.get(hour, {}).get("answered", 0))
        for hour in range(24)
    ]
    weekdays = [
        Bar(WEEKDAY_NAMES[day - 1], by_day.get(day, {}).get("calls", 0), by_day.get(day, {}).get("answered", 0))
        for day in range(1, 8)
    ]
    return BestTime(
        zone=zone,
        days=days,
        hours=hours,
        weekdays=weekdays,
        delays=_delays(account_id=account_id, since=since),
        calls=sum(bar.calls for bar in hours),
        answered=sum(bar.answered for bar in hours),
        computed_at=now,
    )


def _delays(*, account_id: int, since: datetime.datetime) -> list[Bar]:
    """Each redial's outcome by how long after the previous attempt's outcome it went: one join of
    each redial to its previous attempt along the (campaign, contact, attempt) key, counted by delay
    group in the database (a subquery and a Python loop per redial took minutes at a million
    contacts called three times). The redials are read by the account's campaigns directly: as
    `id IN (the redials, ordered by the models' orderings)` PostgreSQL sorted them, joined the
    campaigns again for that order, and hashed them against a scan of every call."""
    table = Call._meta.db_table
    campaigns = Campaign.objects.filter(flow__account_id=account_id).order_by().values("pk")
    campaigns_sql, params = campaigns.query.sql_with_params()
    if connection.vendor == "postgresql":
        seconds = "EXTRACT(EPOCH FROM (x.outcome_at - y.outcome_at))"
    else:
        seconds = "((julianday(x.outcome_at) - julianday(y.outcome_at)) * 86400.0)"
    bounds = [most for _, most in DELAY_GROUPS if most is not None]
    group = "CASE " + " ".join(f"WHEN {seconds} <= {most} THEN {index}" for index, most in enumerate(bounds))
    group += f" ELSE {len(bounds)} END"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {group}, COUNT(*), SUM(CASE WHEN x.outcome = %s THEN 1 ELSE 0 END) "
            f"FROM {table} x JOIN {table} y ON y.campaign_id = x.campaign_id AND y.contact_id = x.contact_id "
            f"AND y.attempt = x.attempt - 1 "
            f"WHERE x.campaign_id IN ({campaigns_sql}) AND x.attempt > 1 AND x.outcome_at >= %s "
            f"AND x.outcome <> %s AND y.outcome_at IS NOT NULL GROUP BY 1",
            [CallOutcome.ANSWERED, *params, connection.ops.adapt_datetimefield_value(since), CallOutcome.UNKNOWN],
        )
        counts = {index: (int(n), int(answered or 0)) for index, n, answered in cursor.fetchall()}
    return [Bar(label, *counts.get(index, (0, 0))) for index, (label, _) in enumerate(DELAY_GROUPS)]
