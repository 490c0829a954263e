"""Pages at scale (issue 16): the live campaign fragment, the campaign list and the dashboard.

    DEBUG=1 .venv/bin/python benchmarks/bench_pages.py [--database sqlite|postgres] [--quick]
        [--calls N] [--history-campaigns H] [--requests 50]

In a fresh database (a temp SQLite file, or `bench_pages` on the PostgreSQL server) with an
embedded Redis, a logged-in superuser drives the pages with Django's test Client, `--requests`
times each, and the p50/p95 of each is printed beside the 50 ms target at p95:
  - baseline: one running campaign of 1,000 calls (nothing else in the database);
  - at scale: the same, plus one running campaign of N calls (200,000 with --quick, 1,000,000
    otherwise; planned by dialer.planning as a launch does, then half its calls marked placed and
    some rejected) and H finished campaigns of N calls each in history (2 with --quick, 10
    otherwise: 10,000,000 calls), their calls inserted with one INSERT … SELECT over the list's
    contacts on either database.
The pages: `campaign_live` (the fragment the campaign page polls every few seconds, for the large
campaign), `campaign_list` and `dashboard`. No campaign is sending during the measurement (the
counts read are the same; a sender's writes would only add contention).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_P95_MS = 50


def setup_environment(database: str, pg_url: str) -> dict:
    os.environ["DEBUG"] = "1"
    tmp = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    if database == "postgres":
        import psycopg

        name = pg_url.rsplit("/", 1)[1]
        with psycopg.connect(pg_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = pg_url
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    from config.embedded_redis import EmbeddedRedis

    redis_server = None
    if not os.environ.get("REDIS_URL"):
        redis_server = EmbeddedRedis().start()
        os.environ["REDIS_URL"] = redis_server.url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return {"tmp": tmp, "redis": redis_server}


def running_campaign(flow, calls: int, *, first: int, name: str):
    """A campaign of `calls` calls planned as a launch plans them, then running and half sent."""
    from django.db import connection

    from campaigns import lifecycle
    from campaigns.models import Campaign
    from dialer import planning
    from dialer.models import Call
    from tests.factories import make_contact_list

    contact_list = make_contact_list(flow, calls, first=first, name=name)
    campaign = lifecycle.campaign_create(contact_list=contact_list, name=name, window="00:00-24:00")
    lifecycle.campaign_schedule(campaign=campaign)
    while not planning.campaign_plan(campaign_id=campaign.pk):
        pass
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING, started_at=campaign.created_at)
    table = Call._meta.db_table
    with connection.cursor() as cursor:  # half placed, 5% rejected, the rest pending
        cursor.execute(f"UPDATE {table} SET state = 'placed', provider_code = 200 WHERE campaign_id = %s "
                       f"AND contact_id %% 2 = 0", [campaign.pk])
        cursor.execute(f"UPDATE {table} SET state = 'rejected', provider_code = 400 WHERE campaign_id = %s "
                       f"AND contact_id %% 20 = 1", [campaign.pk])
    campaign.refresh_from_db()
    return campaign


def history_campaign(contact_list, index: int):
    """A completed campaign whose calls (one per contact of the list) are inserted in one statement."""
    from django.db import connection, transaction

    from campaigns import lifecycle
    from campaigns.models import Campaign, Contact
    from dialer.models import Call

    campaign = lifecycle.campaign_create(contact_list=contact_list, name=f"history {index}", window="00:00-24:00")
    calls, contacts = Call._meta.db_table, Contact._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {calls} (campaign_id, contact_id, batch_id, client_identifier, state, phonon_uuid, "
            f"provider_code, provider_message, updated_at) "
            f"SELECT %s, id, NULL, %s || '-' || id, CASE WHEN id %% 10 = 0 THEN 'rejected' ELSE 'placed' END, '', "
            f"200, '', %s FROM {contacts} WHERE contact_list_id = %s",
            [campaign.pk, campaign.token, campaign.created_at, contact_list.pk],
        )
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.COMPLETED, planned_at=campaign.created_at, started_at=campaign.created_at,
        finished_at=campaign.created_at,
    )


def measure(client, url: str, requests: int) -> dict:
    client.get(url)  # warm: templates, caches, connection
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url, HTTP_HX_REQUEST="true") if "/live/" in url else client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    times.sort()
    return {"p50": statistics.median(times), "p95": times[max(0, int(round(0.95 * len(times))) - 1)],
            "max": times[-1]}


def measure_pages(client, campaign, requests: int) -> dict:
    from django.urls import reverse

    return {
        "campaign_live": measure(client, reverse("pages:campaign_live", args=[campaign.pk])
                                 if _namespaced() else reverse("campaign_live", args=[campaign.pk]), requests),
        "campaign_list": measure(client, reverse("pages:campaign_list") if _namespaced()
                                 else reverse("campaign_list"), requests),
        "dashboard": measure(client, reverse("pages:dashboard") if _namespaced() else reverse("dashboard"),
                             requests),
    }


def _namespaced() -> bool:
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("pages:dashboard")
        return True
    except NoReverseMatch:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="200,000 calls, 2 history campaigns")
    parser.add_argument("--calls", type=int, default=None)
    parser.add_argument("--history-campaigns", type=int, default=None)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/bench_pages")
    args = parser.parse_args()
    calls = args.calls or (200_000 if args.quick else 1_000_000)
    history = args.history_campaigns if args.history_campaigns is not None else (2 if args.quick else 10)
    load_before = os.getloadavg()
    env = setup_environment(args.database, args.pg_url)
    try:
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test import Client

        from tests.factories import make_flow

        user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-pass")
        client = Client(SERVER_NAME="localhost")
        client.force_login(user)
        flow = make_flow(flow_id="PAGEbnch", client_id="pages-bench")

        small = running_campaign(flow, 1_000, first=50_000_000, name="baseline 1,000")
        baseline = measure_pages(client, small, args.requests)

        started = time.perf_counter()
        large = running_campaign(flow, calls, first=0, name=f"running {calls:,}")
        planned = time.perf_counter() - started
        started = time.perf_counter()
        for index in range(history):
            history_campaign(large.contact_list, index)
        inserted = time.perf_counter() - started
        with connection.cursor() as cursor:  # the planner's statistics, as autovacuum would have them
            cursor.execute("ANALYZE")
        print(f"built: running campaign of {calls:,} calls in {planned:.1f} s (list, plan, states); "
              f"{history} finished campaigns, {history * calls:,} calls in history, in {inserted:.1f} s", flush=True)
        at_scale = measure_pages(client, large, args.requests)
    finally:
        if env["redis"]:
            env["redis"].stop()

    print(f"\npages at scale ({args.database}), {args.requests} requests each, test Client, superuser")
    print(f"{'page':<15} {'baseline: 1,000 calls':>26} {f'{calls:,} running + {history * calls:,} history':>40}"
          f"   target p95")
    for page in ("campaign_live", "campaign_list", "dashboard"):
        b, s = baseline[page], at_scale[page]
        verdict = "ok" if s["p95"] <= TARGET_P95_MS else "ABOVE"
        small_text = f"p50 {b['p50']:6.1f} ms, p95 {b['p95']:6.1f} ms"
        large_text = f"p50 {s['p50']:7.1f} ms, p95 {s['p95']:7.1f} ms"
        print(f"{page:<15} {small_text:>26} {large_text:>40}   <= {TARGET_P95_MS} ms {verdict} "
              f"(x{s['p95'] / b['p95']:.0f} the baseline)")
    print(f"load average (1/5/15 min) {'/'.join(f'{x:.1f}' for x in load_before)} before, "
          f"{'/'.join(f'{x:.1f}' for x in os.getloadavg())} after, on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
