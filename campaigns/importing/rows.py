"""The importing process: checked batches de-duplicated in file order and stored, a chunk a transaction.

Whoever reads and checks the records (this process for a small file or with no worker configured,
a reading process otherwise: batches.py, workers.py), this process keeps them: a tel1 number already
imported rejects the later row, contacts go to the database as each step comes, and a chunk's
contacts, rejected rows and the list's counts are committed together."""

import datetime
import gc
import sys
from contextlib import ExitStack, closing, contextmanager
from operator import attrgetter
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from campaigns.importing.batches import CheckedBatch, FileEnd, ListReading
from campaigns.importing.checking import Rejected, raw_json
from campaigns.importing.events import list_event_record
from campaigns.importing.firsts import FirstRows
from campaigns.importing.limits import (
    FILENAME_START_RE,
    MAX_VALUE_IN_REPORT,
    REJECTED_COLUMNS,
    FileRefused,
    Limits,
    LostClaim,
)
from campaigns.importing.workers import import_workers, reading_process, rows_at
from campaigns.importing.writing import ContactWriter, insert_rows
from campaigns.models import ContactList, RejectedRow

# The importing connection's SQLite page cache (KiB): an index of 1,000,000 numbers takes about 25 MB.
IMPORT_CACHE_KIB = 32 * 1024


def duplicate_reject(list_id: int, line: int, primary: str, first: int, members: list, member, row, tel1: int):
    """The rejected row for a tel1 number the list already holds; `first` is where it was first seen
    (FirstRows: member index << 32 | line)."""
    first_member = members[first >> 32]
    where = f' of "{first_member}"' if first_member and first_member != member else ""
    prefix = f"{member}: " if member else ""
    reason = f"{prefix}{primary} is already in this list at line {first & 0xFFFFFFFF}{where}."
    return Rejected(list_id, line, "tel1", row[tel1].strip()[:MAX_VALUE_IN_REPORT], reason, raw_json(row))


@contextmanager
def _frozen_heap():
    """Keep the objects alive before the import (Django's, the metadata's) out of the garbage
    collector's full passes: an import's chunks of rows trigger them again and again, and each pass
    walked every object of the process (a fifth of the CPU of a large import)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def _index_pages_cached():
    """SQLite: a page cache that holds the primary-number index while contacts go in. Numbers arrive
    in no order, so each insert lands on a random page of that index; with SQLite's default 2 MB
    cache those pages were spilled to the WAL and read back all the time (a 1,000,000-row import
    made 870,000 writes and 740,000 reads of single pages). The one branch kept for SQLite's speed
    alone: a pragma around the import, no second path."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")


class ListImport:
    """One list's import in the importing process: `run` reads (or has a reading process read) the
    file's checked batches and keeps them."""

    def __init__(self, contact_list: ContactList, claim: datetime.datetime, *, from_rows: bool = False):
        self.list = contact_list
        self.claim = claim
        self.limits = Limits.from_settings(from_rows=from_rows)
        self.chunk_rows = settings.CALL_LIST_CHUNK_ROWS
        # Records are checked `step` at a time, and each step's contacts are stored at once within the
        # chunk's transaction (on PostgreSQL into a COPY that stays open for the chunk: the server
        # stores them while the reading goes on).
        self.step = min(1000, self.chunk_rows)
        self.seen = FirstRows()  # int(tel1) -> (member index << 32) | line of the row that imported it
        self.members = []  # the CSVs' names by their index (None: a plain CSV, or one not met yet)
        self.header_cells = []
        self.imported = self.rejected = 0  # committed
        self.sent = self.rows_in_chunk = 0  # in the open chunk
        self.copy_texts = []  # contacts waiting for the step's end, as COPY text
        self.copy_rows = 0
        self.rejects = []
        self.transaction = None
        self.writer = None

    def run(self):
        filename = self.list.original_filename or self.list.stored_file
        if FILENAME_START_RE.search(filename) and self.list.common_start_at is None:
            raise FileRefused(
                f'The start time in the file name ("{FILENAME_START_RE.search(filename).group(0)}") '
                "is not a real date and time (upload_ddMMyyyyHHmmss)."
            )
        try:
            stored = Path(settings.MEDIA_ROOT) / self.list.stored_file
            size = stored.stat().st_size
            workers = import_workers(size)
            reading = self._reading(checkers=max(0, workers - 1))
            # A row of a real list takes some 40 to 60 bytes; fewer rows than that leave room to spare.
            self.seen = FirstRows(expected=min(size // 60, self.limits.max_rows))
            with _frozen_heap(), _index_pages_cached(), ExitStack() as stack:
                if workers:
                    items = stack.enter_context(reading_process(reading.checked_batches, stored, filename))
                else:
                    items = stack.enter_context(closing(reading.checked_batches(stored, filename)))
                for item in items:
                    if isinstance(item, FileEnd):
                        self.header_cells = item.header_cells
                    else:
                        self._keep(item)
            self._flush(final=True)
        except BaseException:
            self._abort(*sys.exc_info())
            raise

    def _reading(self, checkers: int) -> ListReading:
        zone = ZoneInfo(settings.PHONON_TIMEZONE)
        return ListReading(
            list_id=self.list.pk,
            encoding=self.list.encoding,
            limits=self.limits,
            region=settings.PHONON_DEFAULT_REGION,
            zone=zone,
            today=timezone.now().astimezone(zone).date(),
            adapt_datetime=connection.ops.adapt_datetimefield_value,
            step=self.step,
            checkers=checkers,
            column_map=self.list.column_map,
        )

    def _keep(self, batch: CheckedBatch):
        """A checked batch kept in file order: a tel1 already imported rejects the later row, whose
        cells are read again from the batch's text (only then)."""
        source, checked = batch.source, batch.checked
        members = self.members
        if source.index >= len(members):  # a new CSV of the ZIP (one with no rows sends no batch)
            members.extend([None] * (source.index - len(members)) + [source.member])
        remember = self.seen.setdefault
        member_tag = source.index << 32
        primaries = checked.primaries.split()
        repeated = [
            (index, first)
            for index, (number, line) in enumerate(zip(map(int, primaries), checked.lines, strict=True))
            if (first := remember(number, member_tag | line)) is not None
        ]
        contacts, rejects = checked.contacts, checked.rejects
        if repeated:
            list_id, lines = self.list.pk, checked.lines
            rows = rows_at(batch.text, [lines[index] for index, _ in repeated], source.delimiter, source.ncols)
            copy_lines = contacts.split("\n")  # a COPY line has its own line breaks escaped
            for index, first in repeated:
                line = lines[index]
                rejects.append(
                    duplicate_reject(
                        list_id, line, primaries[index], first, members, source.member, rows[line], source.tel1
                    )
                )
                copy_lines[index] = None
            contacts = "\n".join([copy_line for copy_line in copy_lines if copy_line is not None])
            rejects.sort(key=attrgetter("line"))  # in line order, as the report lists them
        self.copy_texts.append(contacts)
        self.copy_rows += len(primaries) - len(repeated)
        self.rejects += rejects
        if batch.full:  # a short last batch waits for the final flush
            self._step()

    def _step(self):
        self.rows_in_chunk += self.step
        self._send()
        if self.rows_in_chunk >= self.chunk_rows:
            self._flush()

    def _begin(self):
        if self.transaction is None:
            self.transaction = ExitStack()
            self.transaction.enter_context(transaction.atomic())

    def _send(self):
        """Store the waiting contacts in the chunk's transaction."""
        if not self.copy_rows:
            self.copy_texts.clear()
            return
        self._begin()
        if self.writer is None:
            self.writer = ContactWriter()
        for text in self.copy_texts:
            self.writer.write(text)
        self.sent += self.copy_rows
        self.copy_texts.clear()
        self.copy_rows = 0

    def _flush(self, final=False):
        """Commit the chunk: its contacts, its rejected rows and the list's counts, together."""
        self._begin()
        self._send()
        if self.writer is not None:
            writer, self.writer = self.writer, None
            writer.close()
        imported = self.imported + self.sent
        rejected = self.rejected + len(self.rejects)
        insert_rows(RejectedRow, REJECTED_COLUMNS, self.rejects)
        fields = {"rows_done": imported + rejected, "imported_count": imported, "rejected_count": rejected}
        if final:
            fields.update(
                status=ContactList.Status.IMPORTED, finished_at=timezone.now(), error="", header=self.header_cells
            )
        updated = ContactList.objects.filter(
            pk=self.list.pk, status=ContactList.Status.IMPORTING, started_at=self.claim
        ).update(**fields)
        if updated != 1:
            raise LostClaim
        if final:
            list_event_record(self.list.pk, "list.imported", status=ContactList.Status.IMPORTED, error="")
        commit, self.transaction = self.transaction, None
        commit.close()
        self.imported, self.rejected = imported, rejected
        self.sent = self.rows_in_chunk = 0
        self.rejects.clear()

    def _abort(self, *exc_info):
        """Close an open COPY and roll the chunk back: the exception says why."""
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.abort(*exc_info)
        stack, self.transaction = self.transaction, None
        if stack is not None:
            stack.__exit__(*exc_info)
