"""Applying delivery reports through PostgreSQL restarts and worker kills (issue 29): real workers
apply stored reports on a private PostgreSQL cluster (tests/e2e/test_database_restart.py), which is
stopped in immediate mode (a crash: every connection cut, nothing flushed politely) and started
again while they do, and the workers are SIGKILLed meanwhile. Afterwards every report is applied
once, no leg is kept twice, every call has its outcome and the stored tallies equal a real count."""

import json
import random
import time

import psycopg
import pytest

from dialer.models import Call, OutcomeReport
from dialer.outcomes import tallies
from dialer.outcomes.receiving import report_receive
from tests.dialer.outcome_reports import report_stream
from tests.e2e.test_database_restart import manage, private_postgres  # noqa: F401 - the fixture
from tests.e2e.test_outcomes_under_faults import kill_while_applying
from tests.factories import make_flow, make_placed_campaign
from tests.processes import Processes, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CALLS = 1500


def seed(count: int) -> None:
    """In a `manage.py shell` on the private database: a flow, a campaign of placed calls and their
    reports stored as the receiver stores them; prints what the test checks against."""
    flow = make_flow(flow_id="OutcmPg1")
    campaign = make_placed_campaign(
        flow, count, token="tokpg", uuid=lambda _, contact: f"uuid-{contact.pk}", name="restart"
    )
    calls = Call.objects.filter(campaign=campaign).select_related("contact").order_by("id")
    bodies, expected, legs = report_stream(calls, random.Random(30))
    for body in bodies:
        assert report_receive(flow=flow, body=body, remote_addr=None).http_status == 200
    print(
        json.dumps(
            {"campaign_id": campaign.pk, "stored": OutcomeReport.objects.count(), "legs": legs, "expected": expected}
        )
    )


def check(campaign_id: int) -> None:
    """In a `manage.py shell`: the tallies as stored, as counted from the calls, and whether a rebuild
    from the calls changed them."""
    stored = tallies.outcomes_stored(campaign_id=campaign_id)
    counted = tallies.outcomes_counted(campaign_id=campaign_id)
    print(
        json.dumps(
            {
                "stored": stored,
                "counted": counted,
                "recount_differed": tallies.outcomes_recount(campaign_id=campaign_id),
            }
        )
    )


def _shell(env, code: str) -> dict:
    done = manage(env, "shell", "-c", code)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _query(url: str, sql: str):
    """One value from the private database, or None while it is down."""
    try:
        with psycopg.connect(url, connect_timeout=2) as db:
            return db.execute(sql).fetchone()[0]
    except psycopg.OperationalError:
        return None


def test_reports_applied_through_database_restarts_and_kills_lose_none_count_none_twice(
    private_postgres,  # noqa: F811
    tmp_path,
    artifacts_dir,
):
    # given a private PostgreSQL with placed calls and their reports stored (some twice, some out of order)
    processes = Processes(
        workers=2,
        log_dir=artifacts_dir / "e2e-logs" / "outcomes-database-restart",
        DATABASE_URL=private_postgres.url,
        MEDIA_ROOT=str(tmp_path / "media"),
        SANDBOX_REPORT_URLS="0",
        OUTCOME_APPLY_BATCH="10",
        OUTCOME_SWEEP_SECONDS="0.5",
    )
    env = processes.env
    assert manage(env, "migrate", "--noinput").returncode == 0
    seeded = _shell(env, f"from tests.e2e.test_outcomes_database_restart import seed; seed({CALLS})")
    url = private_postgres.url
    pending = "SELECT count(*) FROM dialer_outcomereport WHERE status = 'pending'"
    done = "SELECT count(*) FROM dialer_outcomereport WHERE status <> 'pending'"

    # when workers apply them, PostgreSQL crashes and comes back twice, and workers are killed meanwhile
    rng = random.Random(31)
    processes.start()
    try:
        kills = 0
        for _ in range(2):
            before = _query(url, done)
            wait_until(
                lambda before=before: (_query(url, done) or 0) > before + 20,
                timeout=120,
                message="some reports applied",
            )
            private_postgres.restart_after(seconds_down=2, mode="immediate")
            kills += kill_while_applying(
                processes, rng, kills=3, done=lambda: _query(url, done) or 0, pending=lambda: _query(url, pending) != 0
            )
        wait_until(lambda: _query(url, pending) == 0, timeout=300, message="every report applied")
        time.sleep(1)  # a task that found nothing more is finishing: nothing to wait for, only to be tidy
    finally:
        processes.stop()

    # then every report was applied once, no leg is kept twice, and every call has its report's outcome
    assert kills >= 2
    with psycopg.connect(url) as db:
        statuses = dict(db.execute("SELECT status, count(*) FROM dialer_outcomereport GROUP BY status").fetchall())
        legs, distinct = db.execute("SELECT count(*), count(DISTINCT (call_id, cdr_id)) FROM dialer_callleg").fetchone()
        outcomes = dict(db.execute("SELECT id, outcome FROM dialer_call").fetchall())
    assert statuses == {"applied": seeded["stored"]}
    assert legs == distinct == seeded["legs"]
    assert {str(call_id): outcome for call_id, outcome in outcomes.items()} == seeded["expected"]
    # and the stored tallies equal a real count of the calls
    checked = _shell(env, f"from tests.e2e.test_outcomes_database_restart import check; check({seeded['campaign_id']})")
    assert checked["stored"] == checked["counted"]
    assert checked["recount_differed"] is False
    counts = {}
    for outcome in seeded["expected"].values():
        counts[outcome] = counts.get(outcome, 0) + 1
    assert checked["counted"]["outcomes"] == counts
