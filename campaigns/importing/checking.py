"""One record checked: numbers normalised, start time and client-identifier read, variables as JSON;
or why the row is rejected. No database and no order between rows: batches of records are checked
in the importing process, or in a reading process and its checking workers for large files
(batches.py, workers.py), with the same answers."""

import datetime
import json
from array import array
from typing import NamedTuple
from zoneinfo import ZoneInfo

from campaigns.importing.header import Header
from campaigns.importing.limits import MAX_EXTERNAL_ID, MAX_RAW_CELLS, MAX_VALUE_IN_REPORT, SCIENTIFIC_RE
from campaigns.importing.numbers import NumberNormaliser, parse_start_time

# json.dumps's output for strings and lists of them, without its per-call overhead.
quote = json.encoder.encode_basestring_ascii
quote_unicode = json.encoder.encode_basestring


def raw_json(row: list[str]) -> str:
    """The row as written (to fix and upload again), bounded like the value in the report: exactly
    json.dumps([cell[:MAX_VALUE_IN_REPORT] ...], ensure_ascii=False)."""
    return "[" + ", ".join([quote_unicode(cell[:MAX_VALUE_IN_REPORT]) for cell in row[:MAX_RAW_CELLS]]) + "]"


def copy_text(value: str) -> str:
    """A value as PostgreSQL's COPY text format reads it: backslash, tab, newline and carriage return
    escaped (a cell may hold any of them); anything else as it is."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def invalid_number(column: str, raw: str) -> str:
    if SCIENTIFIC_RE.match(raw):
        return (
            f'{column} "{raw}" was turned into scientific notation by a spreadsheet; '
            "format the column as text and export it again."
        )
    return f'{column} "{raw}" is not a valid phone number (write it with its country code, e.g. 919812345678).'


class Rejected(NamedTuple):
    """A rejected row as the report keeps it (RejectedRow's columns, REJECTED_COLUMNS)."""

    contact_list: int
    line: int
    column: str
    value: str
    reason: str
    raw: str


class Checked(NamedTuple):
    """A batch's answers. Its contacts are lines of PostgreSQL's COPY text format (CONTACT_COLUMNS,
    each line ending in a line break), one string for the batch: that is what crosses from a
    reading process at the least cost, and what a COPY takes as it is (writing.ContactWriter reads
    rows back from it for an INSERT). Beside them, what de-duplicating needs: each contact's tel1
    number (separated by spaces) and line, in the same order."""

    contacts: str
    primaries: str
    lines: array
    rejects: list[Rejected]


class RowChecker:
    """Checks the records of one CSV: `check` answers a batch of (line, cells) with its contacts and
    its rejected rows (`Checked`). `adapt_datetime` writes a start time as the database takes it
    (Django's adapt_datetimefield_value): its text goes into the contact's line."""

    def __init__(
        self,
        header: Header,
        member: str | None,
        region: str,
        zone: ZoneInfo,
        today: datetime.date,
        adapt_datetime,
        list_id: int,
    ):
        self.list_id = list_id
        self.ncols = len(header.columns)
        self.tel1 = header.tels[0][0]
        self.other_tels = header.tels[1:]
        self.start_index = header.start
        self.external_index = header.external
        self.variable_keys = [(quote(name) + ": ", index) for index, name in header.variables]
        self.prefix = f"{member}: " if member else ""
        self.normalise = NumberNormaliser(region)
        self.zone = zone
        self.today = today
        self.adapt_datetime = adapt_datetime
        self.starts = {}

    def check(self, batch: list[tuple[int, list[str]]]) -> Checked:
        # The hot loop: everything it touches is a local name.
        ncols, tel1, other_tels, prefix = self.ncols, self.tel1, self.other_tels, self.prefix
        start_index, external_index, variable_keys = self.start_index, self.external_index, self.variable_keys
        normalise, list_id = self.normalise, self.list_id
        contacts, primaries, lines, rejects = [], [], array("L"), []
        contact_append, primary_append, line_append = contacts.append, primaries.append, lines.append
        append = rejects.append
        for line, row in batch:
            size = len(row)
            if size > ncols and any(cell.strip() for cell in row[ncols:]):
                reason = f"{prefix}the row has {size} cells but the header only {ncols} columns."
                append(Rejected(list_id, line, "", "", reason, raw_json(row)))
                continue
            raw = row[tel1].strip()
            if not raw:
                append(
                    Rejected(
                        list_id,
                        line,
                        "tel1",
                        "",
                        f"{prefix}tel1 is empty; every row needs the customer's number in tel1.",
                        raw_json(row),
                    )
                )
                continue
            primary = normalise(raw)
            if primary is None:
                append(
                    Rejected(
                        list_id,
                        line,
                        "tel1",
                        raw[:MAX_VALUE_IN_REPORT],
                        prefix + invalid_number("tel1", raw),
                        raw_json(row),
                    )
                )
                continue
            numbers = [primary]
            bad = None
            for index, column in other_tels:
                value = row[index].strip()
                if value:
                    number = normalise(value)
                    if number is None:
                        bad = (column, value)
                        break
                    if number not in numbers:
                        numbers.append(number)
            if bad:
                column, value = bad
                append(
                    Rejected(
                        list_id,
                        line,
                        column,
                        value[:MAX_VALUE_IN_REPORT],
                        prefix + invalid_number(column, value),
                        raw_json(row),
                    )
                )
                continue
            start_at = None
            if start_index is not None:
                value = row[start_index].strip()
                if value:
                    start_at, reason = self._start(value)
                    if reason:
                        append(
                            Rejected(
                                list_id, line, "starttime", value[:MAX_VALUE_IN_REPORT], prefix + reason, raw_json(row)
                            )
                        )
                        continue
            external_id = ""
            if external_index is not None:
                external_id = row[external_index].strip()
                if len(external_id) > MAX_EXTERNAL_ID:
                    reason = f"{prefix}client-identifier is longer than {MAX_EXTERNAL_ID} characters."
                    append(
                        Rejected(
                            list_id, line, "client-identifier", external_id[:MAX_VALUE_IN_REPORT], reason, raw_json(row)
                        )
                    )
                    continue
            numbers_json = '["' + '", "'.join(numbers) + '"]'
            variables_json = "{" + ", ".join([name + quote(row[index].strip()) for name, index in variable_keys]) + "}"
            # Numbers are digits; the variables' JSON is ASCII with backslash escapes.
            if "\\" in variables_json:
                variables_json = variables_json.replace("\\", "\\\\")
            start = "\\N" if start_at is None else start_at
            contact_append(
                f"{list_id}\t{line}\t{primary}\t{numbers_json}\t{variables_json}\t"
                f"{start}\t{copy_text(external_id) if external_id else ''}\n"
            )
            primary_append(primary)
            line_append(line)
        return Checked("".join(contacts), " ".join(primaries), lines, rejects)

    def _start(self, value: str):
        """(start time ready for the database, None) or (None, why it is refused); cached, as most rows
        share a few values."""
        cached = self.starts.get(value)
        if cached is not None:
            return cached
        parsed = parse_start_time(value, self.zone)
        try:
            local_date = parsed and parsed.astimezone(self.zone).date()
            parsed = parsed and parsed.astimezone(datetime.UTC)
        except (OverflowError, ValueError):  # year 1 or 9999 pushed out of range by an offset
            parsed = None
        if parsed is None:
            result = (
                None,
                f'starttime "{value}" is not a date and time; write it as ISO-8601, e.g. 2026-11-24T10:30:00+05:30.',
            )
        elif local_date < self.today:
            result = None, f'starttime "{value}" is on a past date; the provider accepts today or later.'
        else:
            result = self.adapt_datetime(parsed), None
        if len(self.starts) > 10_000:
            self.starts.clear()
        self.starts[value] = result
        return result
