"""PostgreSQL restarts under `launch_campaign --wait` and under the workers (issue 17): the command
reports the final summary, and no call is lost or sent twice.

The restart is done on a private PostgreSQL cluster this test starts (initdb on a free port, run as the
`postgres` user), never on the machine's shared server that other test runs use.
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from config.embedded_redis import free_port
from tests.processes import ROOT, Processes, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CONTACTS = 3000


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    def __init__(self, bin_dir: Path):
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="pg-restart-"))
        self.data = self.dir / "data"
        self.port = free_port()
        shutil.chown(self.dir, "postgres", "postgres")

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=120)

    def _pg_ctl(self, *args: str) -> None:
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w", *args
        )

    def start(self) -> "PrivatePostgres":
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self._pg_ctl("-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "stop")

    def restart_after(self, seconds_down: float, mode: str = "fast") -> None:
        """Stop (every connection is cut; "immediate" is a crash, recovered from the WAL at the start),
        stay down a while, start again."""
        self.stop(mode)
        time.sleep(seconds_down)
        self._pg_ctl("-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_postgres():
    bin_dir = _pg_bin()
    if bin_dir is None or os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("Needs the PostgreSQL server binaries and root (to run initdb as the postgres user).")
    try:
        server = PrivatePostgres(bin_dir).start()
    except (subprocess.CalledProcessError, LookupError) as error:
        pytest.skip(f"Could not start a private PostgreSQL: {error}")
    yield server
    server.destroy()


def manage(env, *args, timeout=300):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_launch_wait_and_the_workers_ride_out_a_database_restart(private_postgres, sandbox, tmp_path, artifacts_dir):
    # given a migrated database of our own, a flow and an imported list of 3,000 contacts
    processes = Processes(
        workers=2, log_dir=artifacts_dir / "e2e-logs" / "database-restart", DATABASE_URL=private_postgres.url,
        PHONON_REALTIME_RATE="500/2", MEDIA_ROOT=str(tmp_path / "media"), DISPATCH_LEASE_SECONDS="10",
    )
    env = processes.env
    assert manage(env, "migrate", "--noinput").returncode == 0
    assert manage(env, "create_flow", "--flow-id", "RestartA", "--security-id", "s3cret-value").returncode == 0
    calls_csv = tmp_path / "calls.csv"
    calls_csv.write_text("tel1\n" + "\n".join(f"9198{i:08d}" for i in range(CONTACTS)) + "\n")
    imported = json.loads(manage(env, "import_contacts", str(calls_csv), "--flow", "RestartA").stdout)
    assert imported["imported"] == CONTACTS

    # when the campaign is launched and waited for, and PostgreSQL restarts while calls go out
    processes.start()
    try:
        waiting = subprocess.Popen(
            [sys.executable, "manage.py", "launch_campaign", "--list", str(imported["contact_list_id"]),
             "--window", "00:00-24:00", "--wait", "--timeout", "240", "--yes"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        wait_until(lambda: len(sandbox.provider.ledger()) >= 500, timeout=90, message="the first calls")
        private_postgres.restart_after(seconds_down=3)
        out, err = waiting.communicate(timeout=300)
    finally:
        processes.stop()

    # then the command reports the final summary, and every contact was dialled exactly once
    assert waiting.returncode == 0, err[-3000:]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["status"] == "completed"
    assert summary["contacts"] == CONTACTS
    assert summary["placed"] + summary["accepted_unknown"] == CONTACTS
    ledger = sandbox.provider.ledger()
    client_ids = [entry["client-identifier"] for entry in ledger]
    numbers = [entry["contact-numbers"][0] for entry in ledger]
    assert len(client_ids) == len(set(client_ids)) == CONTACTS
    assert len(set(numbers)) == CONTACTS
    assert "Traceback" not in err


def test_a_database_that_stays_away_is_said_in_one_line(private_postgres, tmp_path):
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": private_postgres.url, "PYTHONUNBUFFERED": "1"}
    env = {key: value for key, value in env.items() if not key.startswith("PYTEST_")}
    assert manage(env, "migrate", "--noinput").returncode == 0
    assert manage(env, "create_flow", "--flow-id", "RestartB", "--security-id", "s3cret-value").returncode == 0
    calls_csv = tmp_path / "calls.csv"
    calls_csv.write_text("tel1\n919800000001\n")
    imported = json.loads(manage(env, "import_contacts", str(calls_csv), "--flow", "RestartB").stdout)

    # no workers: the campaign never ends; the database goes away for good while the command waits
    waiting = subprocess.Popen(
        [sys.executable, "manage.py", "launch_campaign", "--list", str(imported["contact_list_id"]),
         "--window", "00:00-24:00", "--wait", "--timeout", "8", "--yes"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(3)
    private_postgres.stop("fast")
    out, err = waiting.communicate(timeout=60)

    assert waiting.returncode == 1
    assert "Traceback" not in err
    error = json.loads(out.strip().splitlines()[-1])["error"]
    assert error.startswith("The database has not answered for") and "run the command again" in error
