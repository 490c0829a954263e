"""Dispatch benchmarks (issue: dispatch that never exceeds the provider's limit).

    DEBUG=1 .venv/bin/python benchmarks/bench_dispatch.py [--database sqlite|postgres] [--quick]

(a) share of the limit used over a sustained run with 4 real worker processes;
(b) calls per second one real worker process sends end to end (build, send, write back) with the
    limit lifted, against the bulk limit of 500 calls/s;
(c) time to plan 1,000,000 contacts into batches, against a plain ORM planner on a slice;
(d) pacing: the most calls the sandbox received in any 1-second window against the even rate plus
    one request, and the share of the limit used, at 1,000 calls/5 s and (not --quick) at the real
    bulk limit of 30,000 calls/min;
(e) two campaigns on one limit, the second launched 2.5 s after the first: each window's share of
    the newer one (normal beside normal: 50% ± 15%; high beside normal: 67% ± 15%), and the share of
    the limit used while both ran;
(f) round trips per batch, in this process (no broker, no worker): the SQL statements and commits
    of one `send_batch_task` (claim, freeze, attempt, send, write-back and the pump after it), and
    `--profile` adds cProfile's top functions;
(g) the real bulk limit sustained: 150,000 calls at 30,000 calls/60 s with 4 workers (about 5
    minutes), read from the sandbox's own counts: the calls in each whole 60 s window from the
    first arrival (target >= 98% of the limit) and the most in any 60 s (never over the limit).

Everything runs against loopback only: a fresh database, an embedded (or given) Redis, the
sandbox provider in its own process.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_environment(database: str) -> dict:
    os.environ["DEBUG"] = "1"
    tmp = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
    if database == "postgres":
        import psycopg

        # BENCH_PG_DATABASE names the database; BENCH_DATABASE_PREFIX: parallel runs on one server
        # each use their own databases.
        name = os.environ.get("BENCH_PG_DATABASE") or (
            f"{os.environ.get('BENCH_DATABASE_PREFIX', 'bench_dispatch')}_{os.getpid()}"
        )
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{name}"
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    from config.embedded_redis import EmbeddedRedis, free_port

    redis_server = None
    if not os.environ.get("REDIS_URL"):
        redis_server = EmbeddedRedis().start()
        os.environ["REDIS_URL"] = redis_server.url
    port = free_port()
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "phonon.sandbox", "--port", str(port), "--private-key", str(tmp / "key.pem")],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/_sandbox/health", timeout=1)  # noqa: S310 - loopback
            break
        except OSError:
            time.sleep(0.1)
    os.environ["PHONON_REALTIME_BASE_URL"] = f"{base}/realtime"
    os.environ["PHONON_BULK_BASE_URL"] = f"{base}/bulk"
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return {"tmp": tmp, "sandbox": sandbox, "base": base, "redis": redis_server}


def sandbox_get(base: str, path: str) -> dict:
    with urllib.request.urlopen(base + path, timeout=30) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def sandbox_reset(base: str) -> None:
    request = urllib.request.Request(base + "/_sandbox/reset", data=b"{}", method="POST")
    urllib.request.urlopen(request, timeout=10).read()  # noqa: S310 - loopback


def run_campaign(contacts: int, *, workers: int, env: dict, batch_size: int = 500, timeout: float = 600,
                 mode: str = "realtime", watch=None):
    return run_campaigns([contacts], workers=workers, env=env, batch_size=batch_size, timeout=timeout,
                         mode=mode, watch=watch)[0]


class CpuWatch:
    """The CPU seconds each process spends between start() and stop(): the workers, beat, the
    sandbox and the PostgreSQL backends serving this database, read from /proc every 0.1 s (a
    backend's figure is its last reading before it went away)."""

    def __init__(self, sandbox_pid: int):
        self.sandbox_pid = sandbox_pid
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.started: set[str] = set()
        self.done = threading.Event()

    @staticmethod
    def cpu_seconds(pid: int) -> float | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _pids(self, processes) -> dict[str, int]:
        from django.db import connection

        pids = {f"worker{i}": p.pid for i, p in enumerate(processes.workers)}
        pids.update(beat=processes.beat.pid if processes.beat else None, sandbox=self.sandbox_pid)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                pids.update({f"postgres{pid}": pid for (pid,) in cursor.fetchall()})
        return {name: pid for name, pid in pids.items() if pid}

    def _sample(self, processes) -> None:
        while not self.done.is_set():
            for name, pid in self._pids(processes).items():
                if (seconds := self.cpu_seconds(pid)) is not None:
                    self.first.setdefault(name, seconds if name in self.started else 0.0)
                    self.last[name] = seconds
            self.done.wait(0.1)

    def start(self, processes) -> None:
        self.started = set(self._pids(processes))  # running before the clock: count from here
        self.thread = threading.Thread(target=self._sample, args=(processes,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join()

    def seconds(self) -> dict[str, float]:
        """CPU seconds by process kind: worker (all workers), beat, sandbox, postgres (all backends)."""
        totals: dict[str, float] = {}
        for name, last in self.last.items():
            kind = name.rstrip("0123456789")
            totals[kind] = totals.get(kind, 0.0) + last - self.first[name]
        return totals


def run_campaigns(contacts: list[int], *, workers: int, env: dict, batch_size: int = 500, timeout: float = 600,
                  mode: str = "realtime", priorities: tuple = (), apart: float = 0.0, watch=None):
    """Campaigns on one flow, each launched `apart` seconds after the first call of the one before.
    `watch` (a CpuWatch): started once the processes are up, stopped before they are."""
    from campaigns.models import Campaign
    from dialer import campaign_actions
    from tests.factories import make_contact_list, make_flow
    from tests.processes import Processes

    flow = make_flow(flow_id=f"B{time.monotonic_ns() % 10**7:07d}", client_id=f"bench{time.monotonic_ns()}",
                     mode=mode)
    lists = [make_contact_list(flow, count, first=index * 1_000_000) for index, count in enumerate(contacts)]
    log_dir = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    processes = Processes(workers=workers, beat=True, log_dir=log_dir, **env)
    processes.env.update({key: str(value) for key, value in env.items()})
    processes.start()
    campaigns = []
    try:
        time.sleep(3)  # let the workers connect before the clock starts
        if watch:
            watch.start(processes)
        for index, contact_list in enumerate(lists):
            if campaigns:
                while not campaigns[-1].batches.filter(attempts__gt=0).exists():
                    time.sleep(0.05)
                time.sleep(apart)
            priority = priorities[index] if index < len(priorities) else "normal"
            campaigns.append(campaign_actions.campaign_launch(
                contact_list=contact_list, window="00:00-24:00", batch_size=batch_size, priority=priority,
                name=f"{priority} {index + 1}",
            ))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for campaign in campaigns:
                campaign.refresh_from_db()
            if all(campaign.is_final for campaign in campaigns):
                break
            time.sleep(0.2)
        if watch:
            watch.stop()
        for campaign in campaigns:
            assert campaign.status == Campaign.Status.COMPLETED, f"campaign ended {campaign.status}"
    finally:
        processes.stop()
    return campaigns


def paced_utilisation(times: list[float], *, even_rate: float, request_calls: int) -> float:
    """Calls sent from the first request to the last against the even rate over that span (the last
    request's calls fall after it). Paced, no window's quota leaves at once at the end."""
    return (len(times) - request_calls) / (even_rate * (times[-1] - times[0]))


def max_in_any(times: list[float], seconds: float) -> int:
    from phonon.sandbox.provider import max_in_window

    return max_in_window(((t, 1) for t in times), seconds)


def bench_utilisation(base: str, *, quick: bool) -> dict:
    """(a) 4 workers against the real-time limit's rate (3,000 calls a minute, 50/s) scaled up
    to 3,000 calls per 10 s so that a run takes a minute, sustained over 6 windows."""
    limit, window = 3000, 10.0
    windows = 3 if quick else 6
    contacts = limit * windows
    sandbox_reset(base)
    run_campaign(contacts, workers=4, batch_size=500, env={
        "PHONON_REALTIME_RATE": f"{limit}/{window:g}", "PHONON_RATE_MARGIN": "0.2",
    })
    ledger = sandbox_get(base, "/_sandbox/ledger")["calls"]
    stats = sandbox_get(base, f"/_sandbox/stats?window={window}")["realtime"]
    times = sorted(entry["received_at"] for entry in ledger)
    # Paced: the calls leave evenly from the first request to the last (before pacing, the run was
    # counted in whole windows, since each window's quota left in its first moments).
    return {
        "calls": len(ledger), "span_s": round(times[-1] - times[0], 2), "limit": f"{limit}/{window:g}s",
        "max_calls_in_any_window": stats["max_calls_received_in_window"],
        "utilisation": round(paced_utilisation(times, even_rate=limit / window, request_calls=500), 4),
        "target": ">= 0.95",
    }


def bench_pacing(base: str, *, quick: bool) -> dict:
    """(d) 4 workers; the most calls in any 1 s against the even rate plus one request."""
    results = {}
    runs = [("1000/5s", 1000, 5.0, 100, "realtime", 4000 if quick else 6000)]
    if not quick:
        runs.append(("30000/60s", 30_000, 60.0, 500, "bulk", 60_000))
    for name, limit, window, request, mode, contacts in runs:
        sandbox_reset(base)
        variable = "PHONON_BULK_RATE" if mode == "bulk" else "PHONON_REALTIME_RATE"
        run_campaign(contacts, workers=4, batch_size=request, mode=mode, env={
            variable: f"{limit}/{window:g}", "PHONON_RATE_MARGIN": "0.1", "PHONON_RATE_BURST": request,
        })
        times = sorted(entry["received_at"] for entry in sandbox_get(base, "/_sandbox/ledger")["calls"])
        even = limit / window
        results[name] = (
            f"max in any 1 s {max_in_any(times, 1.0)} (target <= {even + request:g} = even rate {even:g} + one "
            f"request {request}), max in any window {max_in_any(times, window)} (limit {limit}), utilisation "
            f"{paced_utilisation(times, even_rate=even, request_calls=request):.4f} (target >= 0.95)"
        )
    return results


def bench_shares(base: str, *, quick: bool) -> dict:
    """(e) 3 workers, 600 calls/5 s, requests of 50: the newer campaign's share of each window."""
    limit, window, request = 600, 5.0, 50
    results = {}
    for name, priorities, target in (("normal+normal", ("normal", "normal"), (0.35, 0.65)),
                                     ("normal+high", ("normal", "high"), (0.52, 0.82))):
        sandbox_reset(base)
        older, newer = run_campaigns(
            [1800, 1500] if quick else [3000, 2700], workers=3, batch_size=request, priorities=priorities, apart=2.5,
            env={"PHONON_REALTIME_RATE": f"{limit}/{window:g}", "PHONON_RATE_MARGIN": "0.1",
                 "PHONON_RATE_BURST": request},
        )
        ledger = sandbox_get(base, "/_sandbox/ledger")["calls"]
        a = sorted(e["received_at"] for e in ledger if e["client-identifier"].startswith(older.token + "-"))
        b = sorted(e["received_at"] for e in ledger if e["client-identifier"].startswith(newer.token + "-"))
        start, end, shares = b[0], min(a[-1], b[-1]), []
        while start + window <= end:
            in_a = sum(1 for t in a if start <= t < start + window)
            in_b = sum(1 for t in b if start <= t < start + window)
            shares.append(in_b / (in_a + in_b))
            start += window
        both = sum(1 for t in a + b if b[0] <= t < end) / (limit / window * (end - b[0]))
        results[name] = (
            f"newer's share per window {', '.join(f'{share:.0%}' for share in shares)} "
            f"(target {target[0]:.0%}-{target[1]:.0%}), utilisation while both ran {both:.4f} (target >= 0.95)"
        )
    return results


def bench_one_worker(base: str, sandbox_pid: int, *, quick: bool) -> dict:
    """(b) one worker, limit lifted: calls per second from the first send to the last write-back."""
    import resource

    contacts = 20_000 if quick else 100_000
    sandbox_reset(base)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    watch = CpuWatch(sandbox_pid)
    campaign = run_campaign(contacts, workers=1, env={"PHONON_REALTIME_RATE": "100000000/1"}, watch=watch)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the worker and beat, once they have exited
    from dialer.models import Batch

    first_queue = Batch.objects.filter(campaign=campaign).order_by("queued_at").values_list("queued_at", flat=True)[0]
    seconds = (campaign.finished_at - first_queue).total_seconds()
    rate = contacts / seconds
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "calls": contacts, "seconds": round(seconds, 2), "calls_per_s": round(rate),
        "bulk_limit_calls_per_s": 500, "ratio_to_bulk_limit": round(rate / 500, 1),
        # Less noisy on a shared machine than the wall clock (the database's own CPU is not in it;
        # the start-up of the worker and of beat is, about 1 s each).
        "worker_cpu_ms_per_batch": round(cpu * 1000 / (contacts / 500), 1),
        # From the launch to the last write-back, per batch: the worker (planning, ticks and
        # sends), beat, the sandbox and PostgreSQL's backends, which share the machine's cores.
        "cpu_ms_per_batch_while_sending": {
            kind: round(seconds * 1000 / (contacts / 500), 1) for kind, seconds in sorted(watch.seconds().items())
        },
    }


def window_counts(times: list[float], window: float) -> list[int]:
    """Calls in each whole window [t0 + k*window, t0 + (k+1)*window) from the first arrival t0."""
    counts = [0] * int((times[-1] - times[0]) // window)
    for moment in times:
        index = int((moment - times[0]) // window)
        if index < len(counts):
            counts[index] += 1
    return counts


def bench_bulk_sustained(base: str, *, quick: bool) -> dict:
    """(g) 4 workers at the real bulk limit over 150,000 calls (--quick: 60,000)."""
    limit, window = 30_000, 60.0
    contacts = 60_000 if quick else 150_000
    sandbox_reset(base)
    run_campaign(contacts, workers=4, batch_size=500, mode="bulk", timeout=contacts / 400 + 300, env={
        "PHONON_BULK_RATE": f"{limit}/{window:g}",
    })
    ledger = sandbox_get(base, "/_sandbox/ledger")["calls"]
    stats = sandbox_get(base, f"/_sandbox/stats?window={window:g}")["bulk"]
    times = sorted(entry["received_at"] for entry in ledger)
    counts = window_counts(times, window)
    return {
        "calls": len(ledger), "span_s": round(times[-1] - times[0], 1), "limit": f"{limit}/{window:g}s",
        "calls_per_whole_window": counts,
        "utilisation_per_window": [round(count / limit, 4) for count in counts],
        "lowest_window": round(min(counts) / limit, 4), "target": ">= 0.98",
        "max_calls_in_any_window": stats["max_calls_received_in_window"], "never_over": limit,
        "utilisation_first_to_last": round(paced_utilisation(times, even_rate=limit / window, request_calls=500), 4),
    }


class StatementCounter:
    """Counts the SQL statements and the commits they cost: a statement outside a transaction
    commits by itself; a transaction commits once, however many statements it holds."""

    def __init__(self):
        self.statements = self.commits = 0
        self.by_kind: dict[str, int] = {}

    def _committed(self):
        self.commits += 1

    def __call__(self, execute, sql, params, many, context):
        from django.db import connection, transaction

        kind = sql.lstrip().split(" ", 1)[0].upper()
        if kind == "BEGIN":
            return execute(sql, params, many, context)  # SQLite's; the transaction's commit is counted
        self.statements += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        if not connection.in_atomic_block:
            self.commits += kind != "SELECT"
        elif not any(callback == self._committed for _, callback, _ in connection.run_on_commit):
            transaction.on_commit(self._committed)
        return execute(sql, params, many, context)


def bench_round_trips(*, quick: bool, profile: bool = False) -> dict:
    """(f) statements, commits and seconds per batch of 500, one batch after another in this process."""
    import cProfile
    import pstats

    from django.conf import settings
    from django.db import connection

    from dialer import campaign_actions, campaign_states, planning, pumping, tasks
    from dialer.models import Batch
    from tests.factories import make_contact_list, make_flow

    settings.PHONON_REALTIME_RATE = "100000000/1"
    contacts = 20_000 if quick else 50_000
    flow = make_flow(flow_id="RTRIPbch", client_id="round-trips")
    campaign = campaign_actions.campaign_create(contact_list=make_contact_list(flow, contacts), window="00:00-24:00",
                                                batch_size=500)
    campaign_actions.campaign_schedule(campaign=campaign)
    while not planning.campaign_plan(campaign_id=campaign.pk):
        pass
    campaign_states.campaign_start(campaign_id=campaign.pk)
    pumping.campaign_pump(campaign_id=campaign.pk)  # the first batches in flight, as the tick does
    queued = Batch.objects.filter(campaign=campaign, status=Batch.Status.QUEUED).order_by("sequence")
    # The profile counts this process's CPU time, not the wall clock: on a shared machine the wall
    # clock mostly measures other processes (and the database and sandbox, not this worker).
    counter, profiler, batches = StatementCounter(), cProfile.Profile(time.process_time), 0
    backend = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
    backend_started = CpuWatch.cpu_seconds(backend) if backend else None
    started, cpu_started = time.perf_counter(), time.process_time()
    # One batch after another, as one worker takes them; the task's pump queues the next ones.
    while (batch_id := queued.values_list("pk", flat=True).first()) is not None:
        batches += 1
        with connection.execute_wrapper(counter):
            if profile:
                profiler.runcall(tasks.send_batch_task, batch_id)
            else:
                tasks.send_batch_task(batch_id)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    backend_seconds = CpuWatch.cpu_seconds(backend) - backend_started if backend else None
    campaign.refresh_from_db()
    assert campaign.status == "completed", campaign.status
    if profile:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    return {
        "batches": batches, "calls": contacts, "calls_per_s": round(contacts / seconds),
        # This process's CPU per batch (with --profile, cProfile's own overhead is in it).
        "cpu_ms_per_batch": round(cpu_seconds * 1000 / batches, 1),
        # The PostgreSQL backend serving this process (its statements, not planning's).
        **({"postgres_cpu_ms_per_batch": round(backend_seconds * 1000 / batches, 1)} if backend else {}),
        "statements_per_batch": round(counter.statements / batches, 2),
        "commits_per_batch": round(counter.commits / batches, 2),
        "by_kind_per_batch": {kind: round(n / batches, 2) for kind, n in sorted(counter.by_kind.items())},
    }


PLAN_TARGET_SECONDS = 10


def bench_planning(*, quick: bool) -> dict:
    """(c) plan 1,000,000 contacts in slices growing as the plan task's chain does (target: 10 s);
    baseline: a plain ORM planner (Call objects built in Python)."""
    from bench_first_call import contact_list_in_sql

    from dialer import campaign_actions, planning
    from dialer.models import Batch, Call
    from tests.factories import make_flow

    contacts = 200_000 if quick else 1_000_000
    flow = make_flow(flow_id="PLANbnch", client_id="plan-bench")
    contact_list = contact_list_in_sql(flow, contacts)
    campaign = campaign_actions.campaign_create(contact_list=contact_list)
    server = server_counters()
    started = time.perf_counter()
    size = planning.FIRST_SLICE
    planning.campaign_plan(campaign_id=campaign.pk, slice_size=size)
    first_slice_seconds = time.perf_counter() - started
    while not planning.campaign_plan(campaign_id=campaign.pk, slice_size=(size := planning.next_slice_size(size))):
        pass
    planned_seconds = time.perf_counter() - started
    server = {key: round(value - server[key], 2) for key, value in server_counters().items()}
    assert Call.objects.filter(campaign=campaign).count() == contacts

    # Baseline: the obvious ORM version, on a 100,000-contact slice.
    slice_size = 100_000
    baseline_campaign = campaign_actions.campaign_create(contact_list=contact_list)
    started = time.perf_counter()
    ids = list(contact_list.contacts.order_by("id").values_list("id", flat=True)[:slice_size])
    for number, start in enumerate(range(0, len(ids), 500), start=1):
        run = ids[start : start + 500]
        batch = Batch.objects.create(campaign=baseline_campaign, sequence=number, endpoint="realtime",
                                     call_count=len(run))
        Call.objects.bulk_create([
            Call(campaign=baseline_campaign, contact_id=contact_id, batch=batch,
                 client_identifier=f"{baseline_campaign.token}-{contact_id}")
            for contact_id in run
        ])
    baseline_seconds = (time.perf_counter() - started) * contacts / slice_size
    return {
        "contacts": contacts, "plan_seconds": round(planned_seconds, 2), "target_seconds": PLAN_TARGET_SECONDS,
        "verdict": "ok" if planned_seconds <= PLAN_TARGET_SECONDS else "ABOVE",
        "first_slice_seconds": round(first_slice_seconds, 3),
        "contacts_per_s": round(contacts / planned_seconds),
        "baseline_orm_seconds_extrapolated": round(baseline_seconds, 2),
        "speedup": round(baseline_seconds / planned_seconds, 1),
        # Steadier than the wall clock on a shared machine: the database's own work for the plan.
        **{f"db_{key}": value for key, value in server.items()},
    }


def server_counters() -> dict:
    """PostgreSQL only, and only on this machine: this connection's backend CPU seconds (from /proc)
    and the WAL it wrote (MB), and the checkpoints the server started, for the plan's cost apart
    from the load around it. Empty on SQLite."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_backend_pid(), pg_current_wal_lsn() - '0/0', checkpoints_timed + checkpoints_req "
            "FROM pg_stat_bgwriter"
        )
        pid, wal_bytes, checkpoints = cursor.fetchone()
    cpu = CpuWatch.cpu_seconds(pid)  # None: the server is on another machine
    return {"server_cpu_seconds": float("nan") if cpu is None else cpu, "wal_mb": float(wal_bytes) / 2**20,
            "checkpoints": checkpoints}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    parser.add_argument("--only", choices=["a", "b", "c", "d", "e", "f", "g"], action="append")
    parser.add_argument("--profile", action="store_true", help="(f) with cProfile's top functions")
    args = parser.parse_args()
    env = setup_environment(args.database)
    results = {}
    try:
        only = set(args.only or ["a", "b", "c", "d", "e", "f", *([] if args.quick else ["g"])])
        if "a" in only:
            results["a_limit_utilisation_4_workers"] = bench_utilisation(env["base"], quick=args.quick)
        if "b" in only:
            results["b_one_worker_limit_lifted"] = bench_one_worker(env["base"], env["sandbox"].pid, quick=args.quick)
        if "c" in only:
            results["c_plan_contacts"] = bench_planning(quick=args.quick)
        if "d" in only:
            results["d_pacing"] = bench_pacing(env["base"], quick=args.quick)
        if "e" in only:
            results["e_two_campaigns_sharing_600_per_5s"] = bench_shares(env["base"], quick=args.quick)
        if "f" in only:
            results["f_round_trips_per_batch_in_process"] = bench_round_trips(quick=args.quick, profile=args.profile)
        if "g" in only:
            results["g_bulk_limit_sustained_4_workers"] = bench_bulk_sustained(env["base"], quick=args.quick)
    finally:
        env["sandbox"].terminate()
        if env["redis"]:
            env["redis"].stop()
    print(f"dispatch benchmarks ({args.database})")
    for name, figures in results.items():
        print(f"  {name}: " + ", ".join(f"{key}={value}" for key, value in figures.items()))


if __name__ == "__main__":
    main()
