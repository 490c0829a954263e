"""Creating a list from an upload: the private copy, the common start time from the file name."""

import datetime
import os
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from campaigns.importing.events import list_event_record
from campaigns.importing.limits import ACCEPTED_EXTENSIONS, FILENAME_START_RE, FileRefused, human_size
from campaigns.models import ContactList


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
        _refuse_upload(contact_list, f"The upload is larger than {human_size(limit)}, the most the server accepts.")
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
        list_event_record(contact_list.pk, "list.refused", status=contact_list.status, error=message)
    raise FileRefused(message, contact_list)
