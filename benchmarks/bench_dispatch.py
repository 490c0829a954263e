"""Dispatch benchmarks (issue: dispatch that never exceeds the provider's limit).

    DEBUG=1 .venv/bin/python benchmarks/bench_dispatch.py [--database sqlite|postgres] [--quick]

(a) share of the limit used over a sustained run with 4 real worker processes;
(b) calls per second one real worker process sends end to end (build, send, write back) with the
    limit lifted, against the bulk limit of 500 calls/s;
(c) time to plan 1,000,000 contacts into batches, against a plain ORM planner on a slice.

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

        name = f"bench_dispatch_{os.getpid()}"
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


def run_campaign(contacts: int, *, workers: int, env: dict, batch_size: int = 500, timeout: float = 600):
    from campaigns.models import Campaign
    from dialer import launching
    from tests.factories import make_contact_list, make_flow
    from tests.processes import Processes

    flow = make_flow(flow_id=f"B{time.monotonic_ns() % 10**7:07d}", client_id=f"bench{time.monotonic_ns()}")
    contact_list = make_contact_list(flow, contacts)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    processes = Processes(workers=workers, beat=True, log_dir=log_dir, **env)
    processes.env.update({key: str(value) for key, value in env.items()})
    processes.start()
    try:
        time.sleep(3)  # let the workers connect before the clock starts
        campaign = launching.campaign_launch(contact_list=contact_list, window="00:00-24:00", batch_size=batch_size)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            campaign.refresh_from_db()
            if campaign.is_final:
                break
            time.sleep(0.2)
        assert campaign.status == Campaign.Status.COMPLETED, f"campaign ended {campaign.status}"
    finally:
        processes.stop()
    return campaign


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
    # The run covers whole windows from the first request to the window opened by the last one.
    span = times[-1] - times[0] + window
    ideal = limit / window * span
    return {
        "calls": len(ledger), "span_s": round(span, 2), "limit": f"{limit}/{window:g}s",
        "max_calls_in_any_window": stats["max_calls_received_in_window"],
        "utilisation": round(len(ledger) / ideal, 4),
    }


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


def bench_planning(*, quick: bool) -> dict:
    """(c) plan 1,000,000 contacts; baseline: a plain ORM planner (Call objects built in Python)."""
    from campaigns import lifecycle
    from dialer import planning
    from dialer.models import Batch, Call
    from tests.factories import make_contact_list, make_flow

    contacts = 200_000 if quick else 1_000_000
    flow = make_flow(flow_id="PLANbnch", client_id="plan-bench")
    contact_list = make_contact_list(flow, contacts)
    campaign = lifecycle.campaign_create(contact_list=contact_list)
    started = time.perf_counter()
    while not planning.campaign_plan(campaign_id=campaign.pk):
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
        "contacts": contacts, "plan_seconds": round(planned_seconds, 2),
        "contacts_per_s": round(contacts / planned_seconds),
        "baseline_orm_seconds_extrapolated": round(baseline_seconds, 2),
        "speedup": round(baseline_seconds / planned_seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    parser.add_argument("--only", choices=["a", "b", "c"], action="append")
    args = parser.parse_args()
    env = setup_environment(args.database)
    results = {}
    try:
        only = set(args.only or ["a", "b", "c"])
        if "a" in only:
            results["a_limit_utilisation_4_workers"] = bench_utilisation(env["base"], quick=args.quick)
        if "b" in only:
            results["b_one_worker_limit_lifted"] = bench_one_worker(env["base"], quick=args.quick)
        if "c" in only:
            results["c_plan_contacts"] = bench_planning(quick=args.quick)
    finally:
        env["sandbox"].terminate()
        if env["redis"]:
            env["redis"].stop()
    print(f"dispatch benchmarks ({args.database})")
    for name, figures in results.items():
        print(f"  {name}: " + ", ".join(f"{key}={value}" for key, value in figures.items()))


if __name__ == "__main__":
    main()
