"""Redials through a PostgreSQL restart: `launch_campaign --redial ... --wait` with real workers and beat,
the outcomes fetched from the sandbox's Pull API, and the private PostgreSQL of
tests/e2e/test_database_restart.py stopped and started again while redials go out. The command reports
the campaign completed; nobody is called more than max attempts, and every contact ends answered, out
of attempts or skipped."""

import json
import subprocess
import sys
from collections import Counter, defaultdict

import psycopg
import pytest

from tests.e2e.test_database_restart import manage, private_postgres  # noqa: F401 - the fixture
from tests.processes import ROOT, Processes, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CONTACTS = 200
MAX_ATTEMPTS = 3


def test_redials_ride_out_a_database_restart(private_postgres, sandbox, tmp_path, artifacts_dir):  # noqa: F811
    # given a migrated database of our own, a flow whose account allows 3 calls a number a day, 200 contacts
    sandbox.provider.outcomes.configure(
        {"odds": {"answered": 0.5, "busy": 0.25, "no_answer": 0.25}, "delay_seconds": 0.2, "seed": 3}
    )
    processes = Processes(
        workers=2,
        log_dir=artifacts_dir / "e2e-logs" / "redials-database-restart",
        DATABASE_URL=private_postgres.url,
        MEDIA_ROOT=str(tmp_path / "media"),
        DISPATCH_LEASE_SECONDS="10",
        PHONON_PULL_URL=f"{sandbox.base_url}/pull",
        PHONON_PULL_AFTER="0",
        PHONON_PULL_SECONDS="1",
        PHONON_PULL_BACKOFF="1s",
        SANDBOX_REPORT_URLS="0",
    )
    env = processes.env
    assert manage(env, "migrate", "--noinput").returncode == 0
    assert manage(env, "create_flow", "--flow-id", "RedialPg", "--security-id", "s3cret-value").returncode == 0
    with psycopg.connect(private_postgres.url, autocommit=True) as db:
        db.execute("UPDATE flows_account SET calls_per_number = %s", [MAX_ATTEMPTS])
    calls_csv = tmp_path / "calls.csv"
    calls_csv.write_text("tel1\n" + "\n".join(f"9198{i:08d}" for i in range(CONTACTS)) + "\n")
    imported = json.loads(manage(env, "import_contacts", str(calls_csv), "--flow", "RedialPg").stdout)
    assert imported["imported"] == CONTACTS

    # when it is launched with redials and waited for, and PostgreSQL restarts once redials go out
    processes.start()
    try:
        waiting = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "launch_campaign",
                "--list",
                str(imported["contact_list_id"]),
                "--window",
                "00:00-24:00",
                "--redial",
                "busy,no_answer",
                "--redial-after",
                "2s",
                "--max-attempts",
                str(MAX_ATTEMPTS),
                "--wait",
                "--timeout",
                "300",
                "--yes",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_until(
            lambda: any(entry["client-identifier"].endswith("-2") for entry in sandbox.provider.ledger()),
            timeout=120,
            message="the first redials",
        )
        private_postgres.restart_after(seconds_down=3)
        out, err = waiting.communicate(timeout=360)
    finally:
        processes.stop()

    # then the command reports the campaign completed, with its redials
    assert waiting.returncode == 0, err[-3000:]
    assert "Traceback" not in err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["status"] == "completed"
    assert summary["contacts"] == CONTACTS and summary["redials"] > 0
    # and nobody was called more than max attempts, nor any call accepted twice
    ledger = sandbox.provider.ledger()
    identifiers = Counter(entry["client-identifier"] for entry in ledger)
    assert max(identifiers.values()) == 1
    assert max(Counter(entry["contact-numbers"][0] for entry in ledger).values()) <= MAX_ATTEMPTS
    # and every contact ends answered, out of attempts, skipped, or given up: a send whose answer the restart
    # lost is held as accepted with its uuid unknown (invariant 2), and without a uuid its outcome cannot be
    # asked for, so the rules wait for nothing more from it
    with psycopg.connect(private_postgres.url) as db:
        rows = db.execute(
            "SELECT contact_id, attempt, state, outcome FROM dialer_call ORDER BY contact_id, attempt"
        ).fetchall()
    by_contact = defaultdict(list)
    for contact_id, attempt, state, outcome in rows:
        by_contact[contact_id].append((attempt, state, outcome))
    assert len(by_contact) == CONTACTS
    for calls in by_contact.values():
        assert [attempt for attempt, _, _ in calls] == list(range(1, len(calls) + 1))
        attempt, state, outcome = calls[-1]
        given_up = state == "accepted_unknown" and outcome == "unknown"
        assert outcome == "answered" or attempt == MAX_ATTEMPTS or state == "skipped" or given_up, calls
