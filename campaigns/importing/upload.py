"""Creating a list from an upload: the private copy, the common start time from the file name."""

import datetime
import os
import uuid
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from campaigns.importing.events import list_event_record
from campaigns.importing.limits import ACCEPTED_EXTENSIONS, FILENAME_START_RE, FileRefused, Limits, human_size
from campaigns.importing.preview import flow_column_map
from campaigns.importing.reading import zip_precheck
from campaigns.models import ContactList

# A file named for "now" spends a poll or two on its way in by mail or SFTP: that is not the past.
START_GRACE = datetime.timedelta(minutes=15)


class StartTimePassed(FileRefused):
    """The start time in the file's name has passed; only a manager's "start now" lets it in."""


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


def upload_chunks(fileobj):
    if hasattr(fileobj, "chunks"):
        yield from fileobj.chunks(64 * 1024)
        return
    while chunk := fileobj.read(64 * 1024):
        yield chunk


def contact_list_create(
    *, flow, fileobj, filename: str, source: str, created_by=None, name: str = "", encoding: str = "",
    start_now: bool = False, column_map: dict[str, str] | None = None,
) -> ContactList:
    """Store the upload privately and create its list, pending import. Refuses what is plainly not a
    call list (extension), too large to keep (UPLOAD_MAX_BYTES), or named for a start time that has
    passed (unless `start_now`: the manager confirmed calling at once); the import checks the rest.
    `column_map`: how the header's cells are read (the upload preview's choice); None, as on the
    mail, SFTP and API channels, reads them as the flow's last mapped upload was read."""
    original = os.path.basename(str(filename or "").replace("\\", "/"))[:255]
    contact_list = ContactList(
        flow=flow,
        name=(name or Path(original).stem or "Call list")[:200],
        source=source,
        original_filename=original,
        encoding=(encoding or "").strip().lower()[:16],
        created_by=created_by,
        column_map=dict(flow_column_map(flow) if column_map is None else column_map),
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
        for chunk in upload_chunks(fileobj):
            size += len(chunk)
            if size > limit:
                break
            out.write(chunk)
    if size > limit:
        path.unlink(missing_ok=True)
        _refuse_upload(contact_list, f"The upload is larger than {human_size(limit)}, the most the server accepts.")
    if extension == ".zip":
        _zip_checked_unopened(contact_list, path)
    _set_common_start(contact_list, path, start_now=start_now)
    contact_list.stored_file = f"call_lists/{stored_name}"
    contact_list.save()
    return contact_list


def _zip_checked_unopened(contact_list: ContactList, path: Path) -> None:
    """The ZIP's end record is checked before anything (zipfile reading the names for the start time)
    parses its central directory: a million tiny entries cost the web worker 350 MB and seconds."""
    try:
        with path.open("rb") as handle:
            zip_precheck(handle, Limits.from_settings())
    except FileRefused as refusal:
        path.unlink(missing_ok=True)
        _refuse_upload(contact_list, refusal.message)


def _set_common_start(contact_list: ContactList, path: Path, *, start_now: bool) -> None:
    """The start time common to all rows, from the file's name or else from the name of a CSV
    inside the ZIP; refused when it has passed (the provider would dial such a file at once)."""
    original = contact_list.original_filename
    member = None if FILENAME_START_RE.search(original) else _member_with_start(contact_list, path)
    start = common_start_from_filename(member or original)
    where = f'the name of "{member}" inside the ZIP' if member else "the file name"
    if member and start is None:
        path.unlink(missing_ok=True)
        _refuse_upload(contact_list, f"The start time in {where} is not a real date and time (upload_ddMMyyyyHHmmss).")
    now = timezone.now()
    if start is not None and start < now - START_GRACE:
        if start_now:
            start = now
        else:
            path.unlink(missing_ok=True)
            local = start.astimezone(ZoneInfo(settings.PHONON_TIMEZONE))
            _refuse_upload(
                contact_list,
                f"The start time in {where}, {local:%d %b %Y %H:%M} ({settings.PHONON_TIMEZONE}), has passed; rename "
                "the file with a time still to come, or without its upload_ddMMyyyyHHmmss to call at once.",
                refusal=StartTimePassed,
            )
    contact_list.common_start_at = start


def _member_with_start(contact_list: ContactList, path: Path) -> str | None:
    """The one CSV name inside a ZIP that carries upload_ddMMyyyyHHmmss, if any. An unreadable ZIP
    has none here: the import refuses it with its own sentence."""
    if not contact_list.original_filename.lower().endswith(".zip"):
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            names = [info.filename.replace("\\", "/").rsplit("/", 1)[-1] for info in archive.infolist()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        return None
    named = sorted(
        {name for name in names if name.lower().endswith(".csv") and not name.startswith("._")
         and FILENAME_START_RE.search(name)}
    )
    stamps = {FILENAME_START_RE.search(name).group(1) for name in named}
    if len(stamps) > 1:
        path.unlink(missing_ok=True)
        _refuse_upload(
            contact_list,
            f"The CSVs inside the ZIP name different start times ({', '.join(named)}); send them as separate files.",
        )
    return named[0] if named else None


def _refuse_upload(contact_list: ContactList, message: str, *, refusal: type[FileRefused] = FileRefused):
    now = timezone.now()
    contact_list.status = ContactList.Status.REFUSED
    contact_list.error = message
    contact_list.started_at = contact_list.finished_at = now
    with transaction.atomic():
        contact_list.save()
        list_event_record(contact_list.pk, "list.refused", status=contact_list.status, error=message)
    raise refusal(message, contact_list)
