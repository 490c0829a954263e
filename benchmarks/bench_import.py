"""Call-list import benchmark: the streaming importer against django-import-export.

    DEBUG=1 .venv/bin/python benchmarks/bench_import.py [--rows N] [--database sqlite|postgres|both]

Writes an N-row CSV (3 numbers and 3 variables a row, valid Indian mobiles) to a temp folder,
then, for each database, in a freshly migrated database of its own (a temp SQLite file, or a
`bench` database created on the PostgreSQL server):
  - imports it end to end through campaigns.importing.contact_list_import,
  - imports the first --baseline-rows rows with django-import-export (a ModelResource onto the same
    Contact model, numbers normalised with phonenumbers as the importer does), row by row as the
    admin import does, and with use_bulk=True,
each measured in a child process of its own: rows/s, and the child's peak RSS (ru_maxrss).
Targets: >= 50,000 rows/s, peak < 300 MB, >= 20x the baseline.
"""

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = ["tel1", "tel2", "tel3", "$flow.key.name", "$flow.key.amount", "$flow.key.due"]
TARGET_RATE, TARGET_MB, TARGET_RATIO = 50_000, 300, 20


def generate(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for i in range(rows):
            writer.writerow(
                [
                    f"9198{i:08d}",
                    f"9197{i:08d}",
                    f"9199{i:08d}",
                    f"Customer {i}",
                    f"{(i * 37) % 100000}.00",
                    f"2026-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
                ]
            )


def prepare_database(kind: str, folder: Path, pg_url: str) -> str:
    if kind == "sqlite":
        path = folder / "bench.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg

    name = pg_url.rsplit("/", 1)[1]
    admin_url = pg_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return pg_url


def child(mode: str, database_url: str, media: Path, *extra: str) -> dict:
    env = dict(os.environ, DATABASE_URL=database_url, MEDIA_ROOT=str(media), DEBUG=os.environ.get("DEBUG", "1"))
    # The benchmark file is far above the 5 MB a person may upload.
    env.update(CALL_LIST_MAX_BYTES=str(2**40), UPLOAD_MAX_BYTES=str(2**40))
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, *extra], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"child {mode} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- In the child processes -------------------------------------------------------------------------


def _setup_django():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _flow():
    from flows.models import Account, Flow

    account, _ = Account.objects.get_or_create(client_id="BENCH01", defaults={"name": "Bench"})
    flow, _ = Flow.objects.get_or_create(flow_id="bEnCh001", defaults={"account": account, "security_id": "x"})
    return flow


def _cpu(process=None) -> float:
    """CPU seconds (user + system) of this process, or of the database server process given."""
    if process is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    times = process.cpu_times()
    return times.user + times.system


def _database_process():
    """The PostgreSQL backend serving this connection, when it runs on this machine (for its CPU time)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    try:
        import psutil

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return psutil.Process(cursor.fetchone()[0])
    except Exception:  # another machine, or no permission: the figure is left out
        return None


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_migrate() -> dict:
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return {"ok": True}


def child_import(path: str) -> dict:
    _setup_django()
    from campaigns.importing import contact_list_create, contact_list_import
    from campaigns.models import Contact

    flow = _flow()
    started = time.perf_counter()
    with open(path, "rb") as fileobj:
        created = contact_list_create(flow=flow, fileobj=fileobj, filename=Path(path).name, source="command")
    stored = time.perf_counter() - started
    before_mb = _peak_mb()
    server = _database_process()
    server_cpu, cpu = _cpu(server), _cpu()
    started = time.perf_counter()
    imported = contact_list_import(contact_list_id=created.pk)
    seconds = time.perf_counter() - started
    cpu, server_cpu = _cpu() - cpu, _cpu(server) - server_cpu
    assert imported.status == "imported", imported.error
    assert Contact.objects.filter(contact_list=imported).count() == imported.imported_count
    return {
        "rows": imported.rows_done,
        "imported": imported.imported_count,
        "rejected": imported.rejected_count,
        "seconds": seconds,
        "store_seconds": stored,
        "peak_mb": _peak_mb(),
        "before_mb": before_mb,
        "cpu_seconds": cpu,
        "db_server_cpu_seconds": server_cpu if server else None,
    }


def child_baseline(path: str, bulk: str) -> dict:
    _setup_django()
    import phonenumbers
    import tablib
    from import_export import resources

    from campaigns.models import Contact, ContactList

    flow = _flow()
    contact_list = ContactList.objects.create(flow=flow, name="baseline", status="imported")

    def normalise(raw):
        number = phonenumbers.parse(raw, "IN")
        if not phonenumbers.is_valid_number(number):
            raise ValueError(f"invalid number {raw}")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]

    class ContactResource(resources.ModelResource):
        class Meta:
            model = Contact
            fields = ("id", "contact_list", "line", "primary_number", "numbers", "variables", "external_id")
            use_bulk = bulk == "bulk"
            batch_size = 5000

        def before_import_row(self, row, row_number=None, **kwargs):
            numbers = [normalise(row[f"tel{i}"]) for i in (1, 2, 3) if row[f"tel{i}"]]
            row["contact_list"] = contact_list.pk
            row["line"] = row_number + 1
            row["primary_number"] = numbers[0]
            row["numbers"] = json.dumps(numbers)
            row["variables"] = json.dumps({k[len("$flow.key.") :]: row[k] for k in HEADER[3:]})
            row["external_id"] = ""

    started = time.perf_counter()
    with open(path, encoding="utf-8") as source:
        dataset = tablib.Dataset().load(source.read(), format="csv")
    for column in ("contact_list", "line", "primary_number", "numbers", "variables", "external_id"):
        dataset.append_col([""] * len(dataset), header=column)
    result = ContactResource().import_data(dataset, dry_run=False, raise_errors=True, use_transactions=True)
    seconds = time.perf_counter() - started
    assert not result.has_errors()
    count = Contact.objects.filter(contact_list=contact_list).count()
    assert count == len(dataset), (count, len(dataset))
    return {"rows": count, "seconds": seconds, "peak_mb": _peak_mb()}


# --- The run ----------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=20_000)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/bench")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, *extra = args.child
        print(json.dumps({"migrate": child_migrate, "import": child_import, "baseline": child_baseline}[mode](*extra)))
        return

    load_before = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="bench-import-"))
    full, head = folder / "calls.csv", folder / "calls-head.csv"
    started = time.perf_counter()
    generate(full, args.rows)
    generate(head, min(args.baseline_rows, args.rows))
    print(
        f"wrote {args.rows:,} rows ({full.stat().st_size / 2**20:.0f} MB) in {time.perf_counter() - started:.1f} s"
        f" to {folder}",
        flush=True,
    )
    results = []
    for kind in ["sqlite", "postgres"] if args.database == "both" else [args.database]:
        url = prepare_database(kind, folder, args.pg_url)
        child("migrate", url, folder / "media")
        ours = child("import", url, folder / "media", str(full))
        print(f"{kind}: importer {ours}", flush=True)
        row_by_row = child("baseline", url, folder / "media", str(head), "rows")
        print(f"{kind}: django-import-export {row_by_row}", flush=True)
        bulk = child("baseline", url, folder / "media", str(head), "bulk")
        print(f"{kind}: django-import-export use_bulk {bulk}", flush=True)
        results.append((kind, ours, row_by_row, bulk))

    rate = lambda r: r["rows"] / r["seconds"]  # noqa: E731
    print()
    print(f"{'database':<9} {'what':<34} {'rows':>9} {'seconds':>8} {'rows/s':>9} {'peak MB':>8} {'ratio':>7}")
    for kind, ours, row_by_row, bulk in results:
        for label, r in (
            ("contact_list_import", ours),
            ("import-export, row by row", row_by_row),
            ("import-export, use_bulk", bulk),
        ):
            ratio = rate(ours) / rate(r)
            print(
                f"{kind:<9} {label:<34} {r['rows']:>9,} {r['seconds']:>8.1f} {rate(r):>9,.0f} "
                f"{r['peak_mb']:>8.0f} {ratio:>6.1f}x"
            )
        ratio = rate(ours) / rate(row_by_row)
        verdict = [
            f"rate {'ok' if rate(ours) >= TARGET_RATE else 'BELOW'} (>= {TARGET_RATE:,}/s)",
            f"peak {'ok' if ours['peak_mb'] < TARGET_MB else 'ABOVE'} (< {TARGET_MB} MB)",
            f"ratio {'ok' if ratio >= TARGET_RATIO else 'BELOW'} (>= {TARGET_RATIO}x row by row)",
        ]
        print(f"{kind:<9} targets: " + ", ".join(verdict))
        # Wall time depends on what else the machine runs; CPU seconds do not.
        cpu = f"{kind:<9} CPU: importer process {ours['cpu_seconds']:.1f} s"
        if ours.get("db_server_cpu_seconds") is not None:
            cpu += f", database server process {ours['db_server_cpu_seconds']:.1f} s"
        print(cpu)
    print(f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
