"""First-call latency (issue 16): from launching a list to the provider's first accepted call.

    DEBUG=1 .venv/bin/python benchmarks/bench_first_call.py [--database sqlite|postgres]
        [--contacts N ...] [--analyze] [--pg-url URL]

In a fresh database (a temp SQLite file, or `bench_first_call` on the PostgreSQL server) with an
embedded Redis and the sandbox provider on loopback: a list of N contacts (300,000 by default;
`--contacts` again for more sizes) is launched with dialer.campaign_actions.campaign_launch (create,
schedule, and a plan task queued in Redis that no worker takes). Then this process does what the
worker does: the plan task (dialer.tasks.plan_campaign_task: its first slice, the start, the pump),
and the first batch the pump handed out is sent (dialer.dispatch.batch_send) to the sandbox. The
clock stops when the provider has accepted that batch's calls. Printed beside the 5 s target and a
baseline launch of a 1,000-contact list in the same run, with the time the whole list took to plan
afterwards (slice after slice, as the task's chain does: before, the first call waited for that).
"""

import argparse
import os
import sys
import time

TARGET_SECONDS = 5.0


def contact_list_in_sql(flow, count: int, *, first: int = 0, name: str = "list"):
    """A list of `count` imported contacts shaped as tests.factories.make_contact_list makes them, written by
    one INSERT ... SELECT (a million in seconds instead of minutes of bulk_create), then on PostgreSQL
    ANALYZEd as an import leaves it."""
    from django.db import connection

    from campaigns.models import Contact, ContactList

    contact_list = ContactList.objects.create(
        flow=flow, name=name, status=ContactList.Status.IMPORTED, imported_count=count, rows_done=count
    )
    table = Contact._meta.db_table
    columns = "(contact_list_id, line, primary_number, numbers, variables, start_at, external_id)"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} {columns} SELECT %s, i + 2, n, jsonb_build_array(n), "
                f"jsonb_build_object('name', 'Customer ' || (%s + i)), NULL, '' FROM generate_series(0, %s - 1) AS i, "
                f"LATERAL (SELECT '9198' || LPAD(CAST(%s + i AS TEXT), 8, '0') AS n) AS numbered ORDER BY i",
                [contact_list.pk, first, count, first],
            )
            cursor.execute(f"ANALYZE {table}")
        else:
            cursor.execute(
                f"WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < %s - 1) "
                f"INSERT INTO {table} {columns} SELECT %s, i + 2, '9198' || printf('%%08d', %s + i), "
                f"json_array('9198' || printf('%%08d', %s + i)), json_object('name', 'Customer ' || (%s + i)), "
                f"NULL, '' FROM seq",
                [count, contact_list.pk, first, first, first],
            )
    return contact_list


def launch_to_first_call(flow, sandbox, contacts: int, *, first: int, analyze: bool = False) -> dict:
    from django.db import connection

    from dialer import campaign_actions, dispatch, planning
    from dialer.models import Batch
    from dialer.tasks import plan_campaign_task

    contact_list = contact_list_in_sql(flow, contacts, first=first, name=f"list {contacts:,}")
    if analyze and connection.vendor == "postgresql":  # every table's statistics fresh, as autovacuum leaves them
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    ledger_before = len(sandbox.provider.ledger())
    started = time.perf_counter()
    campaign = campaign_actions.campaign_launch(contact_list=contact_list, window="00:00-24:00", name=f"{contacts:,}")
    launched = time.perf_counter() - started
    plan_campaign_task(campaign.pk)  # the worker's task: the first slice, the start, the pump
    first_slice = time.perf_counter() - started
    batch_id = (
        Batch.objects.filter(campaign=campaign, status=Batch.Status.QUEUED).order_by("sequence")
        .values_list("pk", flat=True).first()
    )
    assert batch_id, "the pump handed out no batch"
    outcome = dispatch.batch_send(batch_id=batch_id)
    first_call = time.perf_counter() - started
    assert outcome == "placed", outcome
    assert len(sandbox.provider.ledger()) > ledger_before, "the provider accepted nothing"
    size = planning.next_slice_size(planning.FIRST_SLICE)
    while not planning.campaign_plan(campaign_id=campaign.pk, slice_size=size):  # the task's chain
        size = planning.next_slice_size(size)
    planned = time.perf_counter() - started
    return {"contacts": contacts, "launch_call_s": launched, "first_slice_s": first_slice,
            "first_call_s": first_call, "planned_s": planned}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--contacts", type=int, action="append", help="list size (again for more; default 300,000)")
    parser.add_argument("--analyze", action="store_true", help="ANALYZE after making each list, before the clock")
    parser.add_argument("--quick", action="store_true", help="accepted for make bench; the size stays 300,000")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/bench_first_call")
    args = parser.parse_args()
    sizes = args.contacts or [300_000]
    load_before = os.getloadavg()
    from bench_pages import setup_environment

    from phonon.sandbox import start_sandbox_thread

    sandbox = start_sandbox_thread()
    os.environ["PHONON_REALTIME_BASE_URL"] = f"{sandbox.base_url}/realtime"
    os.environ["PHONON_BULK_BASE_URL"] = f"{sandbox.base_url}/bulk"
    env = setup_environment(args.database, args.pg_url)
    try:
        from tests.factories import make_flow

        # An account each, so that no launch waits for the provider's limit an earlier one used.
        baseline = launch_to_first_call(
            make_flow(flow_id="FRST0000", client_id="first-call-0"), sandbox, 1_000, first=50_000_000,
            analyze=args.analyze,
        )
        results, first = [], 0
        for index, size in enumerate(sizes, start=1):
            flow = make_flow(flow_id=f"FRST{index:04d}", client_id=f"first-call-{index}")
            results.append(launch_to_first_call(flow, sandbox, size, first=first, analyze=args.analyze))
            first += size
    finally:
        sandbox.stop()
        if env["redis"]:
            env["redis"].stop()
    analysed = ", database ANALYZEd before each launch" if args.analyze else ", lists analysed as an import leaves them"
    print(f"\nfirst call latency ({args.database}{analysed}): launch to the provider's first accepted call")
    for label, r in (("baseline", baseline), *(("list", r) for r in results)):
        verdict = "ok" if r["first_call_s"] <= TARGET_SECONDS else "ABOVE"
        print(f"  {label:<8} {r['contacts']:>9,} contacts: first call accepted {r['first_call_s']:6.2f} s "
              f"(target <= {TARGET_SECONDS:g} s: {verdict}); launch call {r['launch_call_s']:.2f} s, first slice "
              f"planned and pumped {r['first_slice_s']:.2f} s, whole list planned {r['planned_s']:.2f} s")
    print(f"load average (1/5/15 min) {'/'.join(f'{x:.1f}' for x in load_before)} before, "
          f"{'/'.join(f'{x:.1f}' for x in os.getloadavg())} after, on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    sys.exit(main())
