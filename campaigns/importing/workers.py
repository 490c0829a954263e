"""Worker processes that check a large file's records while the importing process reads and stores.

Checking (numbers above all) is most of an import's CPU. Forked workers inherit the checker (its
compiled number metadata included), take batches of records and send back their answers; the
importing process keeps them in file order, so line numbers, duplicates and the rejected-rows report
are what one process would produce. Workers never touch the database."""

import multiprocessing
import os
from collections import deque
from contextlib import contextmanager

from campaigns.importing.checking import RowChecker

# Below this size a file is checked in the importing process: starting workers and sending them the
# records costs more than they save (benchmarks/bench_import.py --crossover measures it).
PARALLEL_FROM_BYTES = 2 * 1024 * 1024
# One core reads, keeps order and stores (or runs the database); the others check.
WORKERS = max(0, (os.cpu_count() or 1) - 1)

def idle_cores() -> float:
    """Cores nobody is using, by the 1-minute load average (this process counts as one user)."""
    return (os.cpu_count() or 1) - os.getloadavg()[0] + 1


def workers_for(size: int, server_here: bool = False) -> int:
    """How many worker processes a file of `size` bytes is checked by (0: in the importing process).
    A worker only helps on a core of its own: on a busy machine (measured with load averages of 7 to 14
    on 2 cores) the importing process waits for its starved workers and one process alone is as fast.
    A database server on this machine (`server_here`) needs a core too: with PostgreSQL beside it on
    2 cores, a worker made a 1,000,000-row import 47% slower (benchmarks/bench_import.py --workers compare)."""
    if size < PARALLEL_FROM_BYTES:
        return 0
    return max(0, min(WORKERS, int(idle_cores()) - 1 - int(server_here)))


def _serve(connection, checker: RowChecker) -> None:
    """A worker's loop: it answers a batch once the next one (or None, the end) has arrived, so the
    importing process is never blocked sending while this one is blocked answering."""
    batch = connection.recv()
    while batch is not None:
        try:
            answer = checker.check(batch)
        except Exception as error:  # the importing process raises it, as the import's own failure
            answer = error
        batch = connection.recv()
        connection.send(answer)


@contextmanager
def worker_pool(checker: RowChecker, workers: int):
    """Forked processes (they start in milliseconds with the checker in memory, nothing to import or
    pickle), each behind a pipe of its own. A multiprocessing.Pool's threads cost the importing
    process 2 s of its CPU for 1,000,000 rows, half of it switching between them."""
    context = multiprocessing.get_context("fork")
    ends, processes = [], []
    try:
        for _ in range(workers):
            ours, theirs = context.Pipe()
            process = context.Process(target=_serve, args=(theirs, checker), daemon=True)
            process.start()
            theirs.close()
            ends.append(ours)
            processes.append(process)
        yield ends
    finally:
        for end in ends:
            end.close()
        for process in processes:
            process.terminate()
            process.join()


def checked_in_workers(ends, batches):
    """(batch, its answers) in the batches' order, the batches dealt to the workers in turn: each worker
    holds two, the one it checks and the next."""
    count = len(ends)
    waiting = deque()
    sent = 0
    for batch in batches:
        ends[sent % count].send(batch)
        sent += 1
        waiting.append(batch)
        if len(waiting) > count:
            yield _answer(ends[(sent - 1 - count) % count], waiting.popleft())
    # The last batch of each worker: "no more" lets it answer.
    for index in range(sent - len(waiting), sent):
        end = ends[index % count]
        end.send(None)
        yield _answer(end, waiting.popleft())


def _answer(end, batch):
    answer = end.recv()
    if isinstance(answer, BaseException):
        raise answer
    return batch, answer
