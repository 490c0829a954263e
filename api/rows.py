"""Lists filled with JSON rows: open, append (any number of requests), close, then the importer.

Rows are kept as one JSON object a line in a private file beside the uploads. Closing writes them
as a CSV whose header is every key seen, in the order first seen, and queues the import: the same
importer as an upload, so the same rules, limits and rejected-row report (row n is line n + 1).
"""

import csv
import json
import os
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from api.models import OpenList
from campaigns.importing import Limits
from campaigns.models import ContactList
from campaigns.tasks import contact_list_import_soon


class ListClosed(Exception):
    """Rows were sent to a list that is closed; the message says so."""


def _folder() -> Path:
    folder = Path(settings.MEDIA_ROOT) / "call_lists"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def open_list_create(*, flow, name: str = "", created_by=None) -> ContactList:
    """A list waiting for rows; it is imported once closed."""
    with transaction.atomic():
        contact_list = ContactList.objects.create(
            flow=flow,
            name=(name or f"API rows {timezone.localtime():%Y-%m-%d %H:%M:%S}")[:200],
            source=ContactList.Source.API,
            created_by=created_by,
        )
        OpenList.objects.create(contact_list=contact_list, rows_file=f"call_lists/{uuid.uuid4().hex}.jsonl")
    return contact_list


def open_list_append(*, contact_list: ContactList, rows: list[dict]) -> OpenList:
    """Append rows to the open list. The file is first cut back to what the last committed append
    left, so an append that failed after writing leaves nothing behind."""
    with transaction.atomic():
        open_list = OpenList.objects.select_for_update().get(contact_list=contact_list)
        if open_list.closed_at is not None:
            raise ListClosed(f"The list “{contact_list.name}” is closed; create a new list for more rows.")
        limits = Limits.from_settings(from_rows=True)
        if open_list.rows_received + len(rows) > limits.max_rows:
            raise ValueError(
                f"A list holds at most {limits.max_rows:,} rows and this one has {open_list.rows_received:,}; "
                "send the rest as another list."
            )
        check_rows_fit(rows, limits)
        data = "".join(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n" for row in rows).encode()
        path = Path(settings.MEDIA_ROOT) / open_list.rows_file
        _folder()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.ftruncate(fd, open_list.size_bytes)
            os.lseek(fd, open_list.size_bytes, os.SEEK_SET)
            os.write(fd, data)
        finally:
            os.close(fd)
        open_list.size_bytes += len(data)
        open_list.rows_received += len(rows)
        open_list.save(update_fields=["size_bytes", "rows_received"])
    return open_list


def check_rows_fit(rows: list[dict], limits: Limits) -> None:
    """What the importer would refuse the whole list for, refused at the append that brings it."""
    for index, row in enumerate(rows):
        if len(row) > limits.max_columns:
            raise ValueError(f"Row {index} has {len(row)} keys; a list has at most {limits.max_columns} columns.")
        # Cells plus their commas: the row's CSV line, before quoting.
        length = sum(len(str(value)) for value in row.values() if value is not None) + len(row)
        if length > limits.max_line:
            raise ValueError(f"Row {index} is longer than {limits.max_line:,} characters as a CSV line.")


def open_list_close(*, contact_list: ContactList) -> ContactList:
    """Write the rows as a CSV and queue its import; closing a closed list does nothing."""
    with transaction.atomic():
        open_list = OpenList.objects.select_for_update().get(contact_list=contact_list)
        if open_list.closed_at is not None:
            return contact_list
        if open_list.rows_received == 0:
            raise ValueError(
                f"The list “{contact_list.name}” has no rows yet; append rows to it (POST /api/v1/lists/"
                f"{contact_list.pk}/rows/) before closing it."
            )
        stored = f"call_lists/{uuid.uuid4().hex}.csv"
        _rows_to_csv(
            Path(settings.MEDIA_ROOT) / open_list.rows_file, open_list.size_bytes, Path(settings.MEDIA_ROOT) / stored
        )
        ContactList.objects.filter(pk=contact_list.pk).update(stored_file=stored)
        open_list.closed_at = timezone.now()
        open_list.save(update_fields=["closed_at"])
        contact_list_import_soon(contact_list.pk, from_rows=True)
        rows_path = Path(settings.MEDIA_ROOT) / open_list.rows_file
        transaction.on_commit(lambda: rows_path.unlink(missing_ok=True))
    contact_list.refresh_from_db()
    return contact_list


def _committed_rows(path: Path, size: int):
    if size == 0:
        return
    with path.open("rb") as rows_file:
        for line in rows_file.read(size).splitlines():
            yield json.loads(line)


def _rows_to_csv(rows_path: Path, size: int, csv_path: Path) -> None:
    columns: dict[str, None] = {}
    for row in _committed_rows(rows_path, size):
        columns.update(dict.fromkeys(row))
    header = list(columns) or ["tel1"]
    _folder()
    fd = os.open(csv_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
        # The header quoted whole: the importer guesses the delimiter from it, and a key holding
        # a ; or a tab must not look like one.
        csv.writer(out, quoting=csv.QUOTE_ALL).writerow(header)
        writer = csv.writer(out)
        for row in _committed_rows(rows_path, size):
            writer.writerow(["" if row.get(name) is None else row[name] for name in header])
