"""`make run`: the whole product on one machine, on the embedded default.

Migrates, creates the demo logins and flow, then starts an embedded Redis (unless REDIS_URL is
set), the sandbox provider, a Celery worker, beat and the web server on 127.0.0.1:$PORT. Prints
the URL and the login. Ctrl-C or SIGTERM stops everything.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from config.embedded_redis import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def run_manage(*args: str, env: dict) -> str:
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


def wait_for_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 - loopback only
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s.")


def main() -> int:
    env = dict(os.environ)
    env.setdefault("DEBUG", "1")
    port = env.get("PORT", "8000")
    sandbox_port = env.setdefault("SANDBOX_PORT", "8765")
    # The sandbox pushes each call's delivery report to the flow's report URL on this server.
    env.setdefault("SITE_URL", f"http://127.0.0.1:{port}")
    (ROOT / "var").mkdir(exist_ok=True)

    redis = None
    if not env.get("REDIS_URL"):
        redis = EmbeddedRedis().start()
        env["REDIS_URL"] = redis.url
        print(f"Embedded Redis on {redis.url}", flush=True)

    print("Migrating the database ...", flush=True)
    run_manage("migrate", "--noinput", env=env)
    demo = json.loads(run_manage("seed_demo", env=env).strip().splitlines()[-1])

    children: list[subprocess.Popen] = []

    def start(name: str, args: list[str]) -> None:
        log = open(ROOT / "var" / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the child
        children.append(subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))

    stopping = False

    def stop(*_):
        nonlocal stopping
        if stopping:
            return
        stopping = True
        print("\nStopping ...", flush=True)
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        if redis:
            redis.stop()

    signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
    try:
        start("sandbox", [PYTHON, "manage.py", "run_sandbox", "--port", sandbox_port])
        start("worker", [PYTHON, "-m", "celery", "-A", "config", "worker", "--pool=threads", "--concurrency=4",
                         "--loglevel=INFO", "-n", "dev@%h"])
        start("beat", [PYTHON, "-m", "celery", "-A", "config", "beat", "-s", str(ROOT / "var" / "beat-schedule"),
                       "--loglevel=INFO"])
        start("web", [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"])
        wait_for_http(f"http://127.0.0.1:{port}/login/")
        print(
            f"\nThe campaign manager is running at http://127.0.0.1:{port}/\n"
            f"  login: {demo['admin']} / {demo['password']} (admin), or {demo['manager']} / {demo['password']}\n"
            f"  demo flow {demo['flow_id']}; a demo call list to upload: {demo['demo_csv']}\n"
            f"  sandbox provider: http://127.0.0.1:{sandbox_port}/  logs: var/*.log\n"
            "Ctrl-C stops everything.",
            flush=True,
        )
        parent = os.getppid()
        while True:
            if os.getppid() != parent:  # `make` was killed without passing the signal on
                return 0
            for child in children:
                if child.poll() is not None:
                    print(f"A process exited ({' '.join(child.args[:4])}); see var/*.log.", flush=True)
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
