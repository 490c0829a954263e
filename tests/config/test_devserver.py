"""`make run` (config.devserver) starts, stops and starts again from one clone: the second start
migrates and seeds an existing database without refusing (seed_demo and create_flow are idempotent)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
READY = "The campaign manager is running at"

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def devserver_env(database: Path) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PYTEST_") and key not in {"REDIS_URL", "TEST_REDIS_URL"}
    }
    env.update(
        DEBUG="1",
        DATABASE_URL=f"sqlite:///{database}",
        PORT=str(free_port()),
        SANDBOX_PORT=str(free_port()),
        PYTHONUNBUFFERED="1",
    )
    return env


def start_and_stop(env: dict, log: Path) -> tuple[bool, int]:
    """Start the devserver, wait (generously) for its ready line, stop it with SIGTERM; (was ready, exit code)."""
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "config.devserver"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 240
        ready = False
        while time.monotonic() < deadline and process.poll() is None:
            if READY in log.read_text():
                ready = True
                break
            time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        return ready, process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_make_run_starts_twice_in_a_row_on_one_database(tmp_path):
    # given a clone whose database `make run` has already set up once
    env = devserver_env(tmp_path / "dev.sqlite3")
    first_ready, first_code = start_and_stop(env, tmp_path / "first.log")
    assert first_ready, (tmp_path / "first.log").read_text()

    # when `make run` starts again on the same database
    second_ready, second_code = start_and_stop(env, tmp_path / "second.log")

    # then it gets as far as serving pages and stops cleanly, both times
    assert second_ready, (tmp_path / "second.log").read_text()
    assert (first_code, second_code) == (0, 0)
