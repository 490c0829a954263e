"""The reading side of an import: a file's records read in order and checked a batch at a time.

`ListReading.checked_batches` yields, in file order, every batch of records as checked
(`CheckedBatch`), then the file's end (`FileEnd`). It runs in the importing process for a small file
or when no worker is configured, else in a forked reading process (workers.reading_process) that
may have checking workers of its own; either way the importing process de-duplicates and stores what
it yields (rows.ListImport), so one process and several produce the same list."""

import csv
import datetime
import zipfile
import zlib
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from campaigns.importing.checking import Checked, RowChecker
from campaigns.importing.header import Header, parse_header_mapped, read_header
from campaigns.importing.limits import CODEC_NAMES, FileRefused, Limits, where_in
from campaigns.importing.reading import Position, Totals, csv_sources, open_text, physical_lines
from campaigns.importing.workers import BatchText, checked_in_workers, worker_pool


class Source(NamedTuple):
    """The CSV a batch comes from, and what reading a duplicate's cells again needs."""

    index: int  # the CSV's place in the upload (0 for a plain CSV; ZIP members in order)
    member: str | None  # its name inside a ZIP
    tel1: int  # tel1's column
    delimiter: str
    ncols: int  # columns in the header


class CheckedBatch(NamedTuple):
    """A batch of records as checked, not yet de-duplicated."""

    source: Source
    text: BatchText  # its records' text, to read a duplicate's cells again (workers.rows_at)
    full: bool  # a whole step (a short batch is a CSV's last)
    checked: Checked


class FileEnd(NamedTuple):
    """The last thing read: the file's header cells (the first CSV's, in a ZIP)."""

    header_cells: list[str]


@dataclass(slots=True)
class ListReading:
    """What reading and checking one list's file needs; `checkers` processes check its batches
    (0: the process reading checks them)."""

    list_id: int
    encoding: str  # chosen at upload ("" to find it)
    limits: Limits
    region: str
    zone: ZoneInfo
    today: datetime.date
    adapt_datetime: Callable
    step: int  # records a batch
    checkers: int = 0
    column_map: dict[str, str] | None = None  # the manager's mapping of header cells (upload preview)

    def checked_batches(self, path: Path, filename: str) -> Iterator[CheckedBatch | FileEnd]:
        """Every CSV of the file (each ZIP member in turn), batch by batch, then the file's end."""
        totals = Totals()
        header_cells = []
        with open(path, "rb") as fileobj:
            for index, (member, stream) in enumerate(csv_sources(fileobj, filename, self.limits)):
                yield from self._source(index, member, stream, totals, header_cells)
        if totals.rows == 0:
            raise FileRefused("The file has a header but no rows of contacts.")
        yield FileEnd(header_cells)

    def _source(self, index, member, stream, totals, header_cells) -> Iterator[CheckedBatch]:
        position = Position()
        codec = "utf-8-sig"
        try:
            text, codec = open_text(stream, member, self.encoding, self.limits, totals)
            lines = physical_lines(text, self.limits, position, member)
            delimiter, cells, header_line = read_header(lines, position, self.limits, member)
            header = parse_header_mapped(cells, self.limits, member, mapping=self.column_map)
            if not header_cells:
                header_cells += [cell.strip().lstrip("\ufeff") for cell in cells]
            source = Source(index, member, header.tels[0][0], delimiter, len(header.columns))
            batches = self._batches(
                csv.reader(lines, delimiter=delimiter), header, header_line, member, position, totals
            )
            yield from self._checked(source, header, _with_text(batches, position, header_line))
        except UnicodeDecodeError as error:
            raise FileRefused(self._not_decoded(error, codec, member, position)) from error
        except csv.Error as error:
            raise FileRefused(
                f"Line {position.physical}{where_in(member)} cannot be read as CSV ({error}); "
                "a quote that is never closed is the usual cause."
            ) from error
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
            raise FileRefused(f'The ZIP member "{member}" is damaged and cannot be read to its end.') from error

    def _checked(self, source: Source, header: Header, batches) -> Iterator[CheckedBatch]:
        """The batches checked, in order: here, or by checking workers (overlapping this reading)."""
        checker = RowChecker(
            header, source.member, self.region, self.zone, self.today, self.adapt_datetime, self.list_id
        )
        step = self.step
        if self.checkers:
            with worker_pool(checker, self.checkers, source.delimiter) as ends:
                for batch, text, checked in checked_in_workers(ends, batches):
                    yield CheckedBatch(source, text, len(batch) == step, checked)
            return
        for batch, text in batches:
            yield CheckedBatch(source, text, len(batch) == step, checker.check(batch))

    def _not_decoded(self, error: UnicodeDecodeError, codec: str, member, position: Position) -> str:
        where = where_in(member)
        # The wrapper decodes a chunk at a time: count the line breaks before the bad byte.
        before = error.object[: error.start] if isinstance(error.object, bytes) else b""
        position.physical += before.decode(codec, errors="replace").count("\n")
        if codec == "utf-8-sig" and not self.encoding:
            return (
                f"The file{where} is not valid UTF-8 (near line {position.physical + 1}); choose its encoding "
                "(for example Windows-1252) when you upload it."
            )
        return (
            f"The file{where} is not valid {CODEC_NAMES.get(codec, codec)} (near line {position.physical + 1}); "
            "check the encoding chosen for it."
        )

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
                        f"Line {line}{where_in(member)} opens a quote that is never closed, "
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


def _with_text(batches, position: Position, header_line: int):
    """Each batch with its text (`BatchText`): the line before its first record, its physical lines as
    one text, and the line numbers of its records (blank rows left out). A checking worker reads the
    records again from it, and the importing process a duplicate's cells: a text is sent whole, for a
    fraction of what pickling the parsed cells cost both processes (1,000 lists of strings a batch)."""
    kept = position.kept_lines = []
    before = header_line
    try:
        for batch in batches:
            # The csv reader reads no further than the record it returns: the lines kept so far are
            # this batch's records, and any blank ones among them, exactly.
            text = "".join(kept)
            kept.clear()
            yield batch, BatchText(before, text, array("L", [line for line, _ in batch]))
            before = batch[-1][0]
    finally:
        position.kept_lines = None
