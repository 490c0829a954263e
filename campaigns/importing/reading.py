"""Reading a file: CSV or ZIP sources, capped bytes, the encoding, physical lines, the delimiter."""

import codecs
import io
import os
import re
import struct
import zipfile

from campaigns.importing.limits import (
    ARCHIVE_SUFFIXES,
    BOMS,
    CHOOSABLE_ENCODINGS,
    HEAD_BYTES,
    MB,
    ZIP_JUNK_NAMES,
    FileRefused,
    Limits,
    human_size,
    where_in,
)


class Totals:
    def __init__(self):
        self.bytes = 0
        self.rows = 0


class _CappedReader(io.RawIOBase):
    """Counts the bytes actually read (decompressed, for ZIP members) and stops at the limits."""

    def __init__(self, source, member: str | None, limits: Limits, totals: Totals):
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
                f"The CSV{where_in(self._member)} is larger than {human_size(self._limits.max_bytes)}; "
                "split it into smaller files."
            )
        if self._member is not None and self._totals.bytes > self._limits.max_total:
            raise FileRefused(
                f"The ZIP unpacks to more than {human_size(self._limits.max_total)}; send fewer or smaller CSV files."
            )
        return n


def zip_precheck(fileobj, limits: Limits):
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


def csv_sources(fileobj, filename: str, limits: Limits):
    """Yield (member name or None, binary stream) for every CSV of the upload."""
    if not filename.lower().endswith(".zip"):
        yield None, fileobj
        return
    zip_precheck(fileobj, limits)
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
    where = where_in(member)
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


class Position:
    def __init__(self):
        self.physical = 0
        self.last_line = ""
        self.kept_lines = None  # a list to append every line read to, while one is wanted


def open_text(stream, member, chosen, limits, totals) -> tuple[io.TextIOWrapper, str]:
    buffered = io.BufferedReader(_CappedReader(stream, member, limits, totals), buffer_size=HEAD_BYTES)
    head = buffered.peek(HEAD_BYTES)[:HEAD_BYTES]
    codec = _choose_codec(head, chosen, member)
    text = io.TextIOWrapper(buffered, encoding=codec, errors="strict", newline="")
    text._CHUNK_SIZE = HEAD_BYTES
    return text, codec


def physical_lines(text, limits: Limits, position: Position, member: str | None):
    readline = text.readline
    cap = limits.max_line + 2
    while line := readline(cap):
        position.physical += 1
        position.last_line = line
        if len(line) >= cap - 1 and len(line.rstrip("\r\n")) > limits.max_line:
            raise FileRefused(
                f"Line {position.physical}{where_in(member)} is longer than {limits.max_line:,} characters, "
                "which no call list needs: check that the file is a CSV call list."
            )
        if "\x00" in line:
            raise FileRefused(
                f"Line {position.physical}{where_in(member)} holds binary data (a NUL byte): the file is not a CSV."
            )
        if position.kept_lines is not None:
            position.kept_lines.append(line)
        yield line


def sniff_delimiter(line: str) -> str:
    counts = dict.fromkeys(",;\t|", 0)
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: counts[d])  # ties go to the first: comma
    return best if counts[best] else ","
