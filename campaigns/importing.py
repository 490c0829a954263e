"""Call-list import: stream a CSV (or a ZIP of CSVs), validate every row, store contacts in chunks.

The path of one file:

    contact_list_create   the upload is copied to a private file; the list waits in `pending`
    contact_list_import   (a Celery task) claims the list, streams the file through
                          bytes -> counted and capped -> decoded -> physical lines -> csv records,
                          and commits contacts and rejected rows a chunk at a time with the counts

A file is either imported (every bad row kept as a RejectedRow with its line, column and reason)
or refused whole with one sentence (`ContactList.error`). Nothing is half-imported: a refusal or
a failure half way deletes the rows already committed, and only an `imported` list can be launched.

Decisions that are not obvious from the provider's documents:
- Encodings: a BOM always wins (UTF-8, UTF-16 LE/BE, UTF-32); without one the file must be valid
  UTF-8 unless the uploader chose another encoding (cp1252 is never guessed).
- Line numbers count records as a spreadsheet shows rows: the header is line 1, blank lines count
  (and are skipped without a report line), a quoted cell holding a line break stays one line.
- A header with tel11 or higher is refused whole; a row with non-empty cells beyond the header's
  last column is rejected. Columns with no recognised name become flow variables named as written;
  `$flow.key.` is stripped. Columns with an empty header cell are ignored.
- Duplicates: a tel1 number already imported earlier in the list rejects the later row (the first
  row is named). Alternate numbers repeated within one row are kept once.
- Any number of a row on the account's do-not-call list rejects the whole row (column named).
- ZIP: only .csv members, read as streams (never extracted); nested archives, encrypted members,
  members with unsafe names ('..', absolute) and other files refuse the whole ZIP. Folders and the
  `__MACOSX/`, `._*`, `.DS_Store`, `Thumbs.db` entries that zip tools add are skipped. In a ZIP of
  several CSVs, lines count within each CSV and a rejected row's reason starts with the CSV's name.
- Start times: ISO-8601, or the day-first `dd-mm-yyyy HH:MM[:SS]` / `dd/mm/yyyy ...` spreadsheets
  write; no offset means PHONON_TIMEZONE. A date before today (in that zone) rejects the row.

Limits (settings, read with these defaults): CALL_LIST_MAX_BYTES 5 MB per CSV, counted on the
decompressed stream; CALL_LIST_MAX_TOTAL_BYTES 50 MB read from one ZIP; CALL_LIST_MAX_ROWS
1,000,000; CALL_LIST_MAX_COLUMNS 50; CALL_LIST_MAX_LINE_BYTES 10,000 (characters of one line);
CALL_LIST_MAX_ZIP_MEMBERS 20; CALL_LIST_CHUNK_ROWS 5,000 rows a transaction.
"""

import codecs
import csv
import datetime
import io
import json
import logging
import os
import re
import struct
import sys
import uuid
import zipfile
import zlib
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Contact, ContactList, RejectedRow, SuppressedNumber
from events.recording import event_record

logger = logging.getLogger(__name__)

MB = 1024 * 1024
ACCEPTED_EXTENSIONS = (".csv", ".zip")
STALE_IMPORT_AFTER = datetime.timedelta(minutes=10)
HEAD_BYTES = 64 * 1024
MAX_TEL = 10
MAX_VALUE_IN_REPORT = 500
MAX_EXTERNAL_ID = Contact._meta.get_field("external_id").max_length
ARCHIVE_SUFFIXES = (".zip", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz", ".zst", ".jar")
ZIP_JUNK_NAMES = (".ds_store", "thumbs.db", "desktop.ini")
# Encodings a person may choose for an upload, by their codec name, and what to decode them with.
CHOOSABLE_ENCODINGS = {
    "utf-8": "utf-8-sig",
    "utf-16": "utf-16",
    "utf-16-le": "utf-16-le",
    "utf-16-be": "utf-16-be",
    "cp1252": "cp1252",
    "iso8859-1": "latin-1",
}
BOMS = (  # UTF-32 first: its LE mark begins with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
CODEC_NAMES = {"utf-8-sig": "UTF-8", "utf-16": "UTF-16", "utf-32": "UTF-32", "cp1252": "Windows-1252"}
FILENAME_START_RE = re.compile(r"upload_(\d{14})(?!\d)", re.IGNORECASE)
VARIABLE_RE = re.compile(r"^\s*\$?\s*flow\s*\.\s*key\s*\.(.*)$", re.IGNORECASE | re.DOTALL)
TEL_RE = re.compile(r"^tel(\d+)$")
SCIENTIFIC_RE = re.compile(r"^\d(?:[.,]\d+)?[eE]\+?\d+$")
DAY_FIRST_FORMATS = ("%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M")
CONTACT_COLUMNS = ("contact_list", "line", "primary_number", "numbers", "variables", "start_at", "external_id")
REJECTED_COLUMNS = ("contact_list", "line", "column", "value", "reason")


class FileRefused(Exception):
    """The file is refused whole; `.message` says why in one sentence."""

    def __init__(self, message: str, contact_list: ContactList | None = None):
        super().__init__(message)
        self.message = message
        self.contact_list = contact_list


class _LostClaim(Exception):
    """Another worker restarted this import (ours looked stale); stop without touching anything."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_rows: int
    max_columns: int
    max_line: int
    max_members: int
    max_total: int

    @classmethod
    def from_settings(cls) -> "Limits":
        return cls(
            max_bytes=getattr(settings, "CALL_LIST_MAX_BYTES", 5 * MB),
            max_rows=getattr(settings, "CALL_LIST_MAX_ROWS", 1_000_000),
            max_columns=getattr(settings, "CALL_LIST_MAX_COLUMNS", 50),
            max_line=getattr(settings, "CALL_LIST_MAX_LINE_BYTES", 10_000),
            max_members=getattr(settings, "CALL_LIST_MAX_ZIP_MEMBERS", 20),
            max_total=getattr(settings, "CALL_LIST_MAX_TOTAL_BYTES", 50 * MB),
        )


def _size(n: int) -> str:
    if n >= MB:
        return f"{n / MB:.1f}".removesuffix(".0") + " MB"
    if n >= 1024:
        return f"{n / 1024:.1f}".removesuffix(".0") + " KB"
    return f"{n:,} bytes"


def _where(member: str | None) -> str:
    return f' in "{member}"' if member else ""


# --- Creating a list from an upload -------------------------------------------------------------


def common_start_from_filename(filename: str) -> datetime.datetime | None:
    """The start time common to all rows, from `upload_ddMMyyyyHHmmss` anywhere in the name."""
    match = FILENAME_START_RE.search(filename or "")
    if not match:
        return None
    try:
        naive = datetime.datetime.strptime(match.group(1), "%d%m%Y%H%M%S")
    except ValueError:
        return None
    return naive.replace(tzinfo=ZoneInfo(settings.PHONON_TIMEZONE)).astimezone(datetime.UTC)


def _upload_chunks(fileobj):
    if hasattr(fileobj, "chunks"):
        yield from fileobj.chunks(64 * 1024)
        return
    while chunk := fileobj.read(64 * 1024):
        yield chunk


def contact_list_create(
    *, flow, fileobj, filename: str, source: str, created_by=None, name: str = "", encoding: str = ""
) -> ContactList:
    """Store the upload privately and create its list, pending import. Refuses only what is plainly
    not a call list (extension) or too large to keep (UPLOAD_MAX_BYTES); the import checks the rest."""
    original = os.path.basename(str(filename or "").replace("\\", "/"))[:255]
    contact_list = ContactList(
        flow=flow,
        name=(name or Path(original).stem or "Call list")[:200],
        source=source,
        original_filename=original,
        encoding=(encoding or "").strip().lower()[:16],
        created_by=created_by,
        common_start_at=common_start_from_filename(original),
    )
    extension = Path(original).suffix.lower()
    if extension not in ACCEPTED_EXTENSIONS:
        _refuse_upload(
            contact_list,
            f'Only .csv and .zip files are accepted, and "{original}" is neither '
            "(a tab-separated .txt saved by Excel is accepted once renamed to .csv).",
        )
    folder = Path(settings.MEDIA_ROOT) / "call_lists"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stored_name = f"{uuid.uuid4().hex}{extension}"
    path = folder / stored_name
    limit = settings.UPLOAD_MAX_BYTES
    size = 0
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        for chunk in _upload_chunks(fileobj):
            size += len(chunk)
            if size > limit:
                break
            out.write(chunk)
    if size > limit:
        path.unlink(missing_ok=True)
        _refuse_upload(contact_list, f"The upload is larger than {_size(limit)}, the most the server accepts.")
    contact_list.stored_file = f"call_lists/{stored_name}"
    contact_list.save()
    return contact_list


def _refuse_upload(contact_list: ContactList, message: str):
    now = timezone.now()
    contact_list.status = ContactList.Status.REFUSED
    contact_list.error = message
    contact_list.started_at = contact_list.finished_at = now
    with transaction.atomic():
        contact_list.save()
        _record(contact_list.pk, "list.refused", status=contact_list.status, error=message)
    raise FileRefused(message, contact_list)


def _record(contact_list_id: int, event: str, **facts) -> None:
    """The webhooks' outbox row, in the transaction of the change it reports."""
    account_id = ContactList.objects.filter(pk=contact_list_id).values_list("flow__account_id", flat=True).first()
    event_record(account=account_id, type=event, payload={"object": "list", "id": contact_list_id, **facts})


# --- Reading: sources, bytes, text, lines, header -----------------------------------------------


class _Totals:
    def __init__(self):
        self.bytes = 0
        self.rows = 0


class _CappedReader(io.RawIOBase):
    """Counts the bytes actually read (decompressed, for ZIP members) and stops at the limits."""

    def __init__(self, source, member: str | None, limits: Limits, totals: _Totals):
        self._source = source
        self._member = member
        self._limits = limits
        self._totals = totals
        self._count = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self._source.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self._count += n
        self._totals.bytes += n
        if self._count > self._limits.max_bytes:
            raise FileRefused(
                f"The CSV{_where(self._member)} is larger than {_size(self._limits.max_bytes)}; "
                "split it into smaller files."
            )
        if self._member is not None and self._totals.bytes > self._limits.max_total:
            raise FileRefused(
                f"The ZIP unpacks to more than {_size(self._limits.max_total)}; send fewer or smaller CSV files."
            )
        return n


def _zip_precheck(fileobj, limits: Limits):
    """Read the ZIP's end record before zipfile parses the whole central directory into memory."""
    fileobj.seek(0, os.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(max(0, size - 65_557))
    tail = fileobj.read()
    fileobj.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise FileRefused("The file is not a readable ZIP archive.")
    entries, directory_bytes = struct.unpack("<HI", tail[at + 10 : at + 16])
    # Every CSV may come with a folder entry and a __MACOSX twin; anything far beyond is not a call list.
    if entries > 4 * limits.max_members + 8 or directory_bytes > MB:
        raise FileRefused(f"The ZIP holds more than {limits.max_members} files, the most accepted in one ZIP.")


def _zip_members(archive: zipfile.ZipFile, limits: Limits) -> list[zipfile.ZipInfo]:
    members = []
    for info in archive.infolist():
        name = info.filename
        path = name.replace("\\", "/")
        base = path.rstrip("/").rsplit("/", 1)[-1]
        if info.is_dir() or path.startswith("__MACOSX/") or base.startswith("._") or base.lower() in ZIP_JUNK_NAMES:
            continue
        if path.startswith("/") or ".." in path.split("/") or re.match(r"^[A-Za-z]:", path):
            raise FileRefused(f'The ZIP holds a file with an unsafe name ("{name}"); zip the CSV files alone.')
        if info.flag_bits & 0x1:
            raise FileRefused(f'The ZIP member "{name}" is password-protected; send it without a password.')
        lower = base.lower()
        if lower.endswith(ARCHIVE_SUFFIXES):
            raise FileRefused(f'The ZIP holds another archive ("{name}"); archives inside archives are not accepted.')
        if not lower.endswith(".csv"):
            raise FileRefused(f'The ZIP holds "{name}", which is not a .csv file; a ZIP may hold only CSV files.')
        members.append(info)
        if len(members) > limits.max_members:
            raise FileRefused(f"The ZIP holds more than {limits.max_members} CSV files, the most accepted in one ZIP.")
    if not members:
        raise FileRefused("The ZIP holds no CSV file.")
    return members


def _csv_sources(fileobj, filename: str, limits: Limits):
    """Yield (member name or None, binary stream) for every CSV of the upload."""
    if not filename.lower().endswith(".zip"):
        yield None, fileobj
        return
    _zip_precheck(fileobj, limits)
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as error:
        raise FileRefused("The file is not a readable ZIP archive.") from error
    with archive:
        for info in _zip_members(archive, limits):
            try:
                member = archive.open(info)
            except (NotImplementedError, RuntimeError, zipfile.BadZipFile, OSError, ValueError) as error:
                raise FileRefused(
                    f'The ZIP member "{info.filename}" cannot be read (unsupported compression or damaged).'
                ) from error
            with member:
                yield info.filename, member


def _binary_kind(head: bytes) -> str | None:
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        if b"[Content_Types].xml" in head or b"xl/" in head:
            return "an Excel workbook (.xlsx) renamed, not a CSV: in Excel use Save As, then CSV"
        return "a ZIP archive, not a CSV: upload it with a .zip name"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "an Excel 97-2003 workbook (.xls), not a CSV: in Excel use Save As, then CSV"
    if head.startswith(b"%PDF"):
        return "a PDF document, not a CSV"
    if head.startswith((b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!", b"BZh", b"\xfd7zXZ")):
        return "a compressed archive, not a CSV"
    return None


def _control_ratio(text: str) -> float:
    if not text:
        return 0.0
    controls = sum(1 for ch in text if ch < " " and ch not in "\t\r\n\x0c")
    return controls / len(text)


def _choose_codec(head: bytes, chosen: str, member: str | None) -> str:
    where = _where(member)
    for bom, codec in BOMS:
        if head.startswith(bom):
            return codec
    kind = _binary_kind(head)
    if kind:
        raise FileRefused(f"The file{where} is {kind}.")
    if chosen:
        try:
            name = codecs.lookup(chosen).name
        except LookupError:
            name = ""
        if name not in CHOOSABLE_ENCODINGS:
            raise FileRefused(f'The encoding "{chosen}" is not offered; choose UTF-8, UTF-16 or Windows-1252.')
        codec = CHOOSABLE_ENCODINGS[name]
        sample = head.decode(codec, errors="replace")
        if "\x00" in sample or _control_ratio(sample) > 0.01:
            raise FileRefused(f"The file{where} holds binary data, not text: it is not a CSV.")
        return codec
    if b"\x00" in head:
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if max(even, odd) > len(head) // 4 and min(even, odd) < len(head) // 50 + 1:
            raise FileRefused(
                f"The file{where} looks like UTF-16 text without a byte-order mark; "
                "choose UTF-16 LE or UTF-16 BE as its encoding when you upload it."
            )
        raise FileRefused(f"The file{where} holds binary data, not text: it is not a CSV.")
    try:
        sample = head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.reason == "unexpected end of data" and error.start >= len(head) - 3:
            sample = head[: error.start].decode("utf-8")
        else:
            if _control_ratio(head.decode("latin-1")) > 0.01:
                raise FileRefused(f"The file{where} holds binary data, not text: it is not a CSV.") from error
            raise FileRefused(
                f"The file{where} is not valid UTF-8; choose its encoding (for example Windows-1252) "
                "when you upload it."
            ) from error
    if _control_ratio(sample) > 0.01:
        raise FileRefused(f"The file{where} holds binary data, not text: it is not a CSV.")
    return "utf-8-sig"


class _Position:
    def __init__(self):
        self.physical = 0
        self.last_line = ""


def _open_text(stream, member, chosen, limits, totals) -> tuple[io.TextIOWrapper, str]:
    buffered = io.BufferedReader(_CappedReader(stream, member, limits, totals), buffer_size=HEAD_BYTES)
    head = buffered.peek(HEAD_BYTES)[:HEAD_BYTES]
    codec = _choose_codec(head, chosen, member)
    text = io.TextIOWrapper(buffered, encoding=codec, errors="strict", newline="")
    text._CHUNK_SIZE = HEAD_BYTES
    return text, codec


def _physical_lines(text, limits: Limits, position: _Position, member: str | None):
    readline = text.readline
    cap = limits.max_line + 2
    while line := readline(cap):
        position.physical += 1
        position.last_line = line
        if len(line) >= cap - 1 and len(line.rstrip("\r\n")) > limits.max_line:
            raise FileRefused(
                f"Line {position.physical}{_where(member)} is longer than {limits.max_line:,} characters, "
                "which no call list needs: check that the file is a CSV call list."
            )
        if "\x00" in line:
            raise FileRefused(
                f"Line {position.physical}{_where(member)} holds binary data (a NUL byte): the file is not a CSV."
            )
        yield line


def _sniff_delimiter(line: str) -> str:
    counts = dict.fromkeys(",;\t|", 0)
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: counts[d])  # ties go to the first: comma
    return best if counts[best] else ","


@dataclass
class Header:
    columns: list[str]  # canonical name per cell: tel1, starttime, client-identifier, $flow.key.X, "" (ignored)
    tels: list[tuple[int, str]]  # (cell index, "telN"), tel1 first
    start: int | None
    external: int | None
    variables: list[tuple[int, str]]  # (cell index, variable name)


def _column_key(cell: str) -> tuple[str, str]:
    name = cell.strip().lstrip("\ufeff").strip()
    if not name:
        return "ignored", ""
    variable = VARIABLE_RE.match(name)
    if variable:
        return ("variable", variable.group(1).strip()) if variable.group(1).strip() else ("ignored", "")
    compact = re.sub(r"[\s_\-.]+", "", name).lower()
    tel = TEL_RE.match(compact)
    if tel:
        return "tel", f"tel{int(tel.group(1))}"
    if compact == "starttime":
        return "starttime", "starttime"
    if compact in ("clientidentifier", "clientid"):
        return "client-identifier", "client-identifier"
    return "variable", name


def parse_header(cells: list[str], limits: Limits, member: str | None = None) -> Header:
    while cells and not cells[-1].strip():
        cells = cells[:-1]  # spreadsheets often add empty trailing columns
    where = _where(member)
    if len(cells) > limits.max_columns:
        raise FileRefused(f"The header{where} has {len(cells)} columns; at most {limits.max_columns} are accepted.")
    header = Header(columns=[], tels=[], start=None, external=None, variables=[])
    seen = {}
    for index, cell in enumerate(cells):
        kind, name = _column_key(cell)
        if kind == "ignored":
            header.columns.append("")
            continue
        if kind == "tel":
            number = int(name[3:])
            if number > MAX_TEL:
                raise FileRefused(
                    f"The header{where} has a {name} column, but a row may carry at most {MAX_TEL} numbers "
                    "(tel1 to tel10)."
                )
            if number < 1:
                raise FileRefused(f"The header{where} has a {name} column; numbers go in tel1 to tel10.")
        key = (kind, name)
        label = f"$flow.key.{name}" if kind == "variable" else name
        if key in seen:
            raise FileRefused(f'The column "{label}" appears twice in the header{where}.')
        seen[key] = index
        header.columns.append(label)
        if kind == "tel":
            header.tels.append((index, name))
        elif kind == "starttime":
            header.start = index
        elif kind == "client-identifier":
            header.external = index
        else:
            header.variables.append((index, name))
    if ("tel", "tel1") not in seen:
        raise FileRefused(
            f"The file{where} has no tel1 column: its first line must be a header naming the columns, "
            "with the customer's number under tel1."
        )
    header.tels.sort(key=lambda item: int(item[1][3:]))
    return header


def _read_header(lines, position: _Position, limits: Limits, member: str | None):
    """Return (delimiter, header cells, header line number), skipping blank lines and Excel's `sep=`."""
    delimiter = None
    for line in lines:
        stripped = line.strip().lstrip("\ufeff")
        if not stripped:
            continue
        hint = re.fullmatch(r"\ufeff?sep=(.)", line.rstrip("\r\n"), re.IGNORECASE)
        if delimiter is None and hint:
            delimiter = hint.group(1)
            continue
        delimiter = delimiter or _sniff_delimiter(line)
        cells = next(csv.reader([line], delimiter=delimiter), [])
        return delimiter, cells, position.physical
    raise FileRefused(
        f"The file{_where(member)} is empty."
        if position.physical == 0
        else f"The file{_where(member)} has no header line, only blank lines."
    )


# --- Numbers and start times --------------------------------------------------------------------


class NumberNormaliser:
    """Phone numbers to the provider's form (country code and digits), exactly as phonenumbers says.

    phonenumbers costs tens of microseconds a number. For the default region IN the common shapes
    (91 + 10 digits, or 10 digits, mobile) take a fast path built from phonenumbers' own metadata
    patterns; it answers only when the library's parse + is_valid_number would give the same
    result (tests compare both paths), and hands every other shape to the library.
    """

    def __init__(self, region: str):
        self.region = region
        self.fast = False
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if region == "IN" and metadata and metadata.mobile and metadata.national_prefix_for_parsing == "0":
            self.cc = str(metadata.country_code)
            self.general = re.compile(metadata.general_desc.national_number_pattern).fullmatch
            self.mobile = re.compile(metadata.mobile.national_number_pattern).fullmatch
            self.fast = 10 in metadata.mobile.possible_length and len(self.cc) == 2

    def slow(self, raw: str) -> str | None:
        try:
            number = phonenumbers.parse(raw, self.region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]

    def __call__(self, raw: str) -> str | None:
        if self.fast and raw.isascii():
            if raw.isdigit():
                size = len(raw)
                if size == 12 and raw.startswith(self.cc):
                    national = raw[2:]
                    if (
                        national[0] in "6789"
                        and self.mobile(national)
                        and self.general(national)
                        and not self.general(raw)
                    ):
                        return raw
                elif size == 10 and raw[0] in "6789" and self.mobile(raw) and self.general(raw):
                    return self.cc + raw
            elif raw[:1] == "+" and len(raw) == 13 and raw[1:].isdigit() and raw.startswith(self.cc, 1):
                national = raw[3:]
                if national[0] in "6789" and self.mobile(national) and self.general(national):
                    return raw[1:]
        return self.slow(raw)


def parse_start_time(raw: str, zone: ZoneInfo) -> datetime.datetime | None:
    """ISO-8601 (or the day-first dd-mm-yyyy HH:MM[:SS] spreadsheets produce); no offset means `zone`."""
    try:
        value = datetime.datetime.fromisoformat(raw)
    except ValueError:
        for pattern in DAY_FIRST_FORMATS:
            try:
                value = datetime.datetime.strptime(raw, pattern)
                break
            except ValueError:
                continue
        else:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value


# --- Writing --------------------------------------------------------------------------------------


def _copy_sql(model, columns) -> str:
    quote = connection.ops.quote_name
    names = ", ".join(quote(model._meta.get_field(column).column) for column in columns)
    return f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN"


def _insert(model, columns, rows):
    """Insert plain tuples fast: COPY on PostgreSQL, executemany elsewhere, on the raw cursor so
    that DEBUG's query log never holds a chunk's values."""
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(model._meta.get_field(column).column) for column in columns)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if connection.vendor == "postgresql":
            with raw.copy(_copy_sql(model, columns)) as copy:
                write_row = copy.write_row
                for row in rows:
                    write_row(row)
        else:
            raw.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})", rows)


def _delete_rows(contact_list_id: int):
    # Raw deletes: a never-imported list has no calls, and the ORM would load every contact first.
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in (Contact, RejectedRow):
            column = quote(model._meta.get_field("contact_list").column)
            cursor.execute(f"DELETE FROM {quote(model._meta.db_table)} WHERE {column} = %s", [contact_list_id])


# --- The import -------------------------------------------------------------------------------------


class _Import:
    def __init__(self, contact_list: ContactList, claim: datetime.datetime):
        self.list = contact_list
        self.claim = claim
        self.limits = Limits.from_settings()
        self.chunk_rows = getattr(settings, "CALL_LIST_CHUNK_ROWS", 5000)
        self.zone = ZoneInfo(settings.PHONON_TIMEZONE)
        self.today = timezone.now().astimezone(self.zone).date()
        self.normalise = NumberNormaliser(settings.PHONON_DEFAULT_REGION)
        self.suppressed = {
            re.sub(r"\D", "", number)
            for number in SuppressedNumber.objects.filter(account_id=contact_list.flow.account_id).values_list(
                "number", flat=True
            )
        }
        self.seen = {}  # int(tel1) -> (member index << 32) | line of the row that imported it
        self.members = []
        self.imported = 0
        self.rejected = 0
        self.contacts = []
        self.rejects = []
        self.starts = {}
        # On PostgreSQL the chunk's COPY stays open while rows are parsed and they are sent every
        # `step` rows: the server stores them while this process reads on. Elsewhere a chunk is
        # inserted in one executemany.
        self.streaming = connection.vendor == "postgresql"
        self.step = min(1000, self.chunk_rows) if self.streaming else self.chunk_rows
        self.rows_in_chunk = 0
        self.sent = 0
        self.transaction = None
        self.copy = None
        self.write_row = None
        self.adapt_datetime = (lambda value: value) if self.streaming else connection.ops.adapt_datetimefield_value

    def run(self):
        filename = self.list.original_filename or self.list.stored_file
        if FILENAME_START_RE.search(filename) and self.list.common_start_at is None:
            raise FileRefused(
                f'The start time in the file name ("{FILENAME_START_RE.search(filename).group(0)}") '
                "is not a real date and time (upload_ddMMyyyyHHmmss)."
            )
        totals = _Totals()
        try:
            with open(Path(settings.MEDIA_ROOT) / self.list.stored_file, "rb") as fileobj:
                for member, stream in _csv_sources(fileobj, filename, self.limits):
                    self.members.append(member)
                    self._read_source(member, stream, totals)
            if totals.rows == 0:
                raise FileRefused("The file has a header but no rows of contacts.")
            self._flush(final=True)
        except BaseException:
            self._abort(*sys.exc_info())
            raise

    def _read_source(self, member, stream, totals):
        position = _Position()
        codec = "utf-8-sig"
        try:
            text, codec = _open_text(stream, member, self.list.encoding, self.limits, totals)
            lines = _physical_lines(text, self.limits, position, member)
            delimiter, cells, header_line = _read_header(lines, position, self.limits, member)
            header = parse_header(cells, self.limits, member)
            self._read_rows(csv.reader(lines, delimiter=delimiter), header, header_line, member, position, totals)
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

    def _read_rows(self, reader, header, header_line, member, position, totals):
        # The hot loop: everything it touches is a local name.
        limits = self.limits
        list_id = self.list.pk
        ncols = len(header.columns)
        tel1_index = header.tels[0][0]
        other_tels = header.tels[1:]
        start_index = header.start
        external_index = header.external
        variables = header.variables
        normalise = self.normalise
        suppressed = self.suppressed
        seen = self.seen
        member_tag = (len(self.members) - 1) << 32
        # json.dumps's output for {name: value, ...}, built from precomputed keys: a third of the time.
        quote = json.encoder.encode_basestring_ascii
        variable_keys = [(quote(name) + ": ", index) for index, name in variables]
        contacts_append = self.contacts.append
        reject = self._reject
        prefix = f"{member}: " if member else ""
        max_rows = limits.max_rows
        step = self.step
        line = header_line
        before = position.physical
        for row in reader:
            line += 1
            if position.physical - before > 1:
                # A quoted cell over several lines closes its quote on the record's last line; if it
                # does not, the quote ran to the end of the file and swallowed the rows after it.
                if '"' not in position.last_line or sum(map(len, row)) > limits.max_line:
                    raise FileRefused(
                        f"Line {line}{_where(member)} opens a quote that is never closed, "
                        "so the rows after it cannot be read."
                    )
            before = position.physical
            if not row:
                continue
            size = len(row)
            if size < ncols:
                row += [""] * (ncols - size)
            raw = row[tel1_index].strip()
            if not raw and not any(cell.strip() for cell in row):
                continue  # a blank row
            rows = totals.rows = totals.rows + 1
            if rows > max_rows:
                raise FileRefused(f"The file has more than {max_rows:,} rows; split it into smaller files.")
            if rows % step == 0:
                self._step()
            if size > ncols and any(cell.strip() for cell in row[ncols:]):
                reject(line, "", "", f"{prefix}the row has {size} cells but the header only {ncols} columns.")
                continue
            if not raw:
                reject(line, "tel1", "", f"{prefix}tel1 is empty; every row needs the customer's number in tel1.")
                continue
            primary = normalise(raw)
            if primary is None:
                reject(line, "tel1", raw, prefix + _invalid_number("tel1", raw))
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
                reject(line, bad[0], bad[1], prefix + _invalid_number(bad[0], bad[1]))
                continue
            start_at = None
            if start_index is not None:
                value = row[start_index].strip()
                if value:
                    start_at, reason = self._start(value)
                    if reason:
                        reject(line, "starttime", value, prefix + reason)
                        continue
            external_id = ""
            if external_index is not None:
                external_id = row[external_index].strip()
                if len(external_id) > MAX_EXTERNAL_ID:
                    reason = f"{prefix}client-identifier is longer than {MAX_EXTERNAL_ID} characters."
                    reject(line, "client-identifier", external_id, reason)
                    continue
            if suppressed and not suppressed.isdisjoint(numbers):
                column, value, number = next(
                    (column, row[index].strip(), normalise(row[index].strip()))
                    for index, column in header.tels
                    if row[index].strip() and normalise(row[index].strip()) in suppressed
                )
                reject(line, column, value, f"{prefix}{column} {number} is on the account's do-not-call list.")
                continue
            key = int(primary)
            first = seen.get(key)
            if first is not None:
                first_member = self.members[first >> 32]
                where = f' of "{first_member}"' if first_member and first_member != member else ""
                reject(
                    line, "tel1", raw, f"{prefix}{primary} is already in this list at line {first & 0xFFFFFFFF}{where}."
                )
                continue
            seen[key] = member_tag | line
            contacts_append(
                (
                    list_id,
                    line,
                    primary,
                    '["' + '", "'.join(numbers) + '"]',
                    "{" + ", ".join([name + quote(row[index].strip()) for name, index in variable_keys]) + "}",
                    start_at,
                    external_id,
                )
            )

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

    def _reject(self, line, column, value, reason):
        self.rejects.append((self.list.pk, line, column, value[:MAX_VALUE_IN_REPORT], reason))

    def _step(self):
        self.rows_in_chunk += self.step
        if self.streaming:
            self._send()
        if self.rows_in_chunk >= self.chunk_rows:
            self._flush()

    def _begin(self):
        if self.transaction is None:
            self.transaction = ExitStack()
            self.transaction.enter_context(transaction.atomic())

    def _send(self):
        """PostgreSQL: write the buffered contacts into the chunk's open COPY."""
        if not self.contacts:
            return
        self._begin()
        if self.copy is None:
            self.copy = ExitStack()
            cursor = self.copy.enter_context(connection.cursor())
            # Check the foreign key row by row as the COPY runs (overlapping our parsing) rather
            # than all at commit, when this process would sit waiting.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            self.write_row = self.copy.enter_context(cursor.cursor.copy(_copy_sql(Contact, CONTACT_COLUMNS))).write_row
        write_row = self.write_row
        for row in self.contacts:
            write_row(row)
        self.sent += len(self.contacts)
        self.contacts.clear()

    def _flush(self, final=False):
        """Commit the chunk: its contacts, its rejected rows and the list's counts, together."""
        self._begin()
        if self.streaming:
            self._send()
        if self.copy is not None:
            copy, self.copy = self.copy, None
            copy.close()
        imported = self.imported + self.sent + len(self.contacts)
        rejected = self.rejected + len(self.rejects)
        _insert(Contact, CONTACT_COLUMNS, self.contacts)
        _insert(RejectedRow, REJECTED_COLUMNS, self.rejects)
        fields = {"rows_done": imported + rejected, "imported_count": imported, "rejected_count": rejected}
        if final:
            fields.update(status=ContactList.Status.IMPORTED, finished_at=timezone.now(), error="")
        updated = ContactList.objects.filter(
            pk=self.list.pk, status=ContactList.Status.IMPORTING, started_at=self.claim
        ).update(**fields)
        if updated != 1:
            raise _LostClaim
        if final:
            _record(self.list.pk, "list.imported", status=ContactList.Status.IMPORTED, error="")
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


def _invalid_number(column: str, raw: str) -> str:
    if SCIENTIFIC_RE.match(raw):
        return (
            f'{column} "{raw}" was turned into scientific notation by a spreadsheet; '
            "format the column as text and export it again."
        )
    return f'{column} "{raw}" is not a valid phone number (write it with its country code, e.g. 919812345678).'


def _claim(contact_list_id: int, now: datetime.datetime) -> bool:
    counts = {"rows_done": 0, "imported_count": 0, "rejected_count": 0, "finished_at": None, "error": ""}
    claimed = ContactList.objects.filter(pk=contact_list_id, status=ContactList.Status.PENDING).update(
        status=ContactList.Status.IMPORTING, started_at=now, **counts
    )
    if claimed:
        return True
    # A worker that died mid-import leaves the list `importing`; after a while another may restart it.
    with transaction.atomic():
        claimed = ContactList.objects.filter(
            pk=contact_list_id, status=ContactList.Status.IMPORTING, started_at__lt=now - STALE_IMPORT_AFTER
        ).update(started_at=now, **counts)
        if claimed:
            _delete_rows(contact_list_id)
    return bool(claimed)


def _finish(contact_list_id: int, claim: datetime.datetime, status: str, error: str):
    with transaction.atomic():
        updated = ContactList.objects.filter(
            pk=contact_list_id, status=ContactList.Status.IMPORTING, started_at=claim
        ).update(
            status=status, error=error, finished_at=timezone.now(), rows_done=0, imported_count=0, rejected_count=0
        )
        if updated:
            _delete_rows(contact_list_id)
            event = "list.refused" if status == ContactList.Status.REFUSED else "list.failed"
            _record(contact_list_id, event, status=status, error=error)


def contact_list_import(*, contact_list_id: int) -> ContactList:
    """Import a pending list synchronously; safe to call twice (a second call finds nothing to do)."""
    claim = timezone.now()
    if _claim(contact_list_id, claim):
        contact_list = ContactList.objects.select_related("flow").get(pk=contact_list_id)
        try:
            _Import(contact_list, claim).run()
        except FileRefused as refusal:
            _finish(contact_list_id, claim, ContactList.Status.REFUSED, refusal.message)
        except _LostClaim:
            logger.warning("Import of contact list %s was restarted elsewhere; this run stops.", contact_list_id)
        except FileNotFoundError:
            _finish(contact_list_id, claim, ContactList.Status.FAILED, "The uploaded file is no longer on the server.")
        except Exception as error:
            logger.exception("Import of contact list %s failed", contact_list_id)
            _finish(contact_list_id, claim, ContactList.Status.FAILED, f"The import failed ({type(error).__name__}).")
    return ContactList.objects.get(pk=contact_list_id)


# --- Preview ----------------------------------------------------------------------------------------


def preview_rows(*, fileobj, filename: str, encoding: str = "", limit: int = 10) -> dict:
    """The header (normalised) and the first rows, reading only the start of the file."""
    columns, rows, error = [], [], None
    limits = Limits.from_settings()
    start = fileobj.tell() if hasattr(fileobj, "seekable") and fileobj.seekable() else None
    try:
        if Path(filename).suffix.lower() not in ACCEPTED_EXTENSIONS:
            raise FileRefused("Only .csv and .zip files are accepted.")
        for member, stream in _csv_sources(fileobj, filename, limits):
            position = _Position()
            text, _ = _open_text(stream, member, encoding, limits, _Totals())
            lines = _physical_lines(text, limits, position, member)
            delimiter, cells, _ = _read_header(lines, position, limits, member)
            columns = parse_header(cells, limits, member).columns
            for row in csv.reader(lines, delimiter=delimiter):
                if len(rows) >= limit:
                    break
                if any(cell.strip() for cell in row):
                    rows.append([cell.strip() for cell in (row + [""] * len(columns))[: len(columns)]])
            break
    except FileRefused as refusal:
        error = refusal.message
    except UnicodeDecodeError:
        error = "The file is not valid UTF-8; choose its encoding (for example Windows-1252) when you upload it."
    except (csv.Error, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError):
        error = "The file cannot be read as a CSV call list."
    finally:
        if start is not None:
            fileobj.seek(start)
    return {"columns": columns, "rows": rows, "error": error}
