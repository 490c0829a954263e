"""Real Celery worker and beat processes for end-to-end tests, pointed at the test database,
the test Redis and the sandbox."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    s = connection.settings_dict
    if "sqlite" in s["ENGINE"]:
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def process_env(**extra) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env.update(
        DEBUG="1",
        DATABASE_URL=database_url(),
        REDIS_URL=settings.REDIS_URL,
        PHONON_REALTIME_BASE_URL=settings.PHONON_REALTIME_BASE_URL,
        PHONON_BULK_BASE_URL=settings.PHONON_BULK_BASE_URL,
        PHONON_REALTIME_RATE=settings.PHONON_REALTIME_RATE,
        PHONON_BULK_RATE=settings.PHONON_BULK_RATE,
        PHONON_RATE_MARGIN=str(settings.PHONON_RATE_MARGIN),
        PHONON_RATE_BURST=str(settings.PHONON_RATE_BURST),
        PHONON_SHARE_IDLE_SECONDS=str(settings.PHONON_SHARE_IDLE_SECONDS),
        PHONON_RATE_JOURNAL_SECONDS=str(settings.PHONON_RATE_JOURNAL_SECONDS),
        PHONON_READ_TIMEOUT=str(settings.PHONON_READ_TIMEOUT),
        DISPATCH_TICK_SECONDS="0.5",
        DISPATCH_LEASE_SECONDS=str(settings.DISPATCH_LEASE_SECONDS),
        DISPATCH_REQUEUE_AFTER=str(settings.DISPATCH_REQUEUE_AFTER),
        DISPATCH_MAX_ATTEMPTS=str(settings.DISPATCH_MAX_ATTEMPTS),
        DISPATCH_BACKOFF_BASE=str(settings.DISPATCH_BACKOFF_BASE),
        DISPATCH_BACKOFF_CAP=str(settings.DISPATCH_BACKOFF_CAP),
        MAIL_INTAKE_PATTERN=settings.MAIL_INTAKE_PATTERN,
        MAIL_INTAKE_AUTHSERV_ID=settings.MAIL_INTAKE_AUTHSERV_ID,
        MAIL_INTAKE_RECIPIENT_HEADER=settings.MAIL_INTAKE_RECIPIENT_HEADER,
        PYTHONUNBUFFERED="1",
    )
    env.update({key: str(value) for key, value in extra.items()})
    return env


class Processes:
    """Start, kill and restart worker processes (each `--pool=solo`: one process, one task)."""

    def __init__(self, *, workers: int, beat: bool = True, log_dir: Path, **env):
        self.env = process_env(**env)
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.workers: list[subprocess.Popen] = []
        self.beat: subprocess.Popen | None = None
        self.count = workers
        self.with_beat = beat
        self.kills = 0

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args], cwd=ROOT, env=self.env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def _worker(self, index: int) -> subprocess.Popen:
        return self._spawn(
            ["worker", "--pool=solo", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-n", f"e2e{index}-{time.monotonic_ns()}@%h", "--loglevel=INFO"],
            f"worker{index}",
        )

    def start(self) -> "Processes":
        self.workers = [self._worker(i) for i in range(self.count)]
        if self.with_beat:
            schedule = self.log_dir / "beat-schedule"
            self.beat = self._spawn(["beat", "-s", str(schedule), "--loglevel=INFO"], "beat")
        return self

    def kill_worker(self, index: int) -> None:
        """SIGKILL a worker at whatever it is doing, and start a fresh one in its place."""
        process = self.workers[index]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            self.kills += 1
        self.workers[index] = self._worker(index)

    def stop(self) -> None:
        for process in [*self.workers, self.beat]:
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in [*self.workers, self.beat]:
            if process is None:
                continue
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def wait_until(predicate, *, timeout: float, interval: float = 0.25, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {message}.")
