"""API benchmark: 100,000 rows through the JSON rows endpoint (10 requests of 10,000) against the
same rows uploaded as one CSV, each end to end over HTTP including the import.

    DEBUG=1 .venv/bin/python benchmarks/bench_api.py [--rows N] [--requests K] [--database sqlite|postgres|both]

For each database, in a freshly migrated database of its own (a temp SQLite file, or a `bench_api`
database on the PostgreSQL server of PG_URL), a child process starts the WSGI application on a
loopback port with Celery tasks run in-process (so the import runs as soon as the list is closed or
uploaded, and the clock stops when it is imported), then times:
  - JSON: K POSTs of N/K rows (the first opens the list, the last closes it), until imported;
  - CSV: one multipart upload of the same rows, until imported.
Target: the JSON path under 10 s for 100,000 rows.
"""

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 10.0


def rows(count: int) -> list[dict]:
    return [{"tel1": f"9198{i:08d}", "tel2": f"9197{i:08d}", "name": f"Customer {i}"} for i in range(count)]


def rows_csv(items: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(items[0]))
    writer.writeheader()
    writer.writerows(items)
    return out.getvalue().encode()


# --- In the child process ---------------------------------------------------------------------------


def _serve():
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler, get_internal_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet, allow_reuse_address=False)
    server.set_app(get_internal_wsgi_application())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/api/v1"


def _wait_imported(session, url) -> dict:
    while True:
        listed = session.get(url, timeout=600).json()
        if listed["status"] in ("imported", "refused", "failed"):
            return listed
        time.sleep(0.05)


def _answer(response) -> dict:
    """The API's JSON answer, or the run stops saying what the server answered instead."""
    if response.status_code >= 400 or "json" not in response.headers.get("Content-Type", ""):
        raise SystemExit(f"{response.request.method} {response.url}: HTTP {response.status_code} "
                         f"({response.headers.get('Content-Type')}): {response.text[:300]}")
    return response.json()


def child(count: int, requests_: int) -> dict:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import requests
    from django.conf import settings
    from django.core.management import call_command

    from api.keys import api_key_create
    from config.celery import app
    from flows.models import Account, Flow

    call_command("migrate", verbosity=0)
    app.conf.task_always_eager = True
    settings.API_THROTTLE_RATE = "100000/60"
    account = Account.objects.create(name="Bench", client_id="BENCHAPI")
    Flow.objects.create(account=account, flow_id="bEnChApi", security_id="x")
    key = api_key_create(account=account, name="bench")[1]
    server, base = _serve()
    session = requests.Session()
    session.headers["Authorization"] = f"Api-Key {key}"
    items = rows(count)
    size = -(-count // requests_)
    chunks = [items[i : i + size] for i in range(0, count, size)]

    started = time.perf_counter()
    list_id = _answer(session.post(f"{base}/lists/", json={"flow": "bEnChApi", "rows": chunks[0]}, timeout=600))["id"]
    for number, chunk in enumerate(chunks[1:], start=2):
        answer = session.post(f"{base}/lists/{list_id}/rows/", json={"rows": chunk, "close": number == len(chunks)},
                              timeout=600)
        answer.raise_for_status()
    json_list = _wait_imported(session, f"{base}/lists/{list_id}/")
    json_seconds = time.perf_counter() - started

    body = rows_csv(items)
    started = time.perf_counter()
    created = _answer(session.post(f"{base}/lists/", data={"flow": "bEnChApi"}, files={"file": ("bench.csv", body)},
                                   timeout=600))
    csv_list = _wait_imported(session, f"{base}/lists/{created['id']}/")
    csv_seconds = time.perf_counter() - started
    server.shutdown()
    return {
        "json": {"seconds": json_seconds, "requests": len(chunks), "imported": json_list["imported"],
                 "status": json_list["status"]},
        "csv": {"seconds": csv_seconds, "bytes": len(body), "imported": csv_list["imported"],
                "status": csv_list["status"]},
    }


# --- The parent -------------------------------------------------------------------------------------


def prepare_database(kind: str, folder: Path, pg_url: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'bench_api.sqlite3'}"
    import psycopg

    name = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return pg_url


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432/bench_api"))
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.rows, args.requests)))
        return 0
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    failed = False
    for kind in kinds:
        with tempfile.TemporaryDirectory() as folder:
            env = dict(os.environ, DEBUG=os.environ.get("DEBUG", "1"), MEDIA_ROOT=str(Path(folder) / "media"),
                       DATABASE_URL=prepare_database(kind, Path(folder), args.pg_url))
            done = subprocess.run(
                [sys.executable, __file__, "--child", "--rows", str(args.rows), "--requests", str(args.requests)],
                env=env, cwd=ROOT, capture_output=True, text=True,
            )
        if done.returncode != 0:
            sys.stderr.write(done.stdout + done.stderr)
            return 1
        result = json.loads(done.stdout.strip().splitlines()[-1])
        j, c = result["json"], result["csv"]
        print(f"\n{kind}: {args.rows:,} rows")
        print(f"  JSON rows, {j['requests']} requests, through the import: {j['seconds']:6.2f} s "
              f"({args.rows / j['seconds']:,.0f} rows/s), {j['imported']:,} imported, {j['status']}")
        print(f"  CSV upload ({c['bytes'] / 1e6:.1f} MB), through the import:  {c['seconds']:6.2f} s "
              f"({args.rows / c['seconds']:,.0f} rows/s), {c['imported']:,} imported, {c['status']}")
        verdict = "met" if j["seconds"] < TARGET_SECONDS and j["imported"] == args.rows else "MISSED"
        print(f"  target: JSON under {TARGET_SECONDS:.0f} s: {verdict}; JSON / CSV = {j['seconds'] / c['seconds']:.2f}")
        failed |= verdict == "MISSED"
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
