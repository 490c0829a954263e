"""CPU seconds a process has used, read from /proc: the benchmarks count the PostgreSQL backend that
served them beside their own process_time()."""

import os
from pathlib import Path


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process; None when it cannot be read (gone, or no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_backend_cpu() -> float | None:
    """CPU of the PostgreSQL backend serving this process's default connection (None on SQLite)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    return cpu_seconds(pid)
