"""Reads for the pages: campaign progress, the calls-per-minute chart, today's numbers, problems.

Every function takes querysets already narrowed to what the user may see (campaigns.access),
so access rules live in one place and these stay plain queries.
"""

import datetime
from collections import defaultdict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncMinute
from django.utils import timezone

from campaigns.models import Campaign, ContactList
from dialer.models import Batch, BatchAttempt, Call
from dialer.progress import ACCEPTED_STATES, Progress, progress_by_campaign
from dialer.ratelimit import rate_for


def limit_per_minute(endpoint: str) -> int:
    rate = rate_for(endpoint)
    return round(rate.calls * 60 / rate.seconds)


def calls_sent_per_minute(campaign: Campaign, *, minutes: int = 15, now: datetime.datetime | None = None) -> list:
    """Calls sent to the provider in each of the last `minutes` minutes (oldest first), counted from
    the batch attempts: each request charges the rate limit with all of its calls, retries included."""
    now = now or timezone.now()
    current = now.replace(second=0, microsecond=0)
    first = current - datetime.timedelta(minutes=minutes - 1)
    rows = (
        BatchAttempt.objects.filter(batch__campaign=campaign, created_at__gte=first)
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


def batch_status_counts(campaign: Campaign) -> list[tuple[str, int]]:
    """(status in words, count) for the campaign's batches, in the order of the status choices."""
    counts = dict(Batch.objects.filter(campaign=campaign).values_list("status").annotate(n=Count("id")).order_by())
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
    placed = dict(
        Call.objects.filter(
            campaign__flow__in=flows, state__in=ACCEPTED_STATES, updated_at__gte=start_of_today(now)
        )
        .values_list("campaign__flow_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    minute_ago = now - datetime.timedelta(seconds=60)
    last_minute = defaultdict(int)
    rows = (
        BatchAttempt.objects.filter(batch__campaign__flow__in=flows, created_at__gte=minute_ago)
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


def problems(*, campaigns: QuerySet, contact_lists: QuerySet, since_days: int = 14) -> dict:
    """What needs a manager's action: paused campaigns and why, failed batches, imports that
    rejected rows or were refused."""
    since = timezone.now() - datetime.timedelta(days=since_days)
    paused = list(campaigns.filter(status=Campaign.Status.PAUSED).order_by("-updated_at")[:20])
    failed = list(
        campaigns.annotate(failed_batches=Count("batches", filter=Q(batches__status=Batch.Status.FAILED)))
        .filter(failed_batches__gt=0)
        .order_by("-updated_at")[:20]
    )
    rejected = list(
        contact_lists.filter(rejected_count__gt=0, created_at__gte=since).order_by("-created_at")[:20]
    )
    refused = list(
        contact_lists.filter(
            status__in=(ContactList.Status.REFUSED, ContactList.Status.FAILED), created_at__gte=since
        ).order_by("-created_at")[:20]
    )
    return {
        "paused": paused, "failed": failed, "rejected": rejected, "refused": refused,
        "count": len(paused) + len(failed) + len(rejected) + len(refused),
    }


def active_campaigns(campaigns: QuerySet) -> list[tuple[Campaign, Progress]]:
    active = list(
        campaigns.filter(
            status__in=(Campaign.Status.RUNNING, Campaign.Status.SCHEDULED, Campaign.Status.PAUSED)
        ).order_by("status", "-created_at")[:50]
    )
    progress = progress_by_campaign([campaign.pk for campaign in active])
    return [(campaign, progress[campaign.pk]) for campaign in active]
