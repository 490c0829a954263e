"""What a call-list file may be: size, rows, columns, ZIP members; and the whole-file refusal."""

import codecs
import re
from dataclasses import dataclass

from django.conf import settings

from campaigns.models import Contact, ContactList

MB = 1024 * 1024
ACCEPTED_EXTENSIONS = (".csv", ".zip")
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
REJECTED_COLUMNS = ("contact_list", "line", "column", "value", "reason", "raw")
MAX_RAW_CELLS = 200  # cells of a rejected row kept to upload again (the header allows at most this many)


class FileRefused(Exception):
    """The file is refused whole; `.message` says why in one sentence."""

    def __init__(self, message: str, contact_list: ContactList | None = None):
        super().__init__(message)
        self.message = message
        self.contact_list = contact_list


class LostClaim(Exception):
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
    def from_settings(cls, *, from_rows: bool = False) -> "Limits":
        """A CSV this server wrote from JSON rows (the API's open lists) is held to the rows and the line
        length its rows were checked against, not to the file size an upload is: its appends were
        accepted, and refusing the list at the close would lose them all."""
        return cls(
            max_bytes=(
                settings.CALL_LIST_MAX_ROWS * (settings.CALL_LIST_MAX_LINE_BYTES + 2) + 64 * 1024
                if from_rows
                else settings.CALL_LIST_MAX_BYTES
            ),
            max_rows=settings.CALL_LIST_MAX_ROWS,
            max_columns=settings.CALL_LIST_MAX_COLUMNS,
            max_line=settings.CALL_LIST_MAX_LINE_BYTES,
            max_members=settings.CALL_LIST_MAX_ZIP_MEMBERS,
            max_total=settings.CALL_LIST_MAX_TOTAL_BYTES,
        )


def human_size(n: int) -> str:
    if n >= MB:
        return f"{n / MB:.1f}".removesuffix(".0") + " MB"
    if n >= 1024:
        return f"{n / 1024:.1f}".removesuffix(".0") + " KB"
    return f"{n:,} bytes"


def where_in(member: str | None) -> str:
    return f' in "{member}"' if member else ""
