"""Loading a do-not-call file at registry scale: add, replace or remove its numbers, in constant memory.

A registry export holds hundreds of millions of numbers, so the file is never held whole: it is
read with the call-list import's streaming reader (CSV or ZIP, encodings, line limits; no size cap),
every number normalised as call lists are, and staged a chunk at a time in a temporary table
(COPY on PostgreSQL, one INSERT from a JSON array on SQLite). The list is changed in one
transaction at the end, by set operations inside the database: planning never sees half a load,
and a load that fails changes nothing.

The file's first row is a header if none of its cells is a phone number; the numbers are then read
from the column whose name holds tel1, msisdn, mobile, phone, number or contact (else the first). Without a header,
from the first column that holds one. Blank lines are skipped; lines whose cell is not a phone
number are counted as rejected.
"""

import csv
import datetime
import logging
import os
import re
import time
from contextlib import ExitStack
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from campaigns.importing import FileRefused, Limits, NumberNormaliser
from campaigns.importing.header import NUMBER_WORDS
from campaigns.importing.limits import CODEC_NAMES, where_in
from campaigns.importing.reading import (
    Position,
    Totals,
    csv_sources,
    open_text,
    physical_lines,
    sniff_delimiter,
)
from campaigns.importing.upload import upload_chunks
from campaigns.importing.writing import copy_supported
from campaigns.models import DoNotCallEntry, DoNotCallList, DoNotCallUpload

logger = logging.getLogger(__name__)

STAGE_CHUNK = 200_000  # numbers staged per step; the upload's progress is written between steps
# Kept in `error` while a load whose first run stopped half way runs again; a second stop fails it.
RESTARTED = "Its load stopped half way (the loading process ended) and was started again from the beginning."
STOPPED_TWICE = (
    "The load stopped half way twice (the loading process ended: it was stopped, or ran out of memory); "
    "the list is as it was before. Upload the file again; if it stops again, upload it in smaller files."
)
NUMBER_COLUMNS = NUMBER_WORDS  # a header cell naming one of these (the call lists' own list)
ACCEPTED_EXTENSIONS = (".csv", ".zip", ".txt")
STAGING = "dnc_staging"
Action = DoNotCallUpload.Action
Status = DoNotCallUpload.Status


def dnc_limits() -> Limits:
    """The call lists' limits, without the size and row caps: a registry file is hundreds of MB."""
    unlimited = 2**62
    return Limits(
        max_bytes=unlimited, max_rows=unlimited, max_columns=settings.CALL_LIST_MAX_COLUMNS,
        max_line=settings.CALL_LIST_MAX_LINE_BYTES, max_members=settings.CALL_LIST_MAX_ZIP_MEMBERS,
        max_total=unlimited,
    )


def dnc_upload_create(
    *, dnc_list: DoNotCallList, fileobj, filename: str, action: str = Action.ADD, reason: str = "",
    expires_on: datetime.date | None = None, source: str = DoNotCallEntry.Source.UPLOAD, created_by=None,
) -> DoNotCallUpload:
    """Keep an uploaded file privately and record the change it asks for, pending a worker."""
    original = Path(str(filename or "").replace("\\", "/")).name[:255]
    extension = Path(original).suffix.lower()
    if extension not in ACCEPTED_EXTENSIONS:
        raise FileRefused(f'Only .csv, .txt and .zip files are accepted, and "{original}" is none of them.')
    folder = Path(settings.MEDIA_ROOT) / "do_not_call"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    upload = DoNotCallUpload.objects.create(
        dnc_list=dnc_list, action=action, reason=reason[:200], expires_on=expires_on, source=source,
        original_filename=original, created_by=created_by, stored_file="",
    )
    stored = f"do_not_call/upload-{upload.pk}{extension}"
    target = Path(settings.MEDIA_ROOT) / stored
    with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        for chunk in upload_chunks(fileobj):
            out.write(chunk)
    DoNotCallUpload.objects.filter(pk=upload.pk).update(stored_file=stored)
    upload.stored_file = stored
    return upload


def dnc_file_load(
    *, dnc_list: DoNotCallList, path: Path, action: str = Action.ADD, reason: str = "",
    expires_on: datetime.date | None = None, source: str = DoNotCallEntry.Source.UPLOAD, created_by=None,
) -> DoNotCallUpload:
    """Load a file where it lies (the command's way: a registry is not copied), synchronously."""
    upload = DoNotCallUpload.objects.create(
        dnc_list=dnc_list, action=action, reason=reason[:200], expires_on=expires_on, source=source,
        original_filename=path.name[:255], stored_file=str(path.resolve())[:500], created_by=created_by,
    )
    return dnc_upload_run(upload_id=upload.pk)


def stale_load_after() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.DNC_LOAD_STALE_SECONDS)


def dnc_uploads_stale(*, now: datetime.datetime | None = None) -> list[int]:
    """Uploads left `running` past the stale age, their process gone: those already started again
    once are failed with a sentence; the others' ids are returned, to be run again (`_claim`)."""
    now = now or timezone.now()
    stale = DoNotCallUpload.objects.filter(status=Status.RUNNING, started_at__lt=now - stale_load_after())
    for upload_id, started_at in stale.filter(error=RESTARTED).values_list("pk", "started_at"):
        logger.warning("Do-not-call upload %s stopped half way twice; failing it.", upload_id)
        DoNotCallUpload.objects.filter(pk=upload_id, status=Status.RUNNING, started_at=started_at).update(
            status=Status.FAILED, error=STOPPED_TWICE, finished_at=now
        )
    return list(stale.exclude(error=RESTARTED).values_list("pk", flat=True))


def _claim(upload_id: int, now: datetime.datetime) -> bool:
    # A worker that died mid-load left nothing behind (the change is one transaction); after a
    # while another may start again, once.
    return bool(
        DoNotCallUpload.objects.filter(pk=upload_id, status=Status.PENDING).update(
            status=Status.RUNNING, started_at=now
        )
        or DoNotCallUpload.objects.filter(pk=upload_id, status=Status.RUNNING, started_at__lt=now - stale_load_after())
        .exclude(error=RESTARTED)
        .update(started_at=now, error=RESTARTED)
    )


def dnc_upload_run(*, upload_id: int) -> DoNotCallUpload:
    """Run a pending upload to its end; safe to call twice (a second call finds it claimed or done)."""
    now = timezone.now()
    if _claim(upload_id, now):
        upload = DoNotCallUpload.objects.select_related("dnc_list").get(pk=upload_id)
        fields = {}
        try:
            fields = _Load(upload).run()
            fields.update(status=Status.DONE, error="")
        except FileRefused as refusal:
            fields = {"status": Status.REFUSED, "error": refusal.message}
        except FileNotFoundError:
            fields = {"status": Status.FAILED, "error": "The uploaded file is no longer on the server."}
        except Exception as error:
            logger.exception("Do-not-call upload %s failed", upload_id)
            fields = {"status": Status.FAILED, "error": f"The load failed ({type(error).__name__})."}
        DoNotCallUpload.objects.filter(pk=upload_id, started_at=now).update(finished_at=timezone.now(), **fields)
    return DoNotCallUpload.objects.select_related("dnc_list").get(pk=upload_id)


class _Load:
    def __init__(self, upload: DoNotCallUpload):
        self.upload = upload
        self.limits = dnc_limits()
        self.normalise = NumberNormaliser(settings.PHONON_DEFAULT_REGION)
        self.postgres = copy_supported()  # the tuned path: COPY, ANALYZE, a plain INSERT of the new numbers
        self.imported = 0
        self.rejected = 0
        self.first_rejected = None  # (member, line, value), for the sentence when nothing is valid
        self.chunk = []

    def run(self) -> dict:
        self.started = time.monotonic()
        path = Path(self.upload.stored_file)
        if not path.is_absolute():
            path = Path(settings.MEDIA_ROOT) / path
        with ExitStack() as stack:
            cursor = stack.enter_context(connection.cursor())
            self._stage_begin(cursor)
            stack.callback(self._stage_end, cursor)
            fileobj = stack.enter_context(path.open("rb"))
            totals = Totals()
            for member, stream in csv_sources(fileobj, self.upload.original_filename or path.name, self.limits):
                self._read_source(cursor, member, stream, totals)
            self._stage(cursor)
            if not self.imported:
                raise FileRefused(self._nothing_valid())
            staged = time.monotonic()
            added, removed = self._merge(cursor)
            if self.postgres and (added or removed):
                # The list's statistics now, not when autovacuum comes by: a registry's millions
                # read as the few thousand of the last analysis misled every plan that joins the
                # entries (a hash join over the whole list instead of a probe per number).
                cursor.execute(f"ANALYZE {DoNotCallEntry._meta.db_table}")
        logger.info(
            "do-not-call upload %s: %s numbers read and staged in %.1f s, list changed in %.1f s",
            self.upload.pk, self.imported, staged - self.started, time.monotonic() - staged,
        )
        return {
            "rows_done": self.imported + self.rejected, "imported_count": self.imported,
            "rejected_count": self.rejected, "added_count": added, "removed_count": removed,
        }

    def _nothing_valid(self) -> str:
        if self.first_rejected is None:
            return "The file holds no phone numbers."
        member, line, value = self.first_rejected
        return (
            f'No line of the file holds a valid phone number (line {line}{where_in(member)}: "{value[:40]}"); '
            "write each with its country code, e.g. 919812345678."
        )

    # --- reading -------------------------------------------------------------------------------

    def _read_source(self, cursor, member, stream, totals):
        position = Position()
        codec = "utf-8-sig"
        try:
            text, codec = open_text(stream, member, "", self.limits, totals)
            self._read_lines(cursor, member, physical_lines(text, self.limits, position, member), position)
        except UnicodeDecodeError as error:
            raise FileRefused(
                f"The file{where_in(member)} is not valid {CODEC_NAMES.get(codec, codec)} "
                f"(near line {position.physical + 1}); save it as UTF-8."
            ) from error
        except csv.Error as error:
            raise FileRefused(
                f"Line {position.physical}{where_in(member)} cannot be read as CSV ({error})."
            ) from error

    def _read_lines(self, cursor, member, lines, position):
        normalise = self.normalise
        first = next((line for line in lines if line.strip()), None)
        if first is None:
            return
        delimiter = sniff_delimiter(first)
        cells = next(csv.reader([first], delimiter=delimiter), [""])
        column = next((index for index, cell in enumerate(cells) if normalise(cell.strip())), None)
        if column is None:  # a header: the number column by its name, else the first
            names = [re.sub(r"[\s_\-.$]+", "", cell.lstrip("\ufeff")).lower() for cell in cells]
            column = next(
                (index for word in NUMBER_COLUMNS for index, name in enumerate(names) if word in name), 0
            )
            rows = lines
        else:
            rows = _chain_first(first, lines)
        append = self.chunk.append
        chunk = self.chunk
        rejected = 0
        if delimiter not in first and '"' not in first:
            cells_of = None  # one column: the line is the cell (the hot path for registry files)
        else:
            cells_of = csv.reader(rows, delimiter=delimiter)
        for row in rows if cells_of is None else cells_of:
            raw = (row if cells_of is None else (row[column] if len(row) > column else "")).strip()
            if not raw:
                continue
            number = normalise(raw)
            if number is None:
                rejected += 1
                if self.first_rejected is None:
                    self.first_rejected = (member, position.physical, raw)
                continue
            append(number)
            if len(chunk) >= STAGE_CHUNK:
                self.rejected += rejected
                rejected = 0
                self._stage(cursor)
        self.rejected += rejected

    # --- staging -------------------------------------------------------------------------------

    def _stage_begin(self, cursor):
        # The same SQL for both databases (bigint is an INTEGER column to SQLite); a table left by a
        # failed load on this connection is emptied.
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING} (number bigint)")
        cursor.execute(f"DELETE FROM {STAGING}")

    def _stage_end(self, cursor):
        cursor.execute(f"DROP TABLE IF EXISTS {STAGING}")

    def _stage(self, cursor):
        """Send the chunk's numbers to the staging table, then write the upload's progress."""
        if not self.chunk:
            return
        if self.postgres:
            with cursor.cursor.copy(f"COPY {STAGING} (number) FROM STDIN") as copy:
                copy.write("\n".join(self.chunk) + "\n")
        else:
            # One statement for the chunk: SQLite parses the JSON array in C.
            cursor.cursor.execute(
                f"INSERT INTO {STAGING} (number) SELECT value FROM json_each(?)", ["[" + ",".join(self.chunk) + "]"]
            )
        self.imported += len(self.chunk)
        self.chunk.clear()
        DoNotCallUpload.objects.filter(pk=self.upload.pk).update(
            rows_done=self.imported + self.rejected, imported_count=self.imported, rejected_count=self.rejected
        )

    # --- the change ----------------------------------------------------------------------------

    def _merge(self, cursor) -> tuple[int, int]:
        """Change the list in one transaction: (numbers added, numbers removed)."""
        upload = self.upload
        entries = DoNotCallEntry._meta.db_table
        if self.postgres:
            cursor.execute(f"ANALYZE {STAGING}")  # autovacuum never analyses temporary tables
        added = removed = 0
        with transaction.atomic():
            # One change of a list at a time; planning reads the list as it was until this commits.
            DoNotCallList.objects.select_for_update().filter(pk=upload.dnc_list_id).first()
            if upload.action == Action.REMOVE:
                cursor.execute(
                    f"DELETE FROM {entries} WHERE dnc_list_id = %s AND number IN (SELECT number FROM {STAGING})",
                    [upload.dnc_list_id],
                )
                return 0, cursor.rowcount
            if upload.action == Action.REPLACE:
                # Only the difference changes: a monthly registry refresh keeps most entries as they are.
                cursor.execute(
                    f"DELETE FROM {entries} WHERE dnc_list_id = %s AND NOT EXISTS "
                    f"(SELECT 1 FROM {STAGING} s WHERE s.number = {entries}.number)",
                    [upload.dnc_list_id],
                )
                removed = cursor.rowcount
            columns = "dnc_list_id, number, source, reason, expires_on, added_by_id, created_at"
            params = [
                upload.dnc_list_id, upload.source, upload.reason, upload.expires_on, upload.created_by_id,
                timezone.now(),
            ]
            if self.postgres:
                # Every change of a list's entries holds the list's row lock (this one above), so
                # the numbers not listed yet can go in with a plain INSERT: ON CONFLICT would take
                # twice as long. In number order, so the index grows at its end.
                cursor.execute("SET LOCAL work_mem = '64MB'")
                new_only = (
                    f"WHERE NOT EXISTS (SELECT 1 FROM {entries} e WHERE e.dnc_list_id = %s AND e.number = d.number)"
                    if DoNotCallEntry.objects.filter(dnc_list_id=upload.dnc_list_id).exists() else ""
                )
                sql = (
                    f"INSERT INTO {entries} ({columns}) SELECT %s, d.number, %s, %s, %s, %s, %s "
                    f"FROM (SELECT DISTINCT number FROM {STAGING}) AS d {new_only} ORDER BY d.number"
                )
                params += [upload.dnc_list_id] if new_only else []
            else:
                params[-1] = connection.ops.adapt_datetimefield_value(params[-1])
                sql = (
                    f"INSERT OR IGNORE INTO {entries} ({columns}) SELECT %s, number, %s, %s, %s, %s, %s "
                    f"FROM {STAGING} ORDER BY number"
                )
            cursor.execute(sql, params)
            added = cursor.rowcount
        return added, removed


def _chain_first(first, lines):
    yield first
    yield from lines
