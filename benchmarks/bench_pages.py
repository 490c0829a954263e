"""Pages at scale (issues 16, 27, 29, 30): every page a manager polls or opens, at a million calls with
outcomes and a million contacts called three times.

    DEBUG=1 .venv/bin/python benchmarks/bench_pages.py [--database sqlite|postgres] [--quick]
        [--calls N] [--history-campaigns H] [--requests 50] [--send-rate 500] [--no-redials]
        [--pages a,b] [--queries] [--profile a,b] [--reuse] [--pg-url URL]

In a fresh database (a temp SQLite file, or `bench_pages` on the PostgreSQL server) with an
embedded Redis, a logged-in superuser drives the pages with Django's test Client (the API with an
account key), `--requests` times each, and the p50/p95 of each (with the median request's CPU time
in this process, which the neighbours on a shared machine disturb far less than the wall time) is
printed beside the 50 ms target at p95, and beside a trivial page of the same server (`/health`
with its database check: one query) so that ratios mean something on a busy machine:
  - baseline: one running campaign of 1,000 calls with outcomes (nothing else in the database);
  - at scale, in one account: a running campaign of N calls (200,000 with --quick, 1,000,000
    otherwise; planned by dialer.planning as a launch does, its first half of batches placed, 5% of
    those rejected, the others given outcomes: answered with talk time and keys in one or two
    questions, busy, no answer, unreachable, rejected, failed, a few still unknown, over four weeks);
    a running campaign with redial rules in which each of the list's N contacts had 3 attempts
    (benchmarks/page_shapes.py; --no-redials leaves it out); and H finished campaigns of N calls in
    history (2 with --quick, 10 otherwise). Calls are inserted with INSERT ... SELECT over the list's
    contacts on either database, and their tallies rebuilt (dialer.tallies, dialer.outcomes.tallies)
    as `recount_calls` would.
Pages (benchmarks/page_timing.py): the campaign's page and its live fragment, the calls table (first
page, page 40, by outcome, by what was pressed), the campaign list, the dashboard with the account's
best time to call, the API's campaign and calls (all, by outcome); for the redial campaign its page,
fragment, calls (all, answered, pressed 1 to question 2) and API calls. `--queries` prints each
page's queries and their SQL time; `--profile` a cProfile of the named pages; `--reuse` measures
again in the PostgreSQL database a previous run built (the build takes minutes).
While the pages are measured the large campaign is sending: a separate process claims its next
planned batch and writes a 200 answer for all of its calls back through dialer.writeback (the
worker's own claim and write-back, without the HTTP request), `--send-rate` calls a second
(500: the bulk limit of 30,000 a minute). Beside the pages, the query each poll ran before the
tallies (the calls of the page's campaigns counted by state) is timed once for comparison, and so
are the reads the pages keep in the cache (what people pressed, the best time to call) when they miss.

DEBUG=1 only picks the development defaults (embedded Redis, sandbox, development keys); the pages
are then measured as production serves them, with settings.DEBUG off: no query log kept per
request and templates compiled without debug information. The cached template loader is on either
way (Django >= 4.1 caches templates with DEBUG on as well), so templates are never re-read per request.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
import page_shapes  # noqa: E402
import page_timing  # noqa: E402

TARGET_P95_MS = 50


def setup_environment(database: str, pg_url: str, *, reuse: bool = False) -> dict:
    os.environ["DEBUG"] = "1"
    tmp = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    if database == "postgres":
        import psycopg

        name = pg_url.rsplit("/", 1)[1]
        with psycopg.connect(pg_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not (reuse and exists):
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
    from django.conf import settings
    from django.core.management import call_command

    settings.DEBUG = False  # measured as production runs: before any template engine or request exists
    call_command("migrate", verbosity=0)
    return {"tmp": tmp, "redis": redis_server}


def running_campaign(flow, calls: int, *, first: int, name: str):
    """A campaign of `calls` calls planned as a launch plans them, then running, its first half of
    batches sent (5% of those calls rejected), the rest planned."""
    from django.db import connection

    from campaigns.models import Campaign
    from dialer import campaign_actions, planning, tallies
    from dialer.models import Batch, Call

    contact_list = contact_list_of(flow, calls, first=first, name=name)
    campaign = campaign_actions.campaign_create(contact_list=contact_list, name=name, window="00:00-24:00")
    campaign_actions.campaign_schedule(campaign=campaign)
    while not planning.campaign_plan(campaign_id=campaign.pk):
        pass
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING, started_at=campaign.created_at)
    sent = Batch.objects.filter(campaign=campaign).count() // 2
    Batch.objects.filter(campaign=campaign, sequence__lte=sent).update(
        status=Batch.Status.PLACED, response_code=200, completed_at=campaign.created_at)
    table, batches = Call._meta.db_table, Batch._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET state = CASE WHEN contact_id %% 20 = 1 THEN 'rejected' ELSE 'placed' END, "
                       f"provider_code = 200 WHERE campaign_id = %s AND batch_id IN "
                       f"(SELECT id FROM {batches} WHERE campaign_id = %s AND sequence <= %s)",
                       [campaign.pk, campaign.pk, sent])
    tallies.calls_recount(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


def contact_list_of(flow, count: int, *, first: int, name: str):
    """An imported list of `count` contacts: on PostgreSQL one INSERT ... SELECT over generate_series
    (a million Contact objects built in Python took minutes on a busy machine), then ANALYZE as an
    import does."""
    from django.db import connection

    from campaigns.models import Contact, ContactList
    from tests.factories import make_contact_list

    if connection.vendor != "postgresql":
        return make_contact_list(flow, count, first=first, name=name)
    contact_list = ContactList.objects.create(
        flow=flow, name=name, status=ContactList.Status.IMPORTED, imported_count=count, rows_done=count
    )
    table = Contact._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (contact_list_id, line, primary_number, numbers, variables, start_at, external_id) "
            f"SELECT %s, g - %s + 2, n, jsonb_build_array(n), jsonb_build_object('name', 'Customer ' || g), NULL, '' "
            f"FROM generate_series(%s, %s) AS g, LATERAL (SELECT '9198' || LPAD(g::text, 8, '0') AS n) AS number "
            f"ORDER BY g",
            [contact_list.pk, first, first, first + count - 1],
        )
        cursor.execute(f"ANALYZE {table}")
    return contact_list


def history_campaign(contact_list, index: int):
    """A completed campaign whose calls (one per contact of the list) are inserted in one statement."""
    from django.db import connection, transaction

    from campaigns.models import Campaign, Contact
    from dialer import campaign_actions, tallies
    from dialer.models import Call

    campaign = campaign_actions.campaign_create(
        contact_list=contact_list, name=f"history {index}", window="00:00-24:00"
    )
    calls, contacts = Call._meta.db_table, Contact._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # History is filler, consistent by construction: its million rows skip the foreign-key
            # triggers (a superuser's session setting, for this transaction only).
            cursor.execute("SET LOCAL session_replication_role = replica")
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
    tallies.calls_recount(campaign_id=campaign.pk)


def send_batches(campaign_id: int, calls_per_second: float) -> None:
    """The sending process: claim the campaign's next planned batch and write a 200 for all of its
    calls back through dialer.writeback, at the given pace, until SIGTERM; prints batches written."""
    import signal

    from dialer import claims, writeback
    from dialer.models import Batch, Call
    from phonon import client

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    print("ready", flush=True)
    written, started = 0, time.monotonic()
    while not stop:
        batch = Batch.objects.filter(campaign_id=campaign_id, status=Batch.Status.PLANNED).order_by("sequence").first()
        if batch is None:
            break
        Batch.objects.filter(pk=batch.pk, status=Batch.Status.PLANNED).update(status=Batch.Status.QUEUED)
        token = claims.batch_claim(batch_id=batch.pk)
        identifiers = Call.objects.filter(batch_id=batch.pk).values_list("client_identifier", flat=True)
        answer = client.Answer(
            outcome="answered", maybe_delivered=True, http_status=200, code=200, message="Success",
            request_id=f"bench-{batch.pk}",
            call_details=[{"client-identifier": cid, "phonon-uuid": f"uuid-{cid}"} for cid in identifiers],
        )
        batch.refresh_from_db()
        writeback.batch_apply_answer(batch=batch, token=token, answer=answer)
        written += 1
        # Paced: the next batch when the calls written so far would have left at this rate.
        time.sleep(max(0.0, started + written * batch.call_count / calls_per_second - time.monotonic()))
    print(json.dumps({"batches": written, "seconds": round(time.monotonic() - started, 1)}), flush=True)


def accepted_today_ms() -> float:
    """What the dashboard ran before the stored tallies: calls accepted today per flow."""
    from django.db.models import Count

    from dialer.models import Call
    from dialer.progress import ACCEPTED_STATES
    from flows.models import Flow
    from pages.selectors import start_of_today

    started = time.perf_counter()
    list(Call.objects.filter(campaign__flow__in=list(Flow.objects.all()), state__in=ACCEPTED_STATES,
                             updated_at__gte=start_of_today()).values_list("campaign__flow_id")
         .annotate(n=Count("id")).order_by())
    return (time.perf_counter() - started) * 1000


def counting_calls_ms(campaign_ids: list[int], repeat: int = 3) -> float:
    """What each poll ran before the stored tallies: the campaigns' calls counted by state."""
    from django.db.models import Count

    from dialer.models import Call

    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        list(Call.objects.filter(campaign_id__in=campaign_ids).values("campaign_id", "state")
             .annotate(n=Count("id")).order_by())
        times.append((time.perf_counter() - started) * 1000)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="200,000 calls, 2 history campaigns")
    parser.add_argument("--calls", type=int, default=None)
    parser.add_argument("--history-campaigns", type=int, default=None)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--send-rate", type=float, default=500.0,
                        help="calls a second the sending process writes back during the measurement")
    parser.add_argument("--no-redials", action="store_true", help="without the campaign of N contacts x 3 attempts")
    parser.add_argument("--pages", default="", help="comma-separated page names to measure (default: all)")
    parser.add_argument("--queries", action="store_true", help="print each page's queries and their time")
    parser.add_argument("--profile", default="", help="print a cProfile of these pages (comma-separated)")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/bench_pages")
    parser.add_argument("--reuse", action="store_true",
                        help="PostgreSQL: measure again in the database a previous run built")
    parser.add_argument("--sender", type=int, default=None, help=argparse.SUPPRESS)  # the sending process
    args = parser.parse_args()
    if args.sender is not None:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        send_batches(args.sender, args.send_rate)
        return
    calls = args.calls or (200_000 if args.quick else 1_000_000)
    history = args.history_campaigns if args.history_campaigns is not None else (2 if args.quick else 10)
    load_before = os.getloadavg()
    os.environ.setdefault("API_THROTTLE_RATE", "1000000/60")  # the API's pages, not its throttle
    env = setup_environment(args.database, args.pg_url, reuse=args.reuse)
    try:
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test import Client

        from api.keys import api_key_create
        from campaigns.models import Campaign
        from tests.factories import make_flow

        client = Client(SERVER_NAME="localhost")
        large = Campaign.objects.filter(name=f"running {calls:,}").first() if args.reuse else None
        if large is not None:
            client.force_login(get_user_model().objects.get(username="bench"))
            small = Campaign.objects.filter(name="baseline 1,000").first()
            baseline = page_timing.measure_all(
                client, _chosen(page_timing.page_urls(small), args.pages), args.requests,
                api_key_create(account=small.flow.account, name="bench")[1],
            ) if small else None
            redial = Campaign.objects.filter(name=f"redials {calls:,} x 3").first()
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            print(f"reused the database: campaign {large.pk} of {calls:,} calls, "
                  f"{Campaign.objects.filter(name__startswith='history').count()} finished campaigns in history"
                  f"{f', redial campaign {redial.pk}' if redial else ''}", flush=True)
        else:
            user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-pass")
            client.force_login(user)
            flow = make_flow(flow_id="PAGEbnch", client_id="pages-bench")

            # The baseline on an account of its own: the large campaign's planning then has no other
            # campaign's calls to check the dialling cap against (planning is not what is measured).
            baseline_flow = make_flow(flow_id="PAGEbase", client_id="pages-baseline")
            small = running_campaign(baseline_flow, 1_000, first=50_000_000, name="baseline 1,000")
            page_shapes.calls_with_outcomes(small.pk)
            small_key = api_key_create(account=baseline_flow.account, name="bench")[1]
            baseline = page_timing.measure_all(client, _chosen(page_timing.page_urls(small), args.pages),
                                               args.requests, small_key)

            started = time.perf_counter()
            large = running_campaign(flow, calls, first=0, name=f"running {calls:,}")
            page_shapes.calls_with_outcomes(large.pk)
            planned = time.perf_counter() - started
            started = time.perf_counter()
            redial = None
            if not args.no_redials:
                redial = page_shapes.redial_campaign(large.contact_list, name=f"redials {calls:,} x 3")
            redialled = time.perf_counter() - started
            started = time.perf_counter()
            for index in range(history):
                history_campaign(large.contact_list, index)
            inserted = time.perf_counter() - started
            with connection.cursor() as cursor:  # the planner's statistics, as autovacuum would have them
                cursor.execute("ANALYZE")
            print(f"built: running campaign of {calls:,} calls with outcomes in {planned:.1f} s (list, plan, states, "
                  f"outcomes); {'no redial campaign' if redial is None else f'{calls:,} contacts x 3 attempts'} "
                  f"in {redialled:.1f} s; {history} finished campaigns, {history * calls:,} calls in history, "
                  f"in {inserted:.1f} s", flush=True)
        api_key = api_key_create(account=large.flow.account, name="bench at scale")[1]
        urls = _chosen(page_timing.page_urls(large, redial), args.pages)
        # The old per-poll queries, timed once each: the live page's campaign, the list's page of
        # campaigns, the dashboard's calls accepted today.
        before = {"campaign_live": counting_calls_ms([large.pk]),
                  "campaign_list": counting_calls_ms(list(Campaign.objects.values_list("pk", flat=True)), repeat=1),
                  "dashboard": accepted_today_ms()}
        misses = cache_misses_ms(large, redial)
        sender = subprocess.Popen([sys.executable, __file__, "--sender", str(large.pk), "--send-rate",
                                   str(args.send_rate)], stdout=subprocess.PIPE, text=True, env=os.environ)
        sender.stdout.readline()  # "ready": it sends from now on
        time.sleep(1)
        try:
            at_scale = page_timing.measure_all(client, urls, args.requests, api_key)
            queries = ({name: page_timing.queries_of(client, url, api_key) for name, url in urls.items()}
                       if args.queries else {})
            profiles = {name: page_timing.profile_of(client, urls[name], api_key)
                        for name in args.profile.split(",") if name in urls}
        finally:
            sender.terminate()
            sent = json.loads(sender.communicate(timeout=60)[0].strip().splitlines()[-1])
    finally:
        if env["redis"]:
            env["redis"].stop()

    for name, text in profiles.items():
        print(f"\n--- cProfile of {name} (5 requests) ---\n{text}")
    for name, seen in queries.items():
        print(f"{name}: {seen['count']} queries, {seen['ms']:.1f} ms in SQL; slowest: {seen['slowest']}")
    _report(args, calls, history, redial, baseline, at_scale, sent)
    print(f"before the stored tallies, each poll counted calls: {before['campaign_live']:,.0f} ms by state for the "
          f"live page's campaign, {before['campaign_list']:,.0f} ms for the list's campaigns, "
          f"{before['dashboard']:,.0f} ms accepted today for the dashboard (the query alone, timed once)")
    print("what the cache saves, timed once each (a miss pays it): " + ", ".join(
        f"{name} {ms:,.0f} ms" for name, ms in misses.items()))
    print(f"load average (1/5/15 min) {'/'.join(f'{x:.1f}' for x in load_before)} before, "
          f"{'/'.join(f'{x:.1f}' for x in os.getloadavg())} after, on {os.cpu_count()} CPUs")


def cache_misses_ms(large, redial) -> dict:
    """What a read the pages cache costs when it misses: what people pressed (per campaign, kept
    under its tallies) and the account's best time to call (kept a few minutes)."""
    from dialer.redials import best_time, survey

    def timed(read) -> float:
        started = time.perf_counter()
        read()
        return (time.perf_counter() - started) * 1000

    misses = {"survey of the 1M campaign": timed(lambda: survey.pressed_counts(large))}
    if redial is not None:
        misses["survey of the 3M-call redial campaign"] = timed(lambda: survey.pressed_counts(redial))
    misses["best time of the account"] = timed(
        lambda: best_time.best_time_read(account_id=large.flow.account_id, zone=large.timezone))
    return misses


def _chosen(urls: dict, pages: str) -> dict:
    wanted = {name for name in pages.split(",") if name}
    return {name: url for name, url in urls.items() if not wanted or name in wanted or name == "trivial"}


def _report(args, calls, history, redial, baseline, at_scale, sent) -> None:
    scale = f"{calls:,} with outcomes + {history * calls:,} history" + (
        f" + {calls:,} x 3 redials" if redial else "")
    print(f"\npages at scale ({args.database}), {args.requests} requests each, test Client, superuser; "
          f"meanwhile the sender wrote back {sent['batches']} batches in {sent['seconds']} s "
          f"(asked for {args.send_rate:,.0f} calls/s)")
    print(f"{'page':<22} {'baseline: 1,000 calls':>38} {scale:>52}   target p95   "
          f"(cpu: the median request's CPU time in this process)")
    trivial = at_scale.get("trivial")
    for page, s in at_scale.items():
        verdict = "ok" if s["p95"] <= TARGET_P95_MS else "ABOVE"
        b = baseline.get(page) if baseline else None
        small_text = (f"p50 {b['p50']:6.1f} ms, p95 {b['p95']:6.1f} ms, cpu {b['cpu_p50']:4.1f} ms" if b
                      else "(not measured)")
        large_text = f"p50 {s['p50']:7.1f} ms, p95 {s['p95']:7.1f} ms, cpu {s['cpu_p50']:4.1f} ms"
        ratio = f" (x{s['p95'] / b['p95']:.1f} the baseline" if b else " ("
        ratio += f", x{s['p50'] / trivial['p50']:.0f} the trivial page's p50)" if trivial else ")"
        print(f"{page:<22} {small_text:>38} {large_text:>52}   <= {TARGET_P95_MS} ms {verdict}{ratio}")


if __name__ == "__main__":
    main()
