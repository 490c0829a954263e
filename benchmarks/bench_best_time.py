"""The best time to call's computation (dialer.redials.best_time.best_time_read) timed on a database
bench_pages built (reused, read only), against the two scans it replaced (one by hour, one by
weekday) measured in the same run, with PostgreSQL's plans.

    .venv/bin/python benchmarks/bench_best_time.py --pg-url postgres://postgres@127.0.0.1:5432/bench_besttime
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _scans_before(calls, tz) -> None:
    """The two scans best_time_read made before it counted by hour and weekday in one."""
    from django.db.models import Count, Q
    from django.db.models.functions import ExtractHour, ExtractIsoWeekDay

    answered = Count("pk", filter=Q(outcome="answered"))
    for name, extract in (("hour", ExtractHour), ("day", ExtractIsoWeekDay)):
        list(calls.annotate(**{name: extract("outcome_at", tzinfo=tz)}).values(name)
             .annotate(calls=Count("pk"), answered=answered).order_by())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(DATABASE_URL=args.pg_url, DEBUG="1", DJANGO_SETTINGS_MODULE="config.settings")
    import django

    django.setup()
    import datetime
    from zoneinfo import ZoneInfo

    from django.db import connection
    from django.utils import timezone

    from campaigns.models import Campaign
    from dialer.models import Call
    from dialer.redials import best_time

    large = Campaign.objects.filter(name__startswith="running").order_by("-pk").first()
    account, zone = large.flow.account_id, large.timezone
    tz = ZoneInfo(zone)
    calls = Call.objects.filter(
        campaign__flow__account_id=account, outcome_at__gte=timezone.now() - datetime.timedelta(days=28)
    ).exclude(outcome="unknown")
    print(f"account {account}: {calls.count():,} calls with an outcome in 28 days, "
          f"{Call.objects.count():,} calls in all")

    def timed(work) -> float:
        runs = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            work()
            runs.append((time.perf_counter() - started) * 1000)
        return statistics.median(runs)

    load = os.getloadavg()
    before = timed(lambda: _scans_before(calls, tz))
    whole = timed(lambda: best_time.best_time_read(account_id=account, zone=zone))
    delays = timed(lambda: best_time._delays(account_id=account, since=timezone.now() - datetime.timedelta(days=28)))
    print(f"hour and weekday, two scans (before): {before:,.0f} ms median of {args.repeat}")
    print(f"best_time_read now, whole (one scan by hour and weekday, plus the redial delays): {whole:,.0f} ms")
    print(f"of which the redial delays: {delays:,.0f} ms; so hours and weekdays now about {whole - delays:,.0f} ms "
          f"({(whole - delays) / before:.2f} of before)")
    with connection.cursor() as cursor:
        from django.db.models import Count, Q
        from django.db.models.functions import ExtractHour, ExtractIsoWeekDay

        hour, day = ExtractHour("outcome_at", tzinfo=tz), ExtractIsoWeekDay("outcome_at", tzinfo=tz)
        query = (calls.annotate(hour=hour, day=day)
                 .values("hour", "day").annotate(calls=Count("pk"), answered=Count("pk", filter=Q(outcome="answered")))
                 .order_by())
        sql, params = query.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        print("plan of the one scan:\n  " + "\n  ".join(row[0] for row in cursor.fetchall()))
    print(f"load average (1/5/15 min) {'/'.join(f'{x:.1f}' for x in load)} before, "
          f"{'/'.join(f'{x:.1f}' for x in os.getloadavg())} after, on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
