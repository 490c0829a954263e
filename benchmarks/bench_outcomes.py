"""Outcomes benchmark: the push receiver, applying stored reports, and the Pull API reconciler.

    DEBUG=1 .venv/bin/python benchmarks/bench_outcomes.py [--database sqlite|postgres|both]
        [--reports N] [--clients C] [--outcomes N] [--pull-calls N]

Each database gets a freshly migrated database of its own (a temp SQLite file, or a
`bench_outcomes` database on PG_URL) and an embedded Redis. Three measures, each with a baseline
from the same run:
  - receiver: N delivery reports POSTed by C client threads to a flow's report URL served by ONE
    gunicorn sync worker process (each answered only once stored); reports/s and p50/p99 latency,
    against POSTs to a report URL no flow has (404 after one query: the framework's floor). Targets: >= 1,000 reports/s,
    p99 < 50 ms.
  - applying: N stored reports applied to N placed calls by one process, as the worker does
    (dialer.outcomes.applying), in transactions of OUTCOME_APPLY_BATCH; against one UPDATE of the
    same calls (the floor). Target: 1,000,000 in under 60 s of worker time (extrapolated when
    run smaller).
  - pull: N placed calls with no push, fetched from the sandbox's Pull API by the reconciler; the
    number of requests against ceil(N / PHONON_PULL_MAX_UUIDS) (target: 100,000 calls in 500).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _django():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _placed_calls(count: int, *, flow_id="bEnChOut"):
    """A flow and a campaign with `count` placed calls whose uuids are `bench-<call id>`."""
    from django.db import connection
    from django.utils import timezone

    from campaigns.models import Campaign, Contact, ContactList
    from dialer import campaign_actions
    from dialer.models import Batch, Call
    from dialer.planning import campaign_plan
    from dialer.tallies import calls_recount
    from flows.models import Account, Flow

    account = Account.objects.create(name="Bench", client_id=f"B{flow_id}")
    flow = Flow.objects.create(account=account, flow_id=flow_id, security_id="bench-secret")
    contact_list = ContactList.objects.create(
        flow=flow, name="bench", status=ContactList.Status.IMPORTED, imported_count=count, rows_done=count
    )
    Contact.objects.bulk_create(
        [
            Contact(contact_list=contact_list, line=i + 2, primary_number=f"9198{i:08d}", numbers=[f"9198{i:08d}"])
            for i in range(count)
        ],
        batch_size=10_000,
    )
    campaign = campaign_actions.campaign_create(contact_list=contact_list, window="00:00-24:00")
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SCHEDULED)
    while not campaign_plan(campaign_id=campaign.pk, slice_size=100_000):
        pass
    now = timezone.now()
    Batch.objects.filter(campaign=campaign).update(status=Batch.Status.PLACED, completed_at=now, frozen_at=now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Call._meta.db_table} SET state = 'placed', phonon_uuid = 'bench-' || CAST(id AS TEXT) "
            "WHERE campaign_id = %s",
            [campaign.pk],
        )
    calls_recount(campaign_id=campaign.pk)
    return flow, campaign


def _body(uuid: str, index: int) -> bytes:
    kind = index % 4
    entry = {
        "cdrId": f"{uuid}##1",
        "calleeNumber": "919800000000",
        "startTime": "2026-12-07T10:00:00+05:30",
        "endTime": "2026-12-07T10:01:00+05:30",
        "hangupCause": ["16", "17", "19", "1"][kind],
    }
    if kind == 0:
        entry.update(
            connectTime="2026-12-07T10:00:10+05:30",
            duration="50000",
            dtmfPressesd=[{"key": "1", "eventTime": "2026-12-07T10:00:20+05:30", "label": ""}],
        )
    return json.dumps({"body": {"phonon-uuid": uuid, "callDetails": [entry]}}).encode()


# --- children -------------------------------------------------------------------------------------


def child_setup(count: int) -> dict:
    _django()
    from django.core.management import call_command

    from dialer.models import Call
    from flows.services import flow_report_url

    call_command("migrate", verbosity=0)
    flow, campaign = _placed_calls(count)
    uuids = list(Call.objects.filter(campaign=campaign).values_list("phonon_uuid", flat=True))
    return {"report_url": flow_report_url(flow), "uuids": uuids, "campaign_id": campaign.pk}


def child_summary(campaign_id: int) -> dict:
    _django()
    from dialer.models import OutcomeReport
    from dialer.outcomes.tallies import summary_of

    return {
        "stored": OutcomeReport.objects.count(),
        "pending": OutcomeReport.objects.filter(status="pending").count(),
        "outcomes": summary_of(campaign_id).as_dict(),
    }


def child_apply(count: int) -> dict:
    _django()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from dialer.models import Call, OutcomeReport
    from dialer.outcomes import applying, tallies

    call_command("migrate", verbosity=0)
    flow, campaign = _placed_calls(count, flow_id="bEnChApl")
    calls = list(Call.objects.filter(campaign=campaign).values_list("phonon_uuid", flat=True))
    OutcomeReport.objects.bulk_create(
        [OutcomeReport(flow=flow, phonon_uuid=uuid, body=_body(uuid, i).decode()) for i, uuid in enumerate(calls)],
        batch_size=10_000,
    )
    started_cpu, started = time.process_time(), time.perf_counter()
    applied = 0
    while True:
        result = applying.reports_apply(limit=settings.OUTCOME_APPLY_BATCH)
        if not result.reports and not result.unmatched:
            break
        applied += result.reports
    seconds, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    agree = tallies.outcomes_stored(campaign_id=campaign.pk) == tallies.outcomes_counted(campaign_id=campaign.pk)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Call._meta.db_table} SET outcome_at = NULL WHERE campaign_id = %s", [campaign.pk])
    floor = time.perf_counter() - started
    return {
        "applied": applied,
        "seconds": seconds,
        "cpu": cpu,
        "floor_update_seconds": floor,
        "tallies_agree": agree,
        "batch": settings.OUTCOME_APPLY_BATCH,
    }


def child_pull(count: int) -> dict:
    _django()
    from django.conf import settings
    from django.core.management import call_command

    from dialer.models import Call, OutcomeReport
    from dialer.outcomes import pulling
    from phonon.sandbox import start_sandbox_thread

    call_command("migrate", verbosity=0)
    sandbox = start_sandbox_thread()
    flow, campaign = _placed_calls(count, flow_id="bEnChPul")
    for index, uuid in enumerate(Call.objects.filter(campaign=campaign).values_list("phonon_uuid", flat=True)):
        sandbox.provider.outcomes._reports[uuid] = (0.0, flow.flow_id, json.loads(_body(uuid, index))["body"])
    settings.PHONON_PULL_URL = f"{sandbox.base_url}/pull"
    settings.PHONON_PULL_AFTER = 0
    started = time.perf_counter()
    requests = 0
    while True:
        run = pulling.outcomes_pull(max_requests=100, max_wait=10)
        requests += run.requests
        if not run.requests:
            break
    seconds = time.perf_counter() - started
    sandbox.stop()
    return {
        "requests": requests,
        "sandbox_requests": sandbox.provider.outcomes.stats()["pull_requests"],
        "stored": OutcomeReport.objects.filter(source="pull").count(),
        "seconds": seconds,
        "max_uuids": settings.PHONON_PULL_MAX_UUIDS,
        "rate": settings.PHONON_PULL_RATE,
    }


# --- the parent ------------------------------------------------------------------------------------


def prepare_database(kind: str, folder: Path, pg_url: str) -> str:
    if kind == "sqlite":
        for leftover in folder.glob("bench_outcomes.sqlite3*"):
            leftover.unlink()
        return f"sqlite:///{folder / 'bench_outcomes.sqlite3'}"
    import psycopg

    name = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return pg_url


def run_child(env, *args) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(done.stdout[-3000:] + done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _hammer(urls_and_bodies, clients: int) -> tuple[list[float], float, dict]:
    import requests

    latencies, statuses, lock = [], {}, threading.Lock()
    work = iter(urls_and_bodies)

    def client():
        session = requests.Session()
        while True:
            with lock:
                item = next(work, None)
            if item is None:
                return
            url, body = item
            started = time.perf_counter()
            answer = session.post(url, data=body) if body is not None else session.get(url)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(latencies), time.perf_counter() - started, statuses


def _percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(len(values) * share))] * 1000


def bench_receiver(env, count: int, clients: int) -> dict:
    from config.embedded_redis import free_port

    setup = run_child(env, "setup", str(count))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    report_url = setup["report_url"].replace(setup["report_url"].split("/reports/")[0], base)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        import requests

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        # The floor: the same worker refusing a report URL no flow has (the framework and one query).
        health = [(f"{base}/reports/no-such-secret/", b"{}")] * count
        floor, floor_seconds, _ = _hammer(health, clients)
        bodies = [(report_url, _body(uuid, i)) for i, uuid in enumerate(setup["uuids"])]
        latencies, seconds, statuses = _hammer(bodies, clients)
    finally:
        server.terminate()
        server.wait(timeout=10)
    stored = run_child(env, "summary", str(setup["campaign_id"]))
    return {
        "count": count,
        "seconds": seconds,
        "statuses": statuses,
        "p50": _percentile(latencies, 0.5),
        "p99": _percentile(latencies, 0.99),
        "floor_rate": count / floor_seconds,
        "floor_p99": _percentile(floor, 0.99),
        "stored": stored["stored"],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--reports", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--outcomes", type=int, default=100_000)
    parser.add_argument("--pull-calls", type=int, default=100_000)
    parser.add_argument("--only", choices=["receiver", "apply", "pull"], action="append")
    parser.add_argument(
        "--pg-url", default=os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432/bench_outcomes")
    )
    parser.add_argument("--child", action="store_true")
    parser.add_argument("rest", nargs="*")
    args = parser.parse_args()
    if args.child:
        what, number = args.rest[0], int(args.rest[1])
        result = {"setup": child_setup, "summary": child_summary, "apply": child_apply, "pull": child_pull}[what](
            number
        )
        print(json.dumps(result))
        return 0
    from config.embedded_redis import EmbeddedRedis

    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    only = set(args.only or ["receiver", "apply", "pull"])
    failed = False
    print(f"Machine load at start: {os.getloadavg()[0]:.1f} (1 min), {os.cpu_count()} cores (others' sessions too)")
    for kind in kinds:
        redis = EmbeddedRedis().start()
        try:
            with tempfile.TemporaryDirectory() as folder:
                env = dict(
                    os.environ,
                    DEBUG=os.environ.get("DEBUG", "1"),
                    REDIS_URL=redis.url,
                    DATABASE_URL=prepare_database(kind, Path(folder), args.pg_url),
                    SANDBOX_REPORT_URLS="0",
                    PHONON_PULL_RATE=os.environ.get("PHONON_PULL_RATE", "6000/60"),
                )
                print(f"\n{kind}:")
                if "receiver" in only:
                    r = bench_receiver(env, args.reports, args.clients)
                    rate = r["count"] / r["seconds"]
                    print(
                        f"  receiver, 1 gunicorn worker, {args.clients} clients: {r['count']:,} reports in "
                        f"{r['seconds']:.2f} s = {rate:,.0f} reports/s, p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms "
                        f"(answers {r['statuses']}; {r['stored']:,} stored)"
                    )
                    print(
                        f"    baseline, unknown report URL (404), same worker: {r['floor_rate']:,.0f} requests/s, "
                        f"p99 {r['floor_p99']:.1f} ms"
                    )
                    verdict = "met" if rate >= 1000 and r["p99"] < 50 else "MISSED"
                    print(f"    target >= 1,000 reports/s with p99 < 50 ms: {verdict}")
                    failed |= verdict == "MISSED"
                prepare_database(kind, Path(folder), args.pg_url)
                if "apply" in only:
                    a = run_child(env, "apply", str(args.outcomes))
                    per_million = a["seconds"] / a["applied"] * 1_000_000 if a["applied"] else float("inf")
                    print(
                        f"  applying {a['applied']:,} reports ({a['batch']} a transaction): {a['seconds']:.1f} s wall, "
                        f"{a['cpu']:.1f} s CPU in the worker = {a['applied'] / a['seconds']:,.0f} outcomes/s; "
                        f"tallies agree with a count: {a['tallies_agree']}"
                    )
                    print(
                        f"    baseline: one UPDATE of the same calls {a['floor_update_seconds']:.2f} s; "
                        f"extrapolated to 1,000,000: {per_million:.0f} s (target under 60 s on PostgreSQL)"
                    )
                prepare_database(kind, Path(folder), args.pg_url)
                if "pull" in only:
                    p = run_child(env, "pull", str(args.pull_calls))
                    expected = -(-args.pull_calls // p["max_uuids"])
                    print(
                        f"  pull reconciler: {args.pull_calls:,} calls in {p['requests']} requests "
                        f"(sandbox counted {p['sandbox_requests']}; ceil(N / {p['max_uuids']}) = {expected}), "
                        f"{p['stored']:,} reports stored, {p['seconds']:.1f} s at limit {p['rate']}"
                    )
                    failed |= p["requests"] != expected or p["stored"] != args.pull_calls
        finally:
            redis.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
