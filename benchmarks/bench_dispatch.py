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
    the limit used while both ran.

Everything runs against loopback only: a fresh database, an embedded (or given) Redis, the
sandbox provider in its own process.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
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

        name = os.environ.get("BENCH_PG_DATABASE") or f"bench_dispatch_{os.getpid()}"
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
                 mode: str = "realtime"):
    return run_campaigns([contacts], workers=workers, env=env, batch_size=batch_size, timeout=timeout,
                         mode=mode)[0]


def run_campaigns(contacts: list[int], *, workers: int, env: dict, batch_size: int = 500, timeout: float = 600,
                  mode: str = "realtime", priorities: tuple = (), apart: float = 0.0):
    """Campaigns on one flow, each launched `apart` seconds after the first call of the one before."""
    from campaigns.models import Campaign
    from dialer import launching
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
        for index, contact_list in enumerate(lists):
            if campaigns:
                while not campaigns[-1].batches.filter(attempts__gt=0).exists():
                    time.sleep(0.05)
                time.sleep(apart)
            priority = priorities[index] if index < len(priorities) else "normal"
            campaigns.append(launching.campaign_launch(
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


def bench_one_worker(base: str, *, quick: bool) -> dict:
    """(b) one worker, limit lifted: calls per second from the first send to the last write-back."""
    contacts = 20_000 if quick else 100_000
    sandbox_reset(base)
    campaign = run_campaign(contacts, workers=1, env={"PHONON_REALTIME_RATE": "100000000/1"})
    from dialer.models import Batch

    first_queue = Batch.objects.filter(campaign=campaign).order_by("queued_at").values_list("queued_at", flat=True)[0]
    seconds = (campaign.finished_at - first_queue).total_seconds()
    rate = contacts / seconds
    return {
        "calls": contacts, "seconds": round(seconds, 2), "calls_per_s": round(rate),
        "bulk_limit_calls_per_s": 500, "ratio_to_bulk_limit": round(rate / 500, 1),
    }


PLAN_TARGET_SECONDS = 10


def bench_planning(*, quick: bool) -> dict:
    """(c) plan 1,000,000 contacts in slices growing as the plan task's chain does (target: 10 s);
    baseline: a plain ORM planner (Call objects built in Python)."""
    from bench_first_call import contact_list_in_sql

    from campaigns import lifecycle
    from dialer import planning
    from dialer.models import Batch, Call
    from tests.factories import make_flow

    contacts = 200_000 if quick else 1_000_000
    flow = make_flow(flow_id="PLANbnch", client_id="plan-bench")
    contact_list = contact_list_in_sql(flow, contacts)
    campaign = lifecycle.campaign_create(contact_list=contact_list)
    started = time.perf_counter()
    size = planning.FIRST_SLICE
    planning.campaign_plan(campaign_id=campaign.pk, slice_size=size)
    first_slice_seconds = time.perf_counter() - started
    while not planning.campaign_plan(campaign_id=campaign.pk, slice_size=(size := planning.next_slice_size(size))):
        pass
    planned_seconds = time.perf_counter() - started
    assert Call.objects.filter(campaign=campaign).count() == contacts

    # Baseline: the obvious ORM version, on a 100,000-contact slice.
    slice_size = 100_000
    baseline_campaign = lifecycle.campaign_create(contact_list=contact_list)
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
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    parser.add_argument("--only", choices=["a", "b", "c", "d", "e"], action="append")
    args = parser.parse_args()
    env = setup_environment(args.database)
    results = {}
    try:
        only = set(args.only or ["a", "b", "c", "d", "e"])
        if "a" in only:
            results["a_limit_utilisation_4_workers"] = bench_utilisation(env["base"], quick=args.quick)
        if "b" in only:
            results["b_one_worker_limit_lifted"] = bench_one_worker(env["base"], quick=args.quick)
        if "c" in only:
            results["c_plan_contacts"] = bench_planning(quick=args.quick)
        if "d" in only:
            results["d_pacing"] = bench_pacing(env["base"], quick=args.quick)
        if "e" in only:
            results["e_two_campaigns_sharing_600_per_5s"] = bench_shares(env["base"], quick=args.quick)
    finally:
        env["sandbox"].terminate()
        if env["redis"]:
            env["redis"].stop()
    print(f"dispatch benchmarks ({args.database})")
    for name, figures in results.items():
        print(f"  {name}: " + ", ".join(f"{key}={value}" for key, value in figures.items()))


if __name__ == "__main__":
    main()
