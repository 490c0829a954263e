"""`make bench`: every benchmark, on SQLite and on PostgreSQL, with its baseline from the same run."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(*args: str) -> int:
    print(f"\n$ {' '.join(args)}", flush=True)
    return subprocess.call([sys.executable, *args], cwd=HERE.parent)


def main() -> int:
    quick = ["--quick"] if "--quick" in sys.argv else []
    failures = 0
    for database in ("sqlite", "postgres"):
        failures += run(str(HERE / "bench_dispatch.py"), "--database", database, *quick) != 0
        failures += run(str(HERE / "bench_dnc.py"), "--database", database, *quick) != 0
        failures += run(str(HERE / "bench_pages.py"), "--database", database, *quick) != 0
        failures += run(str(HERE / "bench_first_call.py"), "--database", database) != 0
        failures += run(str(HERE / "bench_redials.py"), "--database", database, *quick) != 0
    failures += run(str(HERE / "bench_import.py"), *quick) != 0
    failures += run(str(HERE / "bench_api.py"), "--database", "both") != 0
    failures += run(str(HERE / "bench_outcomes.py"), "--database", "both",
                    *(["--outcomes", "100000", "--pull-calls", "20000"] if quick else [])) != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
