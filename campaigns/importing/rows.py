"""The row loop: read every record in order, have it checked, keep contacts and rejects, commit them in chunks."""

import csv
import datetime
import gc
import sys
import zipfile
import zlib
from array import array
from contextlib import ExitStack, contextmanager
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from campaigns.importing.checking import RowChecker, raw_json
from campaigns.importing.events import list_event_record
from campaigns.importing.firsts import FirstRows
from campaigns.importing.header import _read_header, parse_header_mapped
from campaigns.importing.limits import (
    CODEC_NAMES,
    CONTACT_COLUMNS,
    FILENAME_START_RE,
    MAX_VALUE_IN_REPORT,
    REJECTED_COLUMNS,
    FileRefused,
    Limits,
    _LostClaim,
    _where,
)
from campaigns.importing.reading import _csv_sources, _open_text, _physical_lines, _Position, _Totals
from campaigns.importing.workers import checked_in_workers, reading_process, rows_at, worker_pool, workers_for
from campaigns.importing.writing import _copy_sql, _insert
from campaigns.models import Contact, ContactList, RejectedRow

# The importing connection's SQLite page cache (KiB): an index of 1,000,000 numbers takes about 25 MB.
IMPORT_CACHE_KIB = 32 * 1024


def database_server_here() -> bool:
    """Whether the database runs as a server on this machine (SQLite runs inside this process)."""
    if connection.vendor == "sqlite":
        return False
    host = connection.settings_dict.get("HOST") or ""
    return host in ("", "localhost", "127.0.0.1", "::1") or host.startswith("/")


class KeptStep(NamedTuple):
    """What a reading process hands over on SQLite: a step of contacts it kept, as rows, and its rejected rows."""

    contacts: list
    rejects: list
    full: bool  # a whole step (the short last one waits for the final flush, as it does in one process)


class CheckedBatch(NamedTuple):
    """What a reading process hands over on PostgreSQL: a batch as checked, not yet de-duplicated. The
    importing process keeps it (`_Import._keep_checked`): it only writes COPY text and has CPU to spare
    beside the server, where the reading process is the import's limit."""

    source: tuple  # (member's index, member's name or None, tel1's column, delimiter, columns in the header)
    text: tuple  # (line before the first record, the records' physical lines, their line numbers): rows_again
    full: bool  # a whole step (a short batch is a member's last)
    contacts: str  # their lines of COPY text, in file order
    primaries: str  # their tel1 numbers, separated by spaces
    lines: array  # their line numbers
    rejects: list  # the rows the checker rejected


class FileEnd(NamedTuple):
    """The reading process's last hand-over: the file's header cells (the first CSV's, in a ZIP)."""

    header_cells: list


def _duplicate_reject(list_id: int, line: int, primary: str, first: int, members: list, member, row, tel1: int):
    """The rejected row for a tel1 number the list already holds; `first` is where it was first seen
    (FirstRows: member index << 32 | line)."""
    first_member = members[first >> 32]
    where = f' of "{first_member}"' if first_member and first_member != member else ""
    prefix = f"{member}: " if member else ""
    reason = f"{prefix}{primary} is already in this list at line {first & 0xFFFFFFFF}{where}."
    return (list_id, line, "tel1", row[tel1].strip()[:MAX_VALUE_IN_REPORT], reason, raw_json(row))


def _index_of(batch, line: int) -> int:
    """Where the record of `line` is in its batch (lines grow along a batch; blank rows leave gaps)."""
    index = min(len(batch) - 1, line - batch[0][0])
    while batch[index][0] > line:
        index -= 1
    return index


def _with_text(batches, position, header_line):
    """Each batch with what a worker needs to read it again: the line before its first record, its
    physical lines as one text, and the line numbers of its records (blank rows left out). A text
    is sent whole and parsed again by the worker's csv module, for a fraction of what pickling the
    parsed cells cost both processes (1,000 lists of strings a batch)."""
    kept = position.kept_lines = []
    before = header_line
    try:
        for batch in batches:
            # The csv reader reads no further than the record it returns: the lines kept so far are
            # this batch's records, and any blank ones among them, exactly.
            text = "".join(kept)
            kept.clear()
            yield batch, (before, text, array("L", [line for line, _ in batch]))
            before = batch[-1][0]
    finally:
        position.kept_lines = None


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
    made 870,000 writes and 740,000 reads of single pages)."""
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


class _Import:
    def __init__(self, contact_list: ContactList, claim: datetime.datetime):
        self.list = contact_list
        self.claim = claim
        self.limits = Limits.from_settings()
        self.chunk_rows = settings.CALL_LIST_CHUNK_ROWS
        self.zone = ZoneInfo(settings.PHONON_TIMEZONE)
        self.today = timezone.now().astimezone(self.zone).date()
        self.region = settings.PHONON_DEFAULT_REGION
        self.workers = 0  # processes besides this one (0: this process reads, checks and stores)
        self.checkers = 0  # of those, the ones that check records for the reading process
        self.step_done = self._step  # a reading process hands each step over instead
        self.hand_over = None  # a reading process on PostgreSQL: hands each batch over as checked
        self.seen = FirstRows()  # int(tel1) -> (member index << 32) | line of the row that imported it
        self.members = []
        self.imported = 0
        self.rejected = 0
        self.contacts = []
        self.rejects = []
        # PostgreSQL: contacts handed over by a reading process as COPY text, and how many it holds.
        self.copy_texts = []
        self.copy_rows = 0
        self.header_cells = []
        # Records are checked `step` at a time, and each step's contacts are stored at once within the
        # chunk's transaction: on PostgreSQL into a COPY that stays open for the chunk (the server
        # stores them while this process reads on), elsewhere in an executemany. Storing a whole chunk
        # at its end left a checking worker idle for as long as the insert took (a quarter of a
        # 1,000,000-row import on SQLite).
        self.streaming = connection.vendor == "postgresql"
        self.step = min(1000, self.chunk_rows)
        self.rows_in_chunk = 0
        self.sent = 0
        self.transaction = None
        self.copy = None
        self.write = None
        # A start time as the contacts' rows take it: text in a COPY line, the driver's form elsewhere.
        self.adapt_datetime = (
            datetime.datetime.isoformat if self.streaming else connection.ops.adapt_datetimefield_value
        )

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
            self.workers = workers_for(size, database_server_here(), settings.CALL_LIST_IMPORT_WORKERS)
            with _frozen_heap(), _index_pages_cached():
                if self.workers:
                    self._store_from_reading_process(stored, filename, size)
                else:
                    self._read_file(stored, filename, size)
            self._flush(final=True)
        except BaseException:
            self._abort(*sys.exc_info())
            raise

    def _read_file(self, stored: Path, filename: str, size: int):
        """Read, check and keep every record of the file (each ZIP member in turn), in order."""
        totals = _Totals()
        with open(stored, "rb") as fileobj:
            if self.hand_over is None:  # else the importing process de-duplicates
                self.seen = self._first_rows(size)
            for member, stream in _csv_sources(fileobj, filename, self.limits):
                self.members.append(member)
                self._read_source(member, stream, totals)
        if totals.rows == 0:
            raise FileRefused("The file has a header but no rows of contacts.")

    def _first_rows(self, size: int) -> FirstRows:
        # A row of a real list takes some 40 to 60 bytes; fewer rows than that leave room to spare.
        return FirstRows(expected=min(size // 60, self.limits.max_rows))

    def _store_from_reading_process(self, stored: Path, filename: str, size: int):
        """A large file on a machine with a core to spare: a forked reading process reads and checks
        the records (with `workers - 1` checking processes of its own) and hands them over in file
        order; this process stores them. On SQLite the reading process also de-duplicates and hands
        over kept steps: the inserts with their indexes are about half the work, on this core. On
        PostgreSQL this process only writes COPY text and shares its core with the server, so it
        de-duplicates too (a tenth of the reading process's CPU, which is the import's limit)."""
        self.checkers = self.workers - 1
        if self.streaming:
            self.seen = self._first_rows(size)
        with reading_process(self._read_and_hand_over, stored, filename, size) as handed_over:
            for message in handed_over:
                if isinstance(message, CheckedBatch):
                    self._keep_checked(message)
                elif isinstance(message, KeptStep):
                    self.contacts += message.contacts
                    self.rejects += message.rejects
                    if message.full:
                        self._step()
                else:  # the end of the file
                    self.header_cells = message.header_cells

    def _read_and_hand_over(self, hand_over, stored: Path, filename: str, size: int):
        """In the reading process: read the file and hand over what it holds, then its end. On
        PostgreSQL each batch goes as checked (`_hand_over_checked`), on SQLite each full step as kept."""
        if self.streaming:
            self.hand_over = hand_over
        else:
            def step_done():
                # New lists, not cleared ones: what is handed over is sent later, from another thread.
                hand_over(KeptStep(self.contacts, self.rejects, True))
                self.contacts, self.rejects = [], []

            self.step_done = step_done
        self._read_file(stored, filename, size)
        if self.contacts or self.rejects:
            hand_over(KeptStep(self.contacts, self.rejects, False))
        hand_over(FileEnd(self.header_cells))

    def _read_source(self, member, stream, totals):
        position = _Position()
        codec = "utf-8-sig"
        try:
            text, codec = _open_text(stream, member, self.list.encoding, self.limits, totals)
            lines = _physical_lines(text, self.limits, position, member)
            delimiter, cells, header_line = _read_header(lines, position, self.limits, member)
            header = parse_header_mapped(cells, self.limits, member, mapping=self.list.column_map)
            if not self.header_cells:
                self.header_cells = [cell.strip().lstrip("\ufeff") for cell in cells]
            self._read_rows(lines, delimiter, header, header_line, member, position, totals)
        except UnicodeDecodeError as error:
            name = CODEC_NAMES.get(codec, codec)
            where = _where(member)
            # The wrapper decodes a chunk at a time: count the line breaks before the bad byte.
            before = error.object[: error.start] if isinstance(error.object, bytes) else b""
            position.physical += before.decode(codec, errors="replace").count("\n")
            if codec == "utf-8-sig" and not self.list.encoding:
                message = (
                    f"The file{where} is not valid UTF-8 (near line {position.physical + 1}); choose its encoding "
                    "(for example Windows-1252) when you upload it."
                )
            else:
                message = (
                    f"The file{where} is not valid {name} (near line {position.physical + 1}); "
                    "check the encoding chosen for it."
                )
            raise FileRefused(message) from error
        except csv.Error as error:
            raise FileRefused(
                f"Line {position.physical}{_where(member)} cannot be read as CSV ({error}); "
                "a quote that is never closed is the usual cause."
            ) from error
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
            raise FileRefused(f'The ZIP member "{member}" is damaged and cannot be read to its end.') from error

    def _read_rows(self, lines, delimiter, header, header_line, member, position, totals):
        """Read records in order (line numbers, blank rows, the row cap), check them a batch at a time
        (in worker processes for a large file, overlapping this reading), then keep them in order."""
        checker = RowChecker(
            header, member, self.region, self.zone, self.today, self.adapt_datetime, self.list.pk,
            copy_lines=self.streaming,
        )
        batches = self._batches(csv.reader(lines, delimiter=delimiter), header, header_line, member, position, totals)
        if self.hand_over is None:
            def keep(batch, _text, results):
                self._keep(batch, results, header, member)
        else:  # a reading process on PostgreSQL: the importing process keeps them
            source = (len(self.members) - 1, member, header.tels[0][0], delimiter, len(header.columns))

            def keep(batch, text, results):
                self._hand_over_checked(source, batch, text, results)
        if self.checkers:
            with worker_pool(checker, self.checkers, delimiter) as ends:
                for batch, text, results in checked_in_workers(ends, _with_text(batches, position, header_line)):
                    keep(batch, text, results)
            return
        if self.hand_over is None:  # keeping each batch's lines would cost this process for nothing
            with_text = ((batch, None) for batch in batches)
        else:
            with_text = _with_text(batches, position, header_line)
        for batch, text in with_text:
            keep(batch, text, checker.check(batch))

    def _batches(self, reader, header, header_line, member, position, totals):
        """The non-blank records as (line, cells), `step` at a time; refuses a runaway quote or too many rows."""
        limits = self.limits
        ncols = len(header.columns)
        tel1_index = header.tels[0][0]
        max_rows = limits.max_rows
        step = self.step
        batch = []
        append = batch.append
        line = header_line
        before = position.physical
        rows = totals.rows  # kept in a local name, and in `totals` whenever a batch leaves
        for row in reader:
            line += 1
            physical = position.physical
            if physical - before > 1:
                # A quoted cell over several lines closes its quote on the record's last line; if it
                # does not, the quote ran to the end of the file and swallowed the rows after it.
                if '"' not in position.last_line or sum(map(len, row)) > limits.max_line:
                    raise FileRefused(
                        f"Line {line}{_where(member)} opens a quote that is never closed, "
                        "so the rows after it cannot be read."
                    )
            before = physical
            if not row:
                continue
            if len(row) < ncols:
                row += [""] * (ncols - len(row))
            if not row[tel1_index].strip() and not any(cell.strip() for cell in row):
                continue  # a blank row
            rows += 1
            if rows > max_rows:
                raise FileRefused(f"The file has more than {max_rows:,} rows; split it into smaller files.")
            append((line, row))
            if len(batch) == step:
                totals.rows = rows
                yield batch
                batch = []
                append = batch.append
        totals.rows = rows
        if batch:
            yield batch

    def _keep(self, batch, results, header, member):
        """Checked records, in file order: contacts (a tel1 already imported rejects the later row) and
        rejected rows; then the chunk goes on its way to the database."""
        remember = self.seen.setdefault
        members = self.members
        tel1 = header.tels[0][0]
        member_tag = (len(members) - 1) << 32
        contacts_append = self.contacts.append
        rejects_append = self.rejects.append
        for result in results:
            if len(result) == 6:
                rejects_append(result)
                continue
            line = result[1]
            first = remember(int(result[2]), member_tag | line)
            if first is None:
                contacts_append(result)
                continue
            row = batch[_index_of(batch, line)][1]
            rejects_append(_duplicate_reject(result[0], line, result[2], first, members, member, row, tel1))
        if len(batch) == self.step:
            self.step_done()  # a short last batch waits for the final flush, as rows always have

    def _hand_over_checked(self, source, batch, text, results):
        """In a reading process on PostgreSQL: a checked batch goes to the importing process as it is,
        its contacts as COPY text with their numbers and lines beside (what de-duplicating needs)."""
        contacts = [result for result in results if len(result) == 4]
        rejects = [result for result in results if len(result) == 6] if len(contacts) < len(results) else []
        self.hand_over(CheckedBatch(
            source, text, len(batch) == self.step, "".join([contact[3] for contact in contacts]),
            " ".join([contact[2] for contact in contacts]), array("L", [contact[1] for contact in contacts]), rejects,
        ))

    def _keep_checked(self, batch: CheckedBatch):
        """A batch checked in the reading process, kept as `_keep` keeps one: a tel1 already imported
        rejects the later row, whose cells are read again from the batch's text (only then)."""
        member_index, member, tel1, delimiter, ncols = batch.source
        members = self.members
        if member_index >= len(members):  # a new CSV of the ZIP (one with no rows sends no batch)
            members.extend([None] * (member_index - len(members)) + [member])
        remember = self.seen.setdefault
        member_tag = member_index << 32
        primaries = batch.primaries.split()
        repeated = [
            (index, first)
            for index, (number, line) in enumerate(zip(map(int, primaries), batch.lines, strict=True))
            if (first := remember(number, member_tag | line)) is not None
        ]
        contacts, rejects = batch.contacts, batch.rejects
        if repeated:
            list_id, lines = self.list.pk, batch.lines
            rows = rows_at(batch.text, [lines[index] for index, _ in repeated], delimiter, ncols)
            copy_lines = contacts.split("\n")  # a COPY line has its own line breaks escaped
            for index, first in repeated:
                line = lines[index]
                primary, row = primaries[index], rows[line]
                rejects.append(_duplicate_reject(list_id, line, primary, first, members, member, row, tel1))
                copy_lines[index] = None
            contacts = "\n".join([copy_line for copy_line in copy_lines if copy_line is not None])
            rejects.sort(key=itemgetter(1))  # in line order, as the report lists them
        self.copy_texts.append(contacts)
        self.copy_rows += len(primaries) - len(repeated)
        self.rejects += rejects
        if batch.full:
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
        """Store the buffered contacts in the chunk's transaction."""
        if not self.contacts and not self.copy_rows:
            return
        self._begin()
        if self.streaming:
            if self.contacts:  # checked in this process: (list, line, primary, COPY line)
                self.copy_texts.append("".join([contact[3] for contact in self.contacts]))
                self.copy_rows += len(self.contacts)
            write = self._open_copy()
            for text in self.copy_texts:
                write(text)
            self.sent += self.copy_rows
            self.copy_texts.clear()
            self.copy_rows = 0
        else:
            _insert(Contact, CONTACT_COLUMNS, self.contacts)
            self.sent += len(self.contacts)
        self.contacts.clear()

    def _open_copy(self):
        """PostgreSQL: the chunk's COPY into the contacts table, opened by its first step; its write()."""
        if self.copy is None:
            self.copy = ExitStack()
            cursor = self.copy.enter_context(connection.cursor())
            self.write = self.copy.enter_context(cursor.cursor.copy(_copy_sql(Contact, CONTACT_COLUMNS))).write
        return self.write

    def _flush(self, final=False):
        """Commit the chunk: its contacts, its rejected rows and the list's counts, together."""
        self._begin()
        self._send()
        if self.copy is not None:
            copy, self.copy = self.copy, None
            copy.close()
        imported = self.imported + self.sent
        rejected = self.rejected + len(self.rejects)
        _insert(RejectedRow, REJECTED_COLUMNS, self.rejects)
        fields = {"rows_done": imported + rejected, "imported_count": imported, "rejected_count": rejected}
        if final:
            fields.update(status=ContactList.Status.IMPORTED, finished_at=timezone.now(), error="",
                          header=self.header_cells)
        updated = ContactList.objects.filter(
            pk=self.list.pk, status=ContactList.Status.IMPORTING, started_at=self.claim
        ).update(**fields)
        if updated != 1:
            raise _LostClaim
        if final:
            list_event_record(self.list.pk, "list.imported", status=ContactList.Status.IMPORTED, error="")
        commit, self.transaction = self.transaction, None
        commit.close()
        self.imported, self.rejected = imported, rejected
        self.sent = self.rows_in_chunk = 0
        self.contacts.clear()
        self.rejects.clear()

    def _abort(self, *exc_info):
        """Close an open COPY and roll the chunk back: the exception says why."""
        for name in ("copy", "transaction"):
            stack = getattr(self, name)
            setattr(self, name, None)
            if stack is not None:
                stack.__exit__(*exc_info)
