"""Do-not-call benchmarks (issue 15), each figure beside its baseline measured in the same run.

    DEBUG=1 .venv/bin/python benchmarks/bench_dnc.py [--database sqlite|postgres] [--quick]

(a) load a 10,000,000-number registry with `import_dnc`'s loader: numbers/s and peak memory
    (target >= 200,000 numbers/s);
(b) import a 200,000-row call list for an account without a do-not-call list and for one bound by
    a 2,000,000-number list: time and peak memory side by side (target: memory +-20 MB, time <= 1.2x);
(c) plan 1,000,000 calls for each of those accounts (target <= 1.3x), and, beside them, the same
    list launched again on the account with the list, where the dialling cap skips every call.
Each measured step runs more than once, with and without the list interleaved, and the faster run
counts. The ratios are judged on CPU seconds (the child's, plus its PostgreSQL backend's), printed
beside the wall times: on a machine shared with other work, wall time swings far more than the
code's cost does.

Numbers are valid Indian mobiles in shuffled order; 1 in 20 of the call lists' tel1 numbers is on
the 2,000,000-number list. The imported lists carry 3 numbers a row (as bench_import's); the
planned ones 1 (as bench_dispatch's), and once more 3, where every alternate is checked too.
Each step runs in a child process of its own, so its peak RSS is its own.
--quick: 1,000,000 / 500,000 numbers, a 50,000-row import, 200,000 calls.
"""

import argparse
import json
import logging
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_LOAD_RATE, TARGET_MEMORY_MB, TARGET_IMPORT_RATIO, TARGET_PLAN_RATIO = 200_000, 20, 1.2, 1.3
FULL = {"registry": 10_000_000, "list": 2_000_000, "import_rows": 200_000, "plan_calls": 1_000_000}
QUICK = {"registry": 1_000_000, "list": 500_000, "import_rows": 50_000, "plan_calls": 200_000}
HEADER = ["tel1", "tel2", "tel3", "$flow.key.name", "$flow.key.amount", "$flow.key.due"]


# --- Files --------------------------------------------------------------------------------------------


def registry_numbers(count: int):
    """`count` distinct mobile numbers in a shuffled order, each of a shape the normaliser's fast path
    takes (its own test, from phonenumbers' metadata: no Django needed here)."""
    import phonenumbers

    metadata = phonenumbers.PhoneMetadata.metadata_for_region("IN")
    mobile = re.compile(metadata.mobile.national_number_pattern).fullmatch
    general = re.compile(metadata.general_desc.national_number_pattern).fullmatch
    # 4-digit series outside 97..99 (the call lists' own numbers), each good for a million numbers.
    prefixes = [str(p) for p in range(7000, 9700) if mobile(f"{p}000000") and general(f"{p}000000")]
    made = index = 0
    while made < count:
        prefix = prefixes[index % len(prefixes)]
        suffix = (index // len(prefixes)) * 48_271 % 1_000_000  # 48,271 is prime: every suffix once
        index += 1
        national = f"{prefix}{suffix:06d}"
        if mobile(national) and general(national) and not general("91" + national):
            made += 1
            yield "91" + national


def write_registry(path: Path, count: int) -> None:
    with path.open("w") as out:
        out.write("number\n")
        out.writelines(f"{number}\n" for number in registry_numbers(count))


def write_list(path: Path, count: int, contacts: int) -> None:
    """1 in 20 of the call lists' tel1 numbers, then registry numbers up to `count`. Written a line
    at a time: the children's peak memory counts this process's too (it survives fork and exec)."""
    with path.open("w") as out:
        ours = range(0, contacts, 20)
        out.writelines(f"9198{i:08d}\n" for i in ours)
        out.writelines(f"{number}\n" for number in registry_numbers(count - len(ours)))


def write_calls(path: Path, rows: int, *, alternates: bool = True) -> None:
    with path.open("w") as out:
        out.write(",".join(HEADER) + "\n")
        for i in range(rows):
            tel2, tel3 = (f"9197{i:08d}", f"9199{i:08d}") if alternates else ("", "")
            out.write(f"9198{i:08d},{tel2},{tel3},Customer {i},{(i * 37) % 100000}.00,2026-12-31\n")


# --- In the child processes -----------------------------------------------------------------------


def _setup_django():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_setup(rounds: str) -> dict:
    """Migrate; per round an account with no list and one bound by the 2,000,000-number list (a fresh
    pair for each round, so that the dialling cap never sees another round's calls)."""
    _setup_django()
    from django.core.management import call_command

    from campaigns.models import DoNotCallList
    from flows.models import Account, Flow

    call_command("migrate", verbosity=0)
    listed = DoNotCallList.objects.create(name="List")
    for number in range(int(rounds)):
        for kind in ("WITHOUT", "WITH"):
            account = Account.objects.create(client_id=f"{kind}{number}", name=f"Account {kind.lower()} a list")
            Flow.objects.create(account=account, flow_id=f"bEnCh{kind[-2:]}{number}", security_id="x")
            if kind == "WITH":
                listed.attached_accounts.add(account)
    for number in range(int(rounds)):
        DoNotCallList.objects.create(name=f"Registry {number}")
    return {"ok": True}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _server():
    """The PostgreSQL backend of this connection (for its CPU time), when it runs on this machine."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    try:
        import psutil

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return psutil.Process(cursor.fetchone()[0])
    except Exception:  # another machine, or no permission: left out
        return None


def _server_cpu(process) -> float:
    if process is None:
        return 0.0
    times = process.cpu_times()
    return times.user + times.system


class _Clock:
    """Wall time, and CPU seconds of this process and of its database backend (what the machine's
    other work does not inflate)."""

    def __enter__(self):
        self.server = _server()
        self.wall, self.cpu, self.server_cpu = time.perf_counter(), _cpu(), _server_cpu(self.server)
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.wall
        self.cpu_seconds = _cpu() - self.cpu + _server_cpu(self.server) - self.server_cpu

    def figures(self) -> dict:
        return {"seconds": self.seconds, "cpu_seconds": self.cpu_seconds, "peak_mb": _peak_mb()}


def child_load(path: str, name: str) -> dict:
    _setup_django()
    from campaigns.donotcall.loading import dnc_file_load
    from campaigns.models import DoNotCallList

    phases = []  # the loader logs how long reading and staging took, and changing the list

    class Phases(logging.Handler):
        def emit(self, record):
            phases.append(record.getMessage().split(": ", 1)[-1])

    logging.getLogger("campaigns.donotcall.loading").addHandler(Phases(level=logging.INFO))
    logging.getLogger("campaigns.donotcall.loading").setLevel(logging.INFO)
    dnc_list = DoNotCallList.objects.get(name=name)
    before = _peak_mb()
    with _Clock() as clock:
        upload = dnc_file_load(dnc_list=dnc_list, path=Path(path))
    assert upload.status == "done", upload.error
    return {
        "numbers": upload.imported_count, "rejected": upload.rejected_count, "added": upload.added_count,
        "before_mb": before, "phases": "; ".join(phases), **clock.figures(),
    }


def child_import(path: str, client_id: str) -> dict:
    _setup_django()
    from campaigns.importing import contact_list_create, contact_list_import
    from flows.models import Flow

    flow = Flow.objects.get(account__client_id=client_id)
    with open(path, "rb") as fileobj:
        created = contact_list_create(flow=flow, fileobj=fileobj, filename=Path(path).name, source="command")
    with _Clock() as clock:
        imported = contact_list_import(contact_list_id=created.pk)
    assert imported.status == "imported", imported.error
    return {"list_id": imported.pk, "rows": imported.rows_done, **clock.figures()}


def child_plan(list_id: str) -> dict:
    _setup_django()
    from campaigns.models import ContactList
    from dialer import campaign_actions, planning
    from dialer.models import Call

    campaign = campaign_actions.campaign_create(contact_list=ContactList.objects.get(pk=int(list_id)))
    with _Clock() as clock:
        while not planning.campaign_plan(campaign_id=campaign.pk):
            pass
    calls = Call.objects.filter(campaign=campaign)
    return {
        "calls": calls.count(), "pending": calls.filter(state="pending").count(),
        "skipped": calls.filter(state="skipped").count(), **clock.figures(),
    }


# --- The run ----------------------------------------------------------------------------------------


def database_url(kind: str, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'bench.sqlite3'}"
    import psycopg

    name = f"bench_dnc_{os.getpid()}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def drop_database(url: str) -> None:
    if url.startswith("postgres"):
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def child(mode: str, url: str, media: Path, *extra: str) -> dict:
    env = dict(os.environ, DATABASE_URL=url, MEDIA_ROOT=str(media), DEBUG=os.environ.get("DEBUG", "1"))
    env.update(CALL_LIST_MAX_BYTES=str(2**40), UPLOAD_MAX_BYTES=str(2**40), CALL_LIST_MAX_ROWS=str(10**8))
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, *extra], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"child {mode} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, *extra = args.child
        modes = {"setup": child_setup, "load": child_load, "import": child_import, "plan": child_plan}
        print(json.dumps(modes[mode](*extra)))
        return

    sizes = QUICK if args.quick else FULL
    load_before = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="bench-dnc-"))
    files = {name: folder / f"{name}.csv" for name in ("registry", "list", "import", "plan", "plan3")}
    started = time.perf_counter()
    write_registry(files["registry"], sizes["registry"])
    write_list(files["list"], sizes["list"], sizes["plan_calls"])
    write_calls(files["import"], sizes["import_rows"])
    write_calls(files["plan"], sizes["plan_calls"], alternates=False)
    write_calls(files["plan3"], sizes["plan_calls"])
    print(f"wrote the files in {time.perf_counter() - started:.0f} s to {folder}", flush=True)

    url = database_url(args.database, folder)
    media = folder / "media"
    rounds = 2
    runs = {"load": [], "import": {"WITHOUT": [], "WITH": []}, "plan": {"WITHOUT": [], "WITH": []}}
    try:
        child("setup", url, media, str(rounds + 1))
        # Every measured step runs `rounds` times, with and without the list interleaved, and the best
        # run counts: the machine's other work then falls on both sides alike.
        for number in range(rounds):
            runs["load"].append(child("load", url, media, str(files["registry"]), f"Registry {number}"))
            print(f"(a) load: {runs['load'][-1]}", flush=True)
        listed = child("load", url, media, str(files["list"]), "List")
        print(f"    the list for (b) and (c): {listed}", flush=True)
        for number in range(rounds + 1):  # cheap: one round more
            for kind in ("WITHOUT", "WITH"):
                runs["import"][kind].append(child("import", url, media, str(files["import"]), f"{kind}{number}"))
                print(f"(b) import {kind.lower()} a list: {runs['import'][kind][-1]}", flush=True)
        for number in range(rounds):
            for kind in ("WITHOUT", "WITH"):
                list_id = child("import", url, media, str(files["plan"]), f"{kind}{number}")["list_id"]
                runs["plan"][kind].append(child("plan", url, media, str(list_id)))
                print(f"(c) plan {kind.lower()} a list: {runs['plan'][kind][-1]}", flush=True)
        relaunch = child("plan", url, media, str(list_id))
        print(f"(c) the same list again (the cap skips every call): {relaunch}", flush=True)
        for kind in ("WITHOUT", "WITH"):
            list_id = child("import", url, media, str(files["plan3"]), f"{kind}{rounds}")["list_id"]
            runs["plan"][f"{kind}3"] = [child("plan", url, media, str(list_id))]
            print(f"(c) plan 3 numbers a contact {kind.lower()} a list: {runs['plan'][f'{kind}3'][-1]}", flush=True)
    finally:
        drop_database(url)

    def best(results):
        return min(results, key=lambda r: r["cpu_seconds"])

    load = min(runs["load"], key=lambda r: r["seconds"])  # a rate in wall time, as the target is
    rate = load["numbers"] / load["seconds"]
    imports = {kind: best(results) for kind, results in runs["import"].items()}
    peak = {kind: max(r["peak_mb"] for r in results) for kind, results in runs["import"].items()}
    plans = {kind: best(results) for kind, results in runs["plan"].items()}
    import_ratio = imports["WITH"]["cpu_seconds"] / imports["WITHOUT"]["cpu_seconds"]
    memory_delta = peak["WITH"] - peak["WITHOUT"]
    plan_ratio = plans["WITH"]["cpu_seconds"] / plans["WITHOUT"]["cpu_seconds"]
    print(f"\ndo-not-call benchmarks ({args.database}{', quick' if args.quick else ''}; the best of {rounds} or more)")
    print(
        f"  (a) load {load['numbers']:,} numbers: {load['seconds']:.1f} s ({load['cpu_seconds']:.1f} CPU s), "
        f"{rate:,.0f} numbers/s, peak {load['peak_mb']:.0f} MB (before the load {load['before_mb']:.0f} MB); "
        f"target >= {TARGET_LOAD_RATE:,}/s: {verdict(rate >= TARGET_LOAD_RATE)}\n      ({load['phases']})"
    )
    print(
        f"  (b) import {sizes['import_rows']:,} rows: without a list {imports['WITHOUT']['seconds']:.2f} s "
        f"({imports['WITHOUT']['cpu_seconds']:.2f} CPU s) / {peak['WITHOUT']:.0f} MB; "
        f"with the {listed['added']:,}-number list {imports['WITH']['seconds']:.2f} s "
        f"({imports['WITH']['cpu_seconds']:.2f} CPU s) / {peak['WITH']:.0f} MB: {import_ratio:.2f}x CPU "
        f"({imports['WITH']['seconds'] / imports['WITHOUT']['seconds']:.2f}x wall), "
        f"{memory_delta:+.0f} MB; targets <= {TARGET_IMPORT_RATIO}x: {verdict(import_ratio <= TARGET_IMPORT_RATIO)}, "
        f"+-{TARGET_MEMORY_MB} MB: {verdict(abs(memory_delta) <= TARGET_MEMORY_MB)}"
    )
    print(
        f"  (c) plan {plans['WITHOUT']['calls']:,} calls: without a list {plans['WITHOUT']['seconds']:.1f} s "
        f"({plans['WITHOUT']['cpu_seconds']:.1f} CPU s); with the list {plans['WITH']['seconds']:.1f} s "
        f"({plans['WITH']['cpu_seconds']:.1f} CPU s, {plans['WITH']['skipped']:,} skipped): {plan_ratio:.2f}x CPU "
        f"({plans['WITH']['seconds'] / plans['WITHOUT']['seconds']:.2f}x wall); "
        f"target <= {TARGET_PLAN_RATIO}x: {verdict(plan_ratio <= TARGET_PLAN_RATIO)}"
    )
    with3, without3 = plans["WITH3"], plans["WITHOUT3"]
    print(
        f"      3 numbers a contact (every alternate checked too, one run): without a list "
        f"{without3['seconds']:.1f} s ({without3['cpu_seconds']:.1f} CPU s); with the list {with3['seconds']:.1f} s "
        f"({with3['cpu_seconds']:.1f} CPU s): {with3['cpu_seconds'] / without3['cpu_seconds']:.2f}x CPU "
        f"({with3['seconds'] / without3['seconds']:.2f}x wall)"
    )
    print(
        f"      the same list launched again: {relaunch['seconds']:.1f} s ({relaunch['cpu_seconds']:.1f} CPU s), "
        f"{relaunch['skipped']:,} of {relaunch['calls']:,} skipped (1 in 20 on the list, the rest over the cap)"
    )
    print(f"  load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
