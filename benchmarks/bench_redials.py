"""Planning redials against planning first calls for the same number of contacts (issue 30).

    DEBUG=1 .venv/bin/python benchmarks/bench_redials.py [--database sqlite|postgres] [--contacts N]
        [--rounds R] [--quick] [--pg-url URL]

In a fresh database (a temp SQLite file, or `bench_redials` on the PostgreSQL server): per round, a
fresh account (a dialling cap with room for every attempt, no do-not-call list) and a list of N
contacts (1,000,000 by default; --quick 200,000). Its campaign's first calls are planned as the
planner's task chain plans them (dialer.planning.campaign_plan, slice after slice): that is the
baseline. Then every call is made placed with the outcome busy an hour ago (untimed), and the
campaign's redials are planned as the dispatch tick plans them (dialer.redials.planning, up to
PLAN_SLICE per transaction): one redial per contact. The faster of R rounds counts for each; the ratio
is judged on CPU seconds (this process plus, on a local PostgreSQL, its server backend), printed
beside wall time, as bench_dnc does: on a shared machine wall time swings far more than the cost.
Target: redials <= 1.3x first calls.
"""

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from process_cpu import postgres_backend_cpu  # noqa: E402

TARGET_RATIO = 1.3


def backend_cpu() -> float:
    """CPU seconds of this connection's PostgreSQL backend, when the server is on this machine."""
    return postgres_backend_cpu() or 0.0


class Clock:
    def __enter__(self):
        self.wall, self.cpu, self.server = time.perf_counter(), time.process_time(), backend_cpu()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu + backend_cpu() - self.server


def one_round(index: int, contacts: int) -> tuple[Clock, Clock, int]:
    from bench_first_call import contact_list_in_sql
    from django.db import connection
    from django.utils import timezone

    from campaigns.models import Campaign
    from campaigns.redial_rules import redial_rules
    from dialer import campaign_actions, planning
    from dialer.models import Call
    from dialer.redials.planning import campaign_plan_redials
    from flows.models import Account
    from tests.factories import make_flow

    flow = make_flow(flow_id=f"RDL{index:05d}", client_id=f"redials-{index}")
    Account.objects.filter(pk=flow.account_id).update(calls_per_number=10)
    contact_list = contact_list_in_sql(flow, contacts, first=index * contacts, name=f"round {index}")
    campaign = campaign_actions.campaign_create(
        contact_list=contact_list,
        window="00:00-24:00",
        redials=redial_rules(outcomes="busy,no_answer", after="1m", max_attempts=2),
    )
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SCHEDULED)
    with Clock() as first:
        size = planning.FIRST_SLICE
        while not planning.campaign_plan(campaign_id=campaign.pk, slice_size=size):
            size = planning.next_slice_size(size)
    # What sending and the reports leave: every call placed, busy an hour ago.
    an_hour_ago = timezone.now() - datetime.timedelta(hours=1)
    Call.objects.filter(campaign=campaign).update(
        state=Call.State.PLACED, outcome="busy", outcome_at=an_hour_ago, phonon_uuid="x"
    )
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Call._meta.db_table}")  # as the first planner's last slice leaves it
    made, planned = 0, None
    with Clock() as redials:
        while True:  # as the dispatch tick's rounds run (dialer.redials.planning.running_campaigns_plan_redials)
            planned = campaign_plan_redials(campaign_id=campaign.pk, resume=planned)
            made += planned.redials
            if not planned.more:
                break
    assert made == contacts, (made, contacts)
    return first, redials, made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--contacts", type=int)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="200,000 contacts")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/bench_redials")
    args = parser.parse_args()
    contacts = args.contacts or (200_000 if args.quick else 1_000_000)
    load_before = os.getloadavg()
    from bench_pages import setup_environment

    env = setup_environment(args.database, args.pg_url)
    try:
        rounds = [one_round(index, contacts) for index in range(args.rounds)]
    finally:
        if env["redis"]:
            env["redis"].stop()
    first = min((r[0] for r in rounds), key=lambda clock: clock.cpu)
    redials = min((r[1] for r in rounds), key=lambda clock: clock.cpu)
    ratio = redials.cpu / first.cpu if first.cpu else float("inf")
    verdict = "ok" if ratio <= TARGET_RATIO else "ABOVE"
    print(f"\nredial planning ({args.database}, {contacts:,} contacts, best of {args.rounds} rounds)")
    print(f"  first calls: {first.cpu:6.2f} s CPU ({first.wall:6.2f} s wall)")
    print(f"  redials:     {redials.cpu:6.2f} s CPU ({redials.wall:6.2f} s wall)")
    print(f"  ratio {ratio:.2f}x on CPU (target <= {TARGET_RATIO}x: {verdict}); wall {redials.wall / first.wall:.2f}x")
    print(
        f"load average (1/5/15 min) {'/'.join(f'{x:.1f}' for x in load_before)} before, "
        f"{'/'.join(f'{x:.1f}' for x in os.getloadavg())} after, on {os.cpu_count()} CPUs"
    )
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
