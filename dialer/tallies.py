"""Stored call counts (CallTally, AcceptedTally), kept in step with the calls, read by every page.

Every statement that creates calls or moves them from one state to another reports its own row
count here, in its own transaction: a rollback (a worker killed half way) takes the count back
with the calls, and a page reads a few rows per campaign instead of counting its calls on every
poll. `calls_recount` rebuilds them from the calls (the `recount_calls` command); the dialer and
end-to-end tests compare the two after every test.
"""

from collections import Counter, defaultdict
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from dialer.models import AcceptedTally, Call, CallTally

# Rows per (campaign, state): enough that a few workers' write-backs rarely wait on each other.
SHARDS = 16
ACCEPTED = (Call.State.PLACED, Call.State.ACCEPTED_UNKNOWN)


def calls_added(*, campaign_id: int, counts: dict[str, int], shard: int = 0) -> None:
    """`counts[state]` calls of the campaign were just created in that state."""
    _add(campaign_id, shard, Counter(counts))


def calls_moved(*, campaign_id: int, moves: dict[tuple[str, str], int], shard: int = 0) -> None:
    """`moves[(from_state, to_state)]` calls of the campaign just changed state (pass the
    statement's row count). `shard`: any number, e.g. the batch's id."""
    delta = Counter()
    for (source, target), n in moves.items():
        delta[source] -= n
        delta[target] += n
    _add(campaign_id, shard, delta)


def _add(campaign_id: int, shard: int, delta: Counter) -> None:
    shard %= SHARDS
    # Sorted, so that two transactions touching the same rows lock them in the same order.
    rows = [(campaign_id, state, shard, n) for state, n in sorted(delta.items()) if n]
    _upsert(CallTally, "state", rows)
    accepted = sum(delta[state] for state in ACCEPTED)
    if accepted:
        _upsert(AcceptedTally, "day", [(campaign_id, today(), shard, accepted)])


def _upsert(model, key: str, rows: list[tuple]) -> None:
    """n += delta for each (campaign, key, shard), the row created if missing, in one statement
    (ON CONFLICT: race-free on SQLite and PostgreSQL alike)."""
    if not rows:
        return
    table = model._meta.db_table
    values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (campaign_id, {key}, shard, n) VALUES {values} "
            f"ON CONFLICT (campaign_id, {key}, shard) DO UPDATE SET n = {table}.n + excluded.n",
            [value for row in rows for value in row],
        )


def today():
    return timezone.localdate(timezone.now(), ZoneInfo(settings.PHONON_TIMEZONE))


def counts_by_campaign(campaign_ids) -> dict[int, dict[str, int]]:
    """{campaign id: {state: calls}} from the stored tallies (states without calls left out)."""
    counts = defaultdict(dict)
    rows = (
        CallTally.objects.filter(campaign_id__in=list(campaign_ids))
        .values_list("campaign_id", "state")
        .annotate(total=Sum("n"))
        .order_by()
    )
    for campaign_id, state, total in rows:
        if total:
            counts[campaign_id][state] = total
    return counts


def accepted_by_flow(*, flow_ids, day) -> dict[int, int]:
    """{flow id: calls the provider accepted on `day`} over the flows' campaigns."""
    return dict(
        AcceptedTally.objects.filter(day=day, campaign__flow_id__in=list(flow_ids))
        .values_list("campaign__flow_id")
        .annotate(total=Sum("n"))
        .order_by()
    )


class Recount(NamedTuple):
    calls: int  # calls counted
    corrected: list[int]  # the campaigns whose tallies disagreed with their calls


def calls_recount(*, campaign_id: int | None = None) -> Recount:
    """Rebuild the tallies of one campaign (or of all) from its calls. Safe while workers write: on
    PostgreSQL the tallies are locked before the calls are read, so a write-back that changed calls
    before the count (unseen by it) adds its own count only after this one."""
    calls = Call.objects.order_by()
    tallies, accepted = CallTally.objects.all(), AcceptedTally.objects.all()
    if campaign_id is not None:
        calls = calls.filter(campaign_id=campaign_id)
        tallies, accepted = tallies.filter(campaign_id=campaign_id), accepted.filter(campaign_id=campaign_id)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    f"LOCK TABLE {CallTally._meta.db_table}, {AcceptedTally._meta.db_table} IN EXCLUSIVE MODE"
                )
        corrected = sorted(tallies_differ(campaign_id=campaign_id))
        tallies.delete()
        accepted.delete()
        by_state = list(calls.values_list("campaign_id", "state").annotate(n=Count("id")))
        CallTally.objects.bulk_create(
            [CallTally(campaign_id=campaign, state=state, shard=0, n=n) for campaign, state, n in by_state]
        )
        by_day = (
            calls.filter(state__in=ACCEPTED)
            .annotate(day=TruncDate("updated_at", tzinfo=ZoneInfo(settings.PHONON_TIMEZONE)))
            .values_list("campaign_id", "day")
            .annotate(n=Count("id"))
        )
        AcceptedTally.objects.bulk_create(
            [AcceptedTally(campaign_id=campaign, day=day, shard=0, n=n) for campaign, day, n in by_day]
        )
    return Recount(sum(n for _, _, n in by_state), corrected)


def tallies_differ(*, campaign_id: int | None = None) -> dict[int, dict[str, tuple[int, int]]]:
    """Where the tallies disagree with the calls: {campaign id: {state: (stored, counted)}}; the
    accepted-by-day tallies are compared in total under "accepted". Empty when they agree."""
    calls = Call.objects.order_by()
    if campaign_id is not None:
        calls = calls.filter(campaign_id=campaign_id)
    counted = defaultdict(Counter)
    for campaign, state, n in calls.values_list("campaign_id", "state").annotate(n=Count("id")):
        counted[campaign][state] += n
        if state in ACCEPTED:
            counted[campaign]["accepted"] += n
    stored = defaultdict(Counter)
    tallies = CallTally.objects.order_by()
    accepted = AcceptedTally.objects.order_by()
    if campaign_id is not None:
        tallies, accepted = tallies.filter(campaign_id=campaign_id), accepted.filter(campaign_id=campaign_id)
    for campaign, state, n in tallies.values_list("campaign_id", "state").annotate(total=Sum("n")):
        stored[campaign][state] += n
    for campaign, n in accepted.values_list("campaign_id").annotate(total=Sum("n")):
        stored[campaign]["accepted"] += n
    differ = {}
    for campaign in set(counted) | set(stored):
        keys = {key for key in set(counted[campaign]) | set(stored[campaign])
                if counted[campaign][key] != stored[campaign][key]}
        if keys:
            differ[campaign] = {key: (stored[campaign][key], counted[campaign][key]) for key in sorted(keys)}
    return differ
