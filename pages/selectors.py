"""Reads for the pages: campaign progress, the calls-per-minute chart, today's numbers, problems.

Every function takes querysets already narrowed to what the user may see (campaigns.access),
so access rules live in one place and these stay plain queries.
"""

import datetime
from collections import defaultdict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, F, Max, Min, QuerySet, Sum
from django.db.models.functions import TruncMinute
from django.utils import timezone
from django.utils.html import format_html_join

from campaigns.clock import elapsed_words, zone_label
from campaigns.models import Campaign, ContactList
from dialer import tallies
from dialer.models import Batch, BatchAttempt
from dialer.progress import Progress, progress_by_campaign
from dialer.read_model import CampaignReading, campaign_readings
from dialer.sharing import limit_per_minute
from dialer.throughput import accepted_attempts


def calls_sent_per_minute(campaign: Campaign, *, minutes: int = 15, now: datetime.datetime | None = None) -> list:
    """Calls the provider accepted in each of the last `minutes` minutes (oldest first), counted from
    the accepted batch attempts: a request answered 500 placed nothing, so it draws nothing."""
    now = now or timezone.now()
    current = now.replace(second=0, microsecond=0)
    first = current - datetime.timedelta(minutes=minutes - 1)
    rows = (
        BatchAttempt.objects.filter(accepted_attempts(), batch__campaign=campaign, created_at__gte=first)
        .annotate(minute=TruncMinute("created_at"))
        .values("minute")
        .annotate(calls=Sum(F("batch__call_count")))
        .order_by()
    )
    by_minute = {row["minute"]: row["calls"] or 0 for row in rows}
    return [
        (first + datetime.timedelta(minutes=index), by_minute.get(first + datetime.timedelta(minutes=index), 0))
        for index in range(minutes)
    ]


def chart(points: list, limit: int, *, width: int = 600, height: int = 160) -> dict:
    """Geometry of the inline SVG bar chart: one bar a minute and a dashed line at the limit."""
    top = max([limit, *[calls for _, calls in points]]) or 1
    plot_height = height - 20
    slot = width / max(len(points), 1)
    zone = ZoneInfo(settings.PHONON_TIMEZONE)
    bars = []
    for index, (minute, calls) in enumerate(points):
        bar_height = round(plot_height * calls / top, 1)
        bars.append({
            "x": round(index * slot + 2, 1), "width": round(slot - 4, 1), "y": round(plot_height - bar_height, 1),
            "height": bar_height, "calls": calls, "label": minute.astimezone(zone).strftime("%H:%M"),
            "show_label": index % 3 == 0 or index == len(points) - 1, "label_x": round(index * slot + slot / 2, 1),
        })
    return {
        "width": width, "height": height, "bars": bars, "limit": limit, "top": top,
        "limit_y": round(plot_height - plot_height * limit / top, 1), "label_y": height - 4,
        "last": points[-1][1] if points else 0, "peak": max((calls for _, calls in points), default=0),
    }


BIN_MINUTES = (1, 2, 5, 10, 15, 30, 60, 120, 240, 480, 1440)
MAX_BARS = 60


def _nice_ceiling(value: float) -> int:
    """The next round number at or above value: 1, 2, 5, 10, 20, 50, ..."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _rate_text(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def campaign_chart(campaign: Campaign, limit: int, *, now: datetime.datetime | None = None,
                   width: int = 640, height: int = 220) -> dict:
    """Geometry of the campaign's whole-life SVG chart: calls the provider accepted per minute (a
    request that failed and was retried counts once, when accepted), in bars of 1 to 1,440 minutes
    so that at most 60 bars show, scaled to the campaign, with a y-axis, the limit line when it is in
    range, and a summary."""
    now = now or timezone.now()
    # Summed by the minute in the database: a campaign of a million calls made thousands of attempts.
    minutes = list(
        BatchAttempt.objects.filter(accepted_attempts(), batch__campaign=campaign)
        .annotate(minute=TruncMinute("created_at"))
        .values("minute").annotate(calls=Sum("batch__call_count"), first=Min("created_at"), last=Max("created_at"))
        .order_by("minute")
    )
    zone = ZoneInfo(campaign.timezone)
    left, right, top_pad, bottom = 56, 12, 22, 26
    geometry = {"width": width, "height": height, "left": left, "plot_right": width - right,
                "axis_y": height - bottom, "limit": limit, "bars": [], "ticks": [], "x_labels": []}
    if not minutes:
        geometry.update(empty=True, summary="No call has been accepted yet.")
        return geometry
    first_sent, last_sent = minutes[0]["first"], minutes[-1]["last"]
    first = first_sent.replace(second=0, microsecond=0)
    last = last_sent if campaign.is_final else max(now, last_sent)
    span = int((last - first).total_seconds() // 60) + 1
    bin_minutes = next((size for size in BIN_MINUTES if span / size <= MAX_BARS), BIN_MINUTES[-1])
    count = max(1, -(-span // bin_minutes))
    sums = [0] * count
    for row in minutes:
        sums[min(count - 1, int((row["minute"] - first).total_seconds() // 60) // bin_minutes)] += row["calls"] or 0
    rates = [total / bin_minutes for total in sums]
    peak = max(rates)
    # Scaled to the campaign; the limit joins the scale only when it is near the campaign's pace.
    limit_in_range = bool(limit) and limit <= max(peak, 1) * 1.5
    top = _nice_ceiling(max(max(peak, limit if limit_in_range else 0) * 1.1, 1))
    plot_height = geometry["axis_y"] - top_pad
    slot = (width - left - right) / count

    def y_of(value):
        return round(geometry["axis_y"] - plot_height * value / top, 1)

    for index, rate in enumerate(rates):
        start = first + datetime.timedelta(minutes=index * bin_minutes)
        geometry["bars"].append({
            "x": round(left + index * slot + min(2, slot * .1), 1), "width": round(max(slot - min(4, slot * .2), 1), 1),
            "y": y_of(rate), "height": round(geometry["axis_y"] - y_of(rate), 1),
            "title": f"{start.astimezone(zone):%H:%M}: {sums[index]:,} call{'s' if sums[index] != 1 else ''}",
        })
    geometry["ticks"] = [{"y": y_of(value), "label": _rate_text(value)} for value in (0, top / 2, top)]
    for index in sorted({0, count // 2, count - 1}):
        start = first + datetime.timedelta(minutes=index * bin_minutes)
        geometry["x_labels"].append({"x": round(left + index * slot + slot / 2, 1),
                                     "label": f"{start.astimezone(zone):%H:%M}"})
    sent = sum(sums)
    ended = last_sent
    clock = zone_label(campaign.timezone)
    summary = (
        f"{sent:,} call{'s' if sent != 1 else ''} accepted from {first.astimezone(zone):%H:%M} to "
        f"{ended.astimezone(zone):%H:%M} {clock} ({elapsed_words((ended - first_sent).total_seconds())}); "
        f"peak {_rate_text(peak)} a minute; the provider allows up to {limit:,} a minute"
    )
    summary += "." if limit_in_range else ", far above this campaign's pace (off the scale)."
    geometry.update(
        empty=False, top=top, bin_minutes=bin_minutes, limit_in_range=limit_in_range,
        limit_y=y_of(limit) if limit_in_range else None, summary=summary, peak=peak, sent=sent,
        # Up to 60 bars of 5 values each, drawn here: in the template each value was looked up and
        # localized one by one, a fifth of the live fragment's rendering.
        bars_svg=format_html_join(
            "", '<rect x="{}" y="{}" width="{}" height="{}" class="bar"><title>{}</title></rect>',
            ((bar["x"], bar["y"], bar["width"], bar["height"], bar["title"]) for bar in geometry["bars"]),
        ),
    )
    return geometry


def batch_counts_by_status(campaign: Campaign) -> dict[str, int]:
    return dict(Batch.objects.filter(campaign=campaign).values_list("status").annotate(n=Count("id")).order_by())


def batch_status_counts(counts: dict[str, int]) -> list[tuple[str, int]]:
    """(status in words, count) for a campaign's batches (batch_counts_by_status), in the order of the
    status choices."""
    return [(label, counts[value]) for value, label in Batch.Status.choices if counts.get(value)]


def start_of_today(now: datetime.datetime | None = None) -> datetime.datetime:
    zone = ZoneInfo(settings.PHONON_TIMEZONE)
    local = (now or timezone.now()).astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def flows_today(flows: QuerySet, *, now: datetime.datetime | None = None) -> list[dict]:
    """Per flow: calls the provider accepted today, and the last minute's calls against the limit.
    The limit is shared by every flow of one account on one endpoint, so the meter shows the share."""
    now = now or timezone.now()
    flows = list(flows.select_related("account"))
    placed = tallies.accepted_by_flow(flow_ids=[flow.pk for flow in flows], day=start_of_today(now).date())
    minute_ago = now - datetime.timedelta(seconds=60)
    last_minute = defaultdict(int)
    rows = (
        BatchAttempt.objects.filter(accepted_attempts(), batch__campaign__flow__in=flows, created_at__gte=minute_ago)
        .values("batch__campaign__flow__account_id", "batch__endpoint")
        .annotate(calls=Sum("batch__call_count"))
        .order_by()
    )
    for row in rows:
        last_minute[(row["batch__campaign__flow__account_id"], row["batch__endpoint"])] += row["calls"] or 0
    result = []
    for flow in flows:
        limit = limit_per_minute(flow.endpoint)
        used = last_minute[(flow.account_id, flow.endpoint)]
        result.append({
            "flow": flow, "placed_today": placed.get(flow.pk, 0), "last_minute": used, "limit": limit,
            "percent": min(100, used * 100 // limit) if limit else 0,
        })
    return result


def problems(*, campaigns: QuerySet, contact_lists: QuerySet, active: list[Campaign] | None = None,
             retrying: list[tuple[Campaign, str]] = (), since_days: int = 14) -> dict:
    """What needs a manager's action: paused campaigns and why, campaigns whose provider keeps failing
    (`retrying`, from retrying_campaigns), failed batches, imports that rejected rows or were refused.
    `active`: every running, scheduled and paused campaign of
    `campaigns`, when the caller has read them all already (the paused ones are among them)."""
    since = timezone.now() - datetime.timedelta(days=since_days)
    if active is None:
        paused = list(campaigns.filter(status=Campaign.Status.PAUSED).order_by("-updated_at")[:20])
    else:
        paused = sorted((c for c in active if c.status == Campaign.Status.PAUSED),
                        key=lambda campaign: campaign.updated_at, reverse=True)[:20]
    # From the failed batches (the status index) to their campaigns: joining every campaign to all
    # of its batches read every batch ever sent, on every poll.
    failed_counts = dict(
        Batch.objects.filter(status=Batch.Status.FAILED, campaign__in=campaigns)
        .values_list("campaign_id").annotate(n=Count("id")).order_by()
    )
    failed = list(campaigns.filter(pk__in=list(failed_counts)).order_by("-updated_at")[:20])
    for campaign in failed:
        campaign.failed_batches = failed_counts[campaign.pk]
    rejected = list(
        contact_lists.filter(rejected_count__gt=0, created_at__gte=since).order_by("-created_at")[:20]
    )
    refused = list(
        contact_lists.filter(
            status__in=(ContactList.Status.REFUSED, ContactList.Status.FAILED), created_at__gte=since
        ).order_by("-created_at")[:20]
    )
    return {
        "paused": paused, "retrying": list(retrying), "failed": failed, "rejected": rejected, "refused": refused,
        "count": len(paused) + len(retrying) + len(failed) + len(rejected) + len(refused),
    }


ACTIVE_SHOWN = 50


def active_campaigns(campaigns: QuerySet) -> list[tuple[Campaign, Progress, CampaignReading]]:
    """The running, scheduled and paused campaigns, at most ACTIVE_SHOWN of them, each with its reading
    (dialer.read_model: the status words, the start, the estimate the campaign's page shows)."""
    active = list(
        campaigns.filter(
            status__in=(Campaign.Status.RUNNING, Campaign.Status.SCHEDULED, Campaign.Status.PAUSED)
        ).order_by("status", "-created_at")[:ACTIVE_SHOWN]
    )
    progress = progress_by_campaign([campaign.pk for campaign in active])
    readings = campaign_readings(active, progress=progress)
    return [(campaign, progress[campaign.pk], readings[campaign.pk]) for campaign in active]


def retrying_campaigns(active: list[tuple[Campaign, Progress, CampaignReading]]) -> list[tuple[Campaign, str]]:
    """The active campaigns whose requests wait to be retried after the provider failed, in words."""
    return [(campaign, reading.retrying.in_words(campaign.timezone))
            for campaign, _, reading in active if reading.retrying]
