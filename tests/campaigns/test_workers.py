"""A large file checked by worker processes imports exactly as one process imports it: the same
contacts, the same rejected rows in the same order, line numbers, duplicates across batches and ZIP
members included."""

import datetime
import io
import random
import zipfile

import psutil
import pytest

from campaigns.importing import rows, workers
from campaigns.importing.checking import RowChecker
from campaigns.models import Contact, ContactList, RejectedRow

pytestmark = pytest.mark.django_db


def mixed_rows(count: int, seed: int) -> list[str]:
    """Mobiles, landlines, toll-free, other countries, invalid numbers, duplicates, bad start times,
    blank lines and rows with cells beyond the header."""
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        roll = rng.random()
        if roll < 0.05:
            lines.append("")
            continue
        tel1 = rng.choice(
            [f"+91 98{i:03d} {rng.randrange(10**5):05d}", f"080 2{rng.randrange(10**7):07d}", f"1800 123 {i:04d}",
             f"+44 20 7946 0{i % 1000:03d}", f"98{i:04d}", f"98{i:04d}ABC12", "919812345678"]
        )
        tel2 = rng.choice(["", f"+1 201 555 0{i % 1000:03d}", "12", "+91-22-21234567"])
        start = rng.choice(["", "2099-01-15T10:30:00+05:30", "15-01-2099 10:30", "2001-01-01 10:00", "soon"])
        extra = ",surplus" if rng.random() < 0.02 else ""
        lines.append(f'{tel1},{tel2},{start},"Name {i}, Jr.",{i}{extra}')
    return lines


def table(contact_list):
    contacts = list(
        Contact.objects.filter(contact_list=contact_list)
        .order_by("pk")
        .values_list("line", "primary_number", "numbers", "variables", "start_at", "external_id")
    )
    rejected = list(
        RejectedRow.objects.filter(contact_list=contact_list)
        .order_by("pk")
        .values_list("line", "column", "value", "reason", "raw")
    )
    return contacts, rejected


@pytest.fixture
def checked_by(monkeypatch, settings):
    """Import a file with worker processes (every file is large enough) or without them."""
    settings.CALL_LIST_CHUNK_ROWS = 37  # many batches, and chunks that end in the middle of them

    def run(import_file, data: bytes, filename: str, count: int):
        monkeypatch.setattr(workers, "PARALLEL_FROM_BYTES", 0)
        settings.CALL_LIST_IMPORT_WORKERS = count  # however busy the machine, and any database
        return import_file(data, filename)

    return run


@pytest.mark.parametrize("worker_count", [1, 2])
def test_workers_import_a_file_exactly_as_one_process_does(import_file, checked_by, worker_count):
    # given a file of a thousand mixed rows
    data = ("tel1,tel2,starttime,$flow.key.name,$flow.key.n\r\n" + "\r\n".join(mixed_rows(1000, 16))).encode()

    # when it is imported by one process, then by worker processes
    alone = checked_by(import_file, data, "list.csv", 0)
    shared = checked_by(import_file, data, "list.csv", worker_count)

    # then both hold the same contacts and the same rejected rows, in the same order
    assert alone.status == shared.status == ContactList.Status.IMPORTED, (alone.error, shared.error)
    assert (shared.imported_count, shared.rejected_count) == (alone.imported_count, alone.rejected_count)
    assert alone.imported_count > 200 and alone.rejected_count > 200
    assert table(shared) == table(alone)
    reasons = " ".join(reason for *_, reason, _raw in table(alone)[1])
    assert "is already in this list at line" in reasons and "on a past date" in reasons


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_workers_read_quoted_cells_over_several_lines_and_any_line_ending_as_one_process_does(
    import_file, checked_by, newline
):
    # given rows whose quoted cells hold line breaks (in the first half), delimiters and quotes,
    # between blank lines, ;-separated, and every fifth repeating the number before it (the workers
    # parse each batch again from its text; on PostgreSQL a duplicate's cells are read again from it)
    rows = []
    for i in range(400):
        if i % 7 == 0:
            rows.append("")
        name = f'"Line one{newline}line ""two"" of {i}; still {i}"' if i % 3 == 0 and i < 200 else f"Name {i}"
        rows.append(f"+91 98{i - 1 if i % 5 == 4 else i:03d} 12345;{name};{i}")
    data = ("tel1;$flow.key.name;$flow.key.n" + newline + newline.join(rows) + newline).encode()

    # when it is imported by one process, then by a worker
    alone = checked_by(import_file, data, "list.csv", 0)
    shared = checked_by(import_file, data, "list.csv", 1)

    # then the same contacts are kept, at the same lines, with the same cells, and the same rows rejected
    assert alone.status == shared.status == ContactList.Status.IMPORTED, (alone.error, shared.error)
    assert (alone.imported_count, alone.rejected_count) == (320, 80)
    assert table(shared) == table(alone)
    rejected_raws = [raw for *_, raw in table(shared)[1]]
    assert ["+91 98008 12345", f'Line one{newline}line "two" of 9; still 9', "9"] in rejected_raws
    assert ["+91 98398 12345", "Name 399", "399"] in rejected_raws
    contacts = table(shared)[0]
    assert contacts[0][3] == {"name": f'Line one{newline}line "two" of 0; still 0', "n": "0"}


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_a_batch_s_records_are_read_again_line_by_line_as_the_whole_batch_reads_them(newline):
    # given batches of records as a reading process hands them over: some one line each, some with
    # a quoted cell over several lines, blank lines among them, the last line with or without its end
    rng = random.Random(7)
    for attempt in range(200):
        before = rng.randrange(1, 50)
        records = []
        for i in range(rng.randrange(1, 30)):
            if rng.random() < 0.1:
                records.append("")
            elif rng.random() < (0.2 if attempt % 2 else 0):
                records.append(f'+91 98{i:03d} 12345;"two{newline}lines ; {i}";{i}')
            else:
                records.append(f"+91 98{i:03d} 12345;Name {i};{i}")
        while records and not records[-1]:
            records.pop()
        if not records:
            continue
        text = newline.join(records) + (newline if rng.random() < 0.5 else "")
        numbered = [before + 1 + index for index, record in enumerate(records) if record]
        message = (before, text, numbered)

        # when the records of some lines are read again, alone
        wanted = sorted(rng.sample(numbered, rng.randrange(1, len(numbered) + 1)))
        found = workers.rows_at(message, wanted, ";", 4)

        # then they are the cells the whole batch parsed again holds at those lines
        assert found == {line: row for line, row in workers.rows_again(message, ";", 4) if line in wanted}


@pytest.mark.parametrize("between", [0, 300], ids=["a CSV of no rows between", "a CSV of its own between"])
def test_workers_import_a_zip_of_several_csvs_exactly_as_one_process_does(import_file, checked_by, between):
    # given a ZIP of CSVs whose numbers repeat across them, with another CSV between them
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, seed, count in (("north.csv", 1, 300), ("middle.csv", 2, between), ("south.csv", 1, 300)):
            body = "tel1,tel2,starttime,$flow.key.name,$flow.key.n\r\n" + "\r\n".join(mixed_rows(count, seed))
            zipped.writestr(name, body)

    # when it is imported by one process, then by a worker
    alone = checked_by(import_file, archive.getvalue(), "lists.zip", 0)
    shared = checked_by(import_file, archive.getvalue(), "lists.zip", 1)

    # then the same rows are kept, and the duplicates name the CSV they first came from
    assert alone.status == shared.status == ContactList.Status.IMPORTED, (alone.error, shared.error)
    assert table(shared) == table(alone)
    assert any('of "north.csv"' in reason for *_, reason, _raw in table(shared)[1])


def test_a_refusal_half_way_stops_the_workers_and_keeps_nothing(import_file, checked_by, settings):
    # given a file with more rows than a list may have
    settings.CALL_LIST_MAX_ROWS = 500
    data = ("tel1,tel2,starttime,$flow.key.name,$flow.key.n\r\n" + "\r\n".join(mixed_rows(1000, 3))).encode()

    # when it is imported by a worker
    refused = checked_by(import_file, data, "list.csv", 1)

    # then the file is refused whole and nothing of it stays
    assert refused.status == ContactList.Status.REFUSED
    assert "more than 500 rows" in refused.error
    assert not Contact.objects.filter(contact_list=refused).exists()
    assert not RejectedRow.objects.filter(contact_list=refused).exists()


def test_large_files_are_checked_by_workers_on_idle_cores_only(monkeypatch):
    monkeypatch.setattr(workers, "WORKERS", 3)
    monkeypatch.setattr(workers, "idle_cores", lambda: 4.0)  # four idle cores: this process's and three more
    assert workers.workers_for(workers.PARALLEL_FROM_BYTES - 1) == 0
    assert workers.workers_for(workers.PARALLEL_FROM_BYTES) == 3
    monkeypatch.setattr(workers, "idle_cores", lambda: 2.5)
    assert workers.workers_for(workers.PARALLEL_FROM_BYTES) == 1
    monkeypatch.setattr(workers, "idle_cores", lambda: 1.9)  # a core busy a tenth of the time counts as idle
    assert workers.workers_for(workers.PARALLEL_FROM_BYTES) == 1
    monkeypatch.setattr(workers, "idle_cores", lambda: 1.2)
    assert workers.workers_for(workers.PARALLEL_FROM_BYTES) == 0


def test_idle_cores_are_counted_from_what_the_machine_does_now(monkeypatch):
    monkeypatch.setattr(workers.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(workers.psutil, "cpu_percent", lambda interval: 62.5)  # 2.5 of 4 cores busy
    assert workers.idle_cores() == 1.5
    monkeypatch.undo()
    assert 0 <= workers.idle_cores() <= (workers.os.cpu_count() or 1)


def test_the_configured_number_of_processes_is_used_for_large_files_however_busy_the_machine(monkeypatch):
    monkeypatch.setattr(workers, "idle_cores", lambda: 0.5)
    assert workers.workers_for(workers.PARALLEL_FROM_BYTES, configured=2) == 2
    assert workers.workers_for(workers.PARALLEL_FROM_BYTES, server_here=True, configured=1) == 1
    monkeypatch.setattr(workers, "idle_cores", lambda: 8.0)
    assert workers.workers_for(workers.PARALLEL_FROM_BYTES, configured=0) == 0
    assert workers.workers_for(workers.PARALLEL_FROM_BYTES - 1, configured=2) == 0  # a small file: one process


def test_a_database_server_on_this_machine_keeps_a_core_from_the_checking_workers(monkeypatch):
    monkeypatch.setattr(workers, "WORKERS", 3)
    monkeypatch.setattr(workers, "idle_cores", lambda: 4.0)
    assert workers.workers_for(workers.PARALLEL_FROM_BYTES, server_here=True) == 2
    assert workers.workers_for(workers.PARALLEL_FROM_BYTES, server_here=False) == 3
    # a quiet 2-core machine: a reading process still, the server sharing a core with the storing process
    monkeypatch.setattr(workers, "idle_cores", lambda: 2.5)
    assert workers.workers_for(workers.PARALLEL_FROM_BYTES, server_here=True) == 1
    assert workers.workers_for(workers.PARALLEL_FROM_BYTES, server_here=False) == 1
    monkeypatch.setattr(workers, "idle_cores", lambda: 1.4)  # one core: one process
    assert workers.workers_for(workers.PARALLEL_FROM_BYTES, server_here=True) == 0


def test_a_worker_that_fails_fails_the_import_and_keeps_nothing(import_file, checked_by, monkeypatch):
    # given a checker that breaks on its second batch, in each worker process (forked with the patch)
    check = RowChecker.check
    calls = {"count": 0}

    def breaking(self, batch):
        calls["count"] += 1
        if calls["count"] == 2:
            raise RuntimeError("broken")
        return check(self, batch)

    monkeypatch.setattr(RowChecker, "check", breaking)
    data = ("tel1,tel2,starttime,$flow.key.name,$flow.key.n\r\n" + "\r\n".join(mixed_rows(1000, 5))).encode()

    # when a file is imported by two workers
    failed = checked_by(import_file, data, "list.csv", 2)

    # then the import fails with the worker's error, and nothing of it stays
    assert failed.status == ContactList.Status.FAILED
    assert failed.error == "The import failed (RuntimeError)."
    assert not Contact.objects.filter(contact_list=failed).exists()
    assert not RejectedRow.objects.filter(contact_list=failed).exists()


def test_an_import_restarted_elsewhere_stops_its_reading_process_too(import_file, checked_by, monkeypatch):
    # given an import whose claim is taken over by another run after its second chunk
    real_step = rows._Import._step
    steps = {"count": 0}

    def step_then_lose_the_claim(self):
        steps["count"] += 1
        if steps["count"] == 2:
            ContactList.objects.filter(pk=self.list.pk).update(started_at=self.claim + datetime.timedelta(seconds=1))
        real_step(self)

    monkeypatch.setattr(rows._Import, "_step", step_then_lose_the_claim)
    children_before = set(psutil.Process().children(recursive=True))
    data = ("tel1,tel2,starttime,$flow.key.name,$flow.key.n\r\n" + "\r\n".join(mixed_rows(1000, 7))).encode()

    # when it is imported by a reading process and a checking worker
    left = checked_by(import_file, data, "list.csv", 2)

    # then this run stops where it lost the claim, leaves the list to the other run, and no process
    # of it is left behind
    assert left.status == ContactList.Status.IMPORTING
    assert steps["count"] == 2
    assert set(psutil.Process().children(recursive=True)) == children_before


def test_a_reading_process_killed_half_way_fails_the_import_with_a_sentence(import_file, checked_by, monkeypatch):
    # given an import whose reading and checking processes are killed (SIGKILL) after its second chunk
    real_step = rows._Import._step
    steps = {"count": 0}

    def step_then_kill_the_readers(self):
        steps["count"] += 1
        if steps["count"] == 2:
            for child in set(psutil.Process().children(recursive=True)) - children_before:
                child.kill()  # the import's processes only (the session's own Redis is a child too)
        real_step(self)

    monkeypatch.setattr(rows._Import, "_step", step_then_kill_the_readers)
    children_before = set(psutil.Process().children(recursive=True))
    data = ("tel1,tel2,starttime,$flow.key.name,$flow.key.n\r\n" + "\r\n".join(mixed_rows(3000, 9))).encode()

    # when it is imported by a reading process and a checking worker
    failed = checked_by(import_file, data, "list.csv", 2)

    # then it fails with a sentence saying what happened and what to do, and nothing of it stays
    assert failed.status == ContactList.Status.FAILED
    assert failed.error == workers.READER_LOST
    assert "EOFError" not in failed.error and "Upload the file again" in failed.error
    assert not Contact.objects.filter(contact_list=failed).exists()
