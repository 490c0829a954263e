"""Worker processes that check a large file's records while the importing process reads and stores.

Checking (numbers above all) is most of an import's CPU. Forked workers inherit the checker (its
compiled number metadata included), take batches of records and send back their answers; the
importing process keeps them in file order, so line numbers, duplicates and the rejected-rows report
are what one process would produce. Workers never touch the database."""

import multiprocessing
import os
from contextlib import contextmanager

from campaigns.importing.checking import RowChecker

# Below this size a file is checked in the importing process: starting workers and sending them the
# records costs more than they save (benchmarks/bench_import.py --crossover measures it).
PARALLEL_FROM_BYTES = 2 * 1024 * 1024
# One core reads, keeps order and stores (or runs the database); the others check.
WORKERS = max(0, (os.cpu_count() or 1) - 1)

_checker: RowChecker | None = None


def _start_worker(checker: RowChecker) -> None:
    global _checker
    _checker = checker


def check_in_worker(batch: list[tuple[int, list[str]]]) -> list[tuple]:
    return _checker.check(batch)


def idle_cores() -> float:
    """Cores nobody is using, by the 1-minute load average (this process counts as one user)."""
    return (os.cpu_count() or 1) - os.getloadavg()[0] + 1


def workers_for(size: int) -> int:
    """How many worker processes a file of `size` bytes is checked by (0: in the importing process).
    A worker only helps on a core of its own: on a busy machine (measured with load averages of 7 to 14
    on 2 cores) the importing process waits for its starved workers and one process alone is as fast."""
    if size < PARALLEL_FROM_BYTES:
        return 0
    return max(0, min(WORKERS, int(idle_cores()) - 1))


@contextmanager
def worker_pool(checker: RowChecker, workers: int):
    # fork: the workers start in milliseconds with the checker in memory, nothing to import or pickle.
    pool = multiprocessing.get_context("fork").Pool(workers, initializer=_start_worker, initargs=(checker,))
    try:
        yield pool
    finally:
        pool.terminate()
        pool.join()
