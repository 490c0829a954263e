"""Processes that read and check a large file while the importing process de-duplicates and stores.

Checking (numbers above all) is most of an import's CPU, storing most of the rest. For a large file
a forked reading process reads the records, has them checked and hands them over in file order as
checked batches (`reading_process`); the importing process de-duplicates them and stores them
(rows.py), as it does when it reads them itself. With more workers configured the reading process
forks checking workers of its own (`worker_pool`): they inherit the checker (its compiled number
metadata included), take batches as the text of their lines and send back their answers. None of
them touches the database.

How many (`import_workers`): CALL_LIST_IMPORT_WORKERS processes besides the importing one (by
default the machine's cores less one; 0: the importing process does it all), for a file of
PARALLEL_FROM_BYTES or more. A fixed number, not a sample of idle cores: under load (both cores of
the test machine busy) the sample chose no worker and a 200,000-row import on PostgreSQL took 2x as
long as with its reading process (README, "Benchmarks").

Of the two ways to spread the work measured on PostgreSQL (200,000 realistic rows, 2 cores, one
worker), a reading process that reads and checks beat the importing process reading and handing
batches to a checking worker: 2.4 s against 3.5 s quiet, 6.1 s against 9.3 s with both cores loaded
(the importing process parsed every record, and the worker parsed it again). Only the reading
process is kept."""

import csv
import io
import os
import queue
import signal
import sys
import threading
import time
import traceback
from array import array
from collections import deque
from contextlib import contextmanager
from multiprocessing.connection import Pipe
from multiprocessing.reduction import ForkingPickler
from typing import NamedTuple

from django.conf import settings

from campaigns.importing.checking import RowChecker

# Below this size a file is read and checked in the importing process: starting a process and sending
# it the records costs more than it saves (benchmarks/bench_import.py --crossover measures it).
PARALLEL_FROM_BYTES = 2 * 1024 * 1024

# The GIL switch interval in a process that sends from a _Sender thread. The thread needs the GIL back
# after each write, and at Python's default 5 ms it waited that long for the checking loop to let go:
# it could send hardly more than one step per interval, about the pace at which steps are made, so
# the reading process stood blocked for 0.6-1.0 s of a 1,000,000-row import on PostgreSQL and the
# importing process waited for it. At 0.2 ms: 0.17 s, and the import 0.4-0.6 s quicker.
SENDER_SWITCH_SECONDS = 0.0002


def import_workers(size: int) -> int:
    """How many processes besides the importing one read and check a file of `size` bytes (0: it
    does it all; 1: a reading process; more: the reading process has checking workers)."""
    if size < PARALLEL_FROM_BYTES:
        return 0
    return max(0, settings.CALL_LIST_IMPORT_WORKERS)


class BatchText(NamedTuple):
    """A batch of records as text: what a checking worker reads, and where a duplicate's cells are
    read again from."""

    before: int  # the line before its first record
    text: str  # its physical lines, blank ones among them
    lines: array  # the line numbers of its records


# Batches a worker may hold ahead, checked or waiting: enough to ride out the importing process's
# pauses (a chunk's commit, a step's insert) without it ever waiting for a worker that was idle.
# With one batch ahead the two took turns: a 1,000,000-row import on SQLite left the worker idle for
# 6 s and the importing process waiting for it for 3 s.
BATCHES_AHEAD = 8


def rows_again(message: BatchText, delimiter: str, ncols: int) -> list[tuple[int, list[str]]]:
    """A batch as the importing process read it, (line, cells), from the text of its lines: its
    records are parsed again with the same delimiter, numbered from the line before the first, and
    those at the given line numbers kept (the others are blank rows), padded to the header's width."""
    before, text, lines = message
    batch = []
    append = batch.append
    count = len(lines)
    wanted = lines[0] if count else -1
    found = 0
    line = before
    for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
        line += 1
        if line == wanted:
            if len(row) < ncols:
                row += [""] * (ncols - len(row))
            append((line, row))
            found += 1
            wanted = lines[found] if found < count else -1
    return batch


def rows_at(message: BatchText, wanted: list[int], delimiter: str, ncols: int) -> dict[int, list[str]]:
    """The cells of the records at the `wanted` lines of a batch (a message as rows_again takes it),
    by line. When every record of the batch is one physical line (nearly always) only those lines
    are parsed; else the whole batch is, as rows_again does."""
    before, text, lines = message
    # Physical lines end at \n, \r\n or a lone \r: with no lone \r, splitting at \n finds them all.
    if text.count("\r") == text.count("\r\n"):
        physical = text.split("\n")
        if physical[-1] == "":
            physical.pop()
        if len(physical) == lines[-1] - before:  # as many physical lines as records: one line each
            return {
                line: rows_again(BatchText(line - 1, physical[line - before - 1], [line]), delimiter, ncols)[0][1]
                for line in wanted
            }
    wanted = set(wanted)
    return {line: row for line, row in rows_again(message, delimiter, ncols) if line in wanted}


def _serve(connection, checker: RowChecker, delimiter: str, inherited: list) -> None:
    """A worker's loop: check batches as they come, and hand each answer to a sending thread, so that
    checking never waits for the importing process to read an answer. Its one other wait is for
    the next batch; the importing process, for its part, never has more than BATCHES_AHEAD of them
    out, so nothing here grows without bound and no two sends wait for each other."""
    for end in inherited:
        end.close()  # the parent's ends: once the parent is gone, nothing holds the pipe open
    sys.setswitchinterval(SENDER_SWITCH_SECONDS)
    sender = _Sender(connection)
    try:
        message = connection.recv()
        while message is not None:
            try:
                answer = checker.check(rows_again(message, delimiter, checker.ncols))
            except Exception as error:  # the importing process raises it, as the import's own failure
                answer = error
            sender.send(answer)
            message = connection.recv()
        sender.close()
    except (EOFError, BrokenPipeError):
        return  # the parent stopped without a word (it was stopped itself): nothing to answer


class _Sender:
    """Sends on a connection from a thread of its own, so that the process sending never waits for
    the one receiving to read (a pipe holds 64 KB, and a step of contacts pickles to about 150 KB):
    without it a reading process stood still for as long as each of the importing process's inserts
    took. `limit` bounds what waits to be sent (the other side sets the pace); a broken pipe is raised
    in the sending process at its next send."""

    def __init__(self, connection, limit: int = 0):
        self.connection = connection
        self.waiting = queue.Queue(maxsize=limit)
        self.broken = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        message = self.waiting.get()
        while message is not None:
            if self.broken is None:
                try:
                    self.connection.send_bytes(message)  # writing lets go of the GIL
                except OSError as error:  # BrokenPipeError above all: the other side is gone
                    self.broken = error
            message = self.waiting.get()

    def send(self, item) -> None:
        """Send `item` (pickled here, as Connection.send would: the other side's recv() reads it)."""
        if self.broken is not None:
            raise self.broken
        self.waiting.put(ForkingPickler.dumps(item))

    def close(self) -> None:
        """Send what waits, then stop the thread; raises a broken pipe met on the way."""
        self.waiting.put(None)
        self.thread.join()
        if self.broken is not None:
            raise self.broken


def _forked(target, *args) -> int:
    """The pid of a child process that runs target(*args) and leaves at once (no atexit handlers, no
    inherited connection closed on the way out). os.fork itself: multiprocessing.Process refuses to
    start a child from a Celery pool process, which it counts as a daemon ("daemonic processes are
    not allowed to have children"), and every import of a large file run by Celery failed so."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the handler of the process forked from
        target(*args)
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


def _stopped(pid: int, wait_seconds: float = 0) -> None:
    """Wait up to `wait_seconds` for a child to end by itself, then stop it (SIGTERM) and reap it."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(0.01)
    try:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


@contextmanager
def worker_pool(checker: RowChecker, workers: int, delimiter: str):
    """Forked processes (they start in milliseconds with the checker in memory, nothing to import or
    pickle), each behind a pipe of its own. A multiprocessing.Pool's threads cost the importing
    process 2 s of its CPU for 1,000,000 rows, half of it switching between them."""
    ends, pids = [], []
    try:
        for _ in range(workers):
            ours, theirs = Pipe()
            ends.append(ours)
            pids.append(_forked(_serve, theirs, checker, delimiter, ends))
            theirs.close()
        yield ends
    finally:
        for end in ends:
            end.close()
        for pid in pids:
            _stopped(pid)


@contextmanager
def reading_process(produce, *args):
    """Run produce(*args), a generator, in a forked process and yield here, in order, what it yields
    there; an exception there (a refused file above all) is raised here. The process may fork
    checking workers of its own; it is stopped on the way out, however that goes."""
    ours, theirs = Pipe(duplex=False)
    pid = _forked(_reader_main, theirs, ours, produce, args)
    theirs.close()
    try:
        yield _handed_over(ours)
    finally:
        ours.close()  # a reading process still at work finds the pipe broken at its next hand-over
        _stopped(pid, wait_seconds=READER_STOP_SECONDS)  # SIGTERM: it stops its checking workers first


# How long a reading process is given to notice that the importing process stopped listening.
READER_STOP_SECONDS = 5
# Batches a reading process may have handed over and not yet sent, each pickled (about 150 KB): enough
# to read on through a chunk's commit in the importing process.
STEPS_AHEAD = 16


def _reader_main(end, parents_end, produce, args) -> None:
    parents_end.close()  # held here too, it would keep a pipe the parent has closed open for writing
    # Stopped from outside, unwind (its checking workers are stopped by worker_pool on the way).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))
    sys.setswitchinterval(SENDER_SWITCH_SECONDS)
    sender = _Sender(end, limit=STEPS_AHEAD)
    try:
        for item in produce(*args):
            sender.send(item)
        last = _DONE
    except (BrokenPipeError, SystemExit):
        return  # the importing process stopped listening: it failed on its side and says why
    except BaseException as error:
        last = error
    try:
        sender.close()
        end.send(last)
    except BrokenPipeError:
        return
    except Exception:  # an exception that cannot be pickled: its name and words
        end.send(RuntimeError(f"{type(last).__name__}: {last}"))


_DONE = "done"


READER_LOST = (
    "The import stopped: a process reading the file ended before it finished (it was stopped, or the "
    "server ran out of memory), so nothing of the list was kept. Upload the file again; if it happens "
    "again, upload it in smaller files."
)


class ReaderLost(Exception):
    """A reading or checking process ended without a word (killed): READER_LOST says so to people."""


def _handed_over(end):
    while True:
        try:
            message = end.recv()
        except (EOFError, OSError):  # OSError: it died half way through a message
            raise ReaderLost(READER_LOST) from None
        if isinstance(message, BaseException):
            raise message
        if message == _DONE:
            return
        yield message


def checked_in_workers(ends, batches, ahead: int = BATCHES_AHEAD):
    """(batch, message, its answers) for each (batch, message for a worker), in order, the messages
    dealt to the workers in turn, each worker holding up to `ahead` of them."""
    count = len(ends)
    waiting = deque()
    sent = 0
    for batch, message in batches:
        ends[sent % count].send(message)
        waiting.append((sent % count, batch, message))
        sent += 1
        if len(waiting) > count * ahead:
            yield _answer(ends, *waiting.popleft())
    for end in ends:
        end.send(None)  # no more batches: each worker answers what it holds and stops
    while waiting:
        yield _answer(ends, *waiting.popleft())


def _answer(ends, index, batch, message):
    try:
        answer = ends[index].recv()
    except (EOFError, OSError):
        raise ReaderLost(READER_LOST) from None
    if isinstance(answer, BaseException):
        raise answer
    return batch, message, answer
