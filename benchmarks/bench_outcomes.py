"""Outcomes benchmark: the push receiver, applying stored reports, and the Pull API reconciler.

    DEBUG=1 .venv/bin/python benchmarks/bench_outcomes.py [--database sqlite|postgres|both]
        [--reports N] [--clients C] [--through-django N] [--keep-alive] [--outcomes N] [--pull-calls N]

Each database gets a freshly migrated database of its own (a temp SQLite file, or a
`bench_outcomes` database on PG_URL) and an embedded Redis. Three measures, each with a baseline
from the same run:
  - receiver: N delivery reports POSTed by C client threads (a new connection each, or one kept
    with --keep-alive; with the TLS proxy's headers) to a flow's report URL served by ONE gunicorn
    worker process, started with docker-compose.yml's web command and production settings
    (DEBUG=0); each answered only once stored. Reports/s, p50/p99 latency and the worker's CPU a
    request, against POSTs to a report URL no flow has on the same worker (404 after one query:
    the server's floor), and against the same reports through Django's middleware and view
    (config.wsgi:django_application, the path before the lean one; --through-django N).
    Targets: >= 1,000 reports/s, p99 < 50 ms, on PostgreSQL.
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
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.process_cpu import postgres_backend_cpu  # noqa: E402


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
    started_cpu, started, started_db = time.process_time(), time.perf_counter(), postgres_backend_cpu()
    applied = 0
    while True:
        result = applying.reports_apply(limit=settings.OUTCOME_APPLY_BATCH)
        if not result.reports and not result.unmatched:
            break
        applied += result.reports
    seconds, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    db_cpu = postgres_backend_cpu() - started_db if started_db is not None else None
    agree = tallies.outcomes_stored(campaign_id=campaign.pk) == tallies.outcomes_counted(campaign_id=campaign.pk)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Call._meta.db_table} SET outcome_at = NULL WHERE campaign_id = %s", [campaign.pk])
    floor = time.perf_counter() - started
    return {
        "applied": applied,
        "seconds": seconds,
        "cpu": cpu,
        "db_cpu": db_cpu,
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


# The web server as production runs it (DEBUG=0), with throwaway secrets that never leave this run.
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "bench-only-secret-key-never-used-anywhere-else-0123456789",
    "FIELD_ENCRYPTION_KEYS": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "ALLOWED_HOSTS": "127.0.0.1",
}


def web_command(port: int, app: str = "config.wsgi") -> list[str]:
    """docker-compose.yml's web command (worker class, threads, access log...), on a loopback port
    and with ONE worker process."""
    import yaml

    command = list(yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]["command"])
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    command[command.index("--workers") + 1] = "1"
    command[command.index("config.wsgi")] = app
    return [sys.executable, "-m", *command]


class _Client:
    """POSTs as the TLS proxy in front of gunicorn sends them (HTTPS said in X-Forwarded-Proto, the
    sender's address appended to X-Forwarded-For): each on a new connection, or, with keep_alive,
    all on one kept open (a proxy that keeps its connections to gunicorn, e.g. nginx `keepalive`)."""

    def __init__(self, port: int, keep_alive: bool):
        self.port, self.keep_alive = port, keep_alive
        self.sock, self.buffer = None, b""

    def post(self, path: str, body: bytes) -> int:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Forwarded-Proto: https\r\nX-Forwarded-For: 203.0.113.7\r\n"
            + ("" if self.keep_alive else "Connection: close\r\n")
            + "\r\n"
        )
        if self.sock is None:
            self.sock, self.buffer = socket.create_connection(("127.0.0.1", self.port), timeout=60), b""
        self.sock.sendall(head.encode() + body)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._read()
        header, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        length = int(header.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        while len(self.buffer) < length:
            self.buffer += self._read()
        self.buffer = self.buffer[length:]
        if not self.keep_alive or b"connection: close" in header.lower():
            self.sock.close()
            self.sock = None
        return int(header[9:12])

    def _read(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection mid-answer")
        return chunk


def _hammer(port: int, paths_and_bodies, clients: int, keep_alive: bool = False) -> tuple[list[float], float, dict]:
    """POST each body from `clients` threads at once (a light client: the server is measured)."""
    latencies, statuses, lock = [], {}, threading.Lock()
    work = iter(paths_and_bodies)

    def client():
        connection = _Client(port, keep_alive)
        while True:
            with lock:
                item = next(work, None)
            if item is None:
                return
            started = time.perf_counter()
            status = connection.post(*item)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(latencies), time.perf_counter() - started, statuses


def _percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(len(values) * share))] * 1000


def _measure(server: subprocess.Popen, port: int, paths_and_bodies, clients: int, keep_alive: bool = False) -> dict:
    """Rate and latency, and the CPU the worker process spent a request: on a machine shared with
    other work the rate follows the load, the CPU much less."""
    import psutil

    worker = psutil.Process(server.pid).children()[0]
    cpu = sum(worker.cpu_times()[:2])
    latencies, seconds, statuses = _hammer(port, paths_and_bodies, clients, keep_alive)
    return {
        "count": len(latencies),
        "rate": len(latencies) / seconds,
        "p50": _percentile(latencies, 0.5),
        "p99": _percentile(latencies, 0.99),
        "statuses": statuses,
        "cpu_ms": (sum(worker.cpu_times()[:2]) - cpu) * 1000 / len(latencies),
    }


def _serve(env, port: int, app: str) -> subprocess.Popen:
    server = subprocess.Popen(
        web_command(port, app), env={**env, **PRODUCTION_ENV}, cwd=ROOT, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not start within 60 s")


def bench_receiver(env, count: int, clients: int, through_django: int, keep_alive: bool = False) -> dict:
    """The receiver on one worker, against the same worker refusing a report URL no flow has (the
    floor: the server and one query); then, for comparison, reports through Django's middleware
    and view (config.wsgi:django_application, the path every report took before the lean one)."""
    from config.embedded_redis import free_port

    setup = run_child(env, "setup", str(count))
    path = "/reports/" + setup["report_url"].split("/reports/")[1]
    bodies = [(path, _body(uuid, i)) for i, uuid in enumerate(setup["uuids"])]
    result = {}
    port = free_port()
    server = _serve(env, port, "config.wsgi")
    try:
        _hammer(port, [("/reports/warm-up/", b"{}")] * clients * 4, clients)
        floor = [("/reports/no-such-secret/", b"{}")] * count
        result["floor"] = _measure(server, port, floor, clients, keep_alive)
        result["receiver"] = _measure(server, port, bodies, clients, keep_alive)
    finally:
        server.terminate()
        server.wait(timeout=10)
    if through_django:
        port = free_port()
        server = _serve(env, port, "config.wsgi:django_application")
        try:
            result["django"] = _measure(server, port, bodies[:through_django], clients, keep_alive)
        finally:
            server.terminate()
            server.wait(timeout=10)
    result["stored"] = run_child(env, "summary", str(setup["campaign_id"]))["stored"]
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--reports", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--through-django", type=int, default=1000, help="reports sent the old way too (0: none)")
    parser.add_argument("--keep-alive", action="store_true", help="clients keep their connection (as a proxy may)")
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
                    print(
                        f"  receiver: {' '.join(web_command(0)[2:])} (the compose web command, 1 worker), "
                        f"{args.clients} clients, {'one kept connection' if args.keep_alive else 'a new connection'} "
                        f"each, load {os.getloadavg()[0]:.1f}"
                    )
                    r = bench_receiver(env, args.reports, args.clients, args.through_django, args.keep_alive)
                    lines = [
                        ("receiver, stored before 200", r["receiver"]),
                        ("baseline: unknown report URL (404), same worker", r["floor"]),
                    ]
                    if "django" in r:
                        lines.append(("before: the same reports through Django's middleware", r["django"]))
                    for label, m in lines:
                        print(
                            f"    {label}: {m['count']:,} in {m['rate']:,.0f}/s, p50 {m['p50']:.1f} ms, "
                            f"p99 {m['p99']:.1f} ms, worker CPU {m['cpu_ms']:.2f} ms each (answers {m['statuses']})"
                        )
                    m = r["receiver"]
                    ratio = m["rate"] / r["floor"]["rate"]
                    print(f"    receiver / baseline: {ratio:.2f}; reports stored {r['stored']:,}")
                    verdict = "met" if m["rate"] >= 1000 and m["p99"] < 50 else "MISSED"
                    load = os.getloadavg()[0]
                    print(f"    target >= 1,000 reports/s with p99 < 50 ms: {verdict} (load now {load:.1f})")
                    failed |= verdict == "MISSED" and kind == "postgres"
                prepare_database(kind, Path(folder), args.pg_url)
                if "apply" in only:
                    a = run_child(env, "apply", str(args.outcomes))
                    per_million = a["seconds"] / a["applied"] * 1_000_000 if a["applied"] else float("inf")
                    print(
                        f"  applying {a['applied']:,} reports ({a['batch']} a transaction): {a['seconds']:.1f} s wall, "
                        f"{a['cpu']:.1f} s CPU in the worker = {a['applied'] / a['seconds']:,.0f} outcomes/s; "
                        f"tallies agree with a count: {a['tallies_agree']}"
                    )
                    if a.get("db_cpu") is not None:
                        print(
                            f"    worker time = worker CPU {a['cpu']:.1f} s + database server CPU {a['db_cpu']:.1f} s "
                            f"= {a['cpu'] + a['db_cpu']:.1f} s (the rest of the wall time is waiting: load, disk)"
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
