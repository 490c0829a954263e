"""First-call latency (issue 16): from launching a list to its first batch being ready to send.

    DEBUG=1 .venv/bin/python benchmarks/bench_first_call.py [--database sqlite|postgres] [--contacts N]

In a fresh database (a temp SQLite file, or `bench_first_call` on the PostgreSQL server) with an
embedded Redis: a list of N contacts (300,000 by default) is launched with
dialer.launching.campaign_launch (create, schedule, and a plan task queued in Redis that no worker
takes), then planned in this process as the worker's task does it (dialer.planning.campaign_plan,
slice after slice), then started and pumped as dialer.tasks does once planning ends
(lifecycle.campaign_start, pumping.campaign_pump). The clock stops when the pump hands out the first
batch ids to send. Printed beside the 5 s target, with the time the first slice committed (the
first batch existed then: what planning batches just before they are frozen could reach) and a
baseline launch of a 1,000-contact list in the same run.
"""

import argparse
import os
import sys
import time

TARGET_SECONDS = 5.0


def launch_to_first_batch(flow, contacts: int, *, first: int, analyze: bool = False) -> dict:
    from campaigns import lifecycle
    from dialer import launching, planning, pumping
    from dialer.models import Batch
    from tests.factories import make_contact_list

    contact_list = make_contact_list(flow, contacts, first=first, name=f"list {contacts:,}")
    if analyze:  # statistics as if autovacuum had analysed the new list (an import does not)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    started = time.perf_counter()
    campaign = launching.campaign_launch(contact_list=contact_list, window="00:00-24:00", name=f"{contacts:,}")
    launched = time.perf_counter() - started
    first_slice = None
    while not planning.campaign_plan(campaign_id=campaign.pk):
        if first_slice is None and Batch.objects.filter(campaign=campaign).exists():
            first_slice = time.perf_counter() - started
    planned = time.perf_counter() - started
    if first_slice is None:
        first_slice = planned
    assert lifecycle.campaign_start(campaign_id=campaign.pk), "the campaign did not start"
    batch_ids = pumping.campaign_pump(campaign_id=campaign.pk)
    ready = time.perf_counter() - started
    assert batch_ids, "the pump handed out no batch"
    return {"contacts": contacts, "launch_call_s": launched, "first_slice_s": first_slice, "planned_s": planned,
            "first_batch_ready_s": ready, "batches_handed_out": len(batch_ids)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--contacts", type=int, default=300_000)
    parser.add_argument("--analyze", action="store_true", help="ANALYZE after making each list, before the clock")
    parser.add_argument("--quick", action="store_true", help="accepted for make bench; the size stays 300,000")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/bench_first_call")
    args = parser.parse_args()
    load_before = os.getloadavg()
    from bench_pages import setup_environment

    env = setup_environment(args.database, args.pg_url)
    try:
        from tests.factories import make_flow

        flow = make_flow(flow_id="FRSTbnch", client_id="first-call-bench")
        baseline = launch_to_first_batch(flow, 1_000, first=50_000_000, analyze=args.analyze)
        large = launch_to_first_batch(flow, args.contacts, first=0, analyze=args.analyze)
    finally:
        if env["redis"]:
            env["redis"].stop()
    analysed = ", lists ANALYZEd before the launch" if args.analyze else ", lists as created (not analysed)"
    print(f"\nfirst call latency ({args.database}{analysed}): launch to the first batch ready to send")
    for label, r in (("baseline", baseline), ("list", large)):
        verdict = "ok" if r["first_batch_ready_s"] <= TARGET_SECONDS else "ABOVE"
        print(f"  {label:<8} {r['contacts']:>9,} contacts: first batch ready {r['first_batch_ready_s']:6.2f} s "
              f"(target <= {TARGET_SECONDS:g} s: {verdict}); launch call {r['launch_call_s']:.2f} s, first slice "
              f"committed {r['first_slice_s']:.2f} s, whole list planned {r['planned_s']:.2f} s")
    print(f"load average (1/5/15 min) {'/'.join(f'{x:.1f}' for x in load_before)} before, "
          f"{'/'.join(f'{x:.1f}' for x in os.getloadavg())} after, on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    sys.exit(main())
