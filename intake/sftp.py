"""The file poller: an account's `Upload` folder, on an SFTP server (asyncssh) or on this machine (drop
folder), as the provider's customers use it.

Every file named `C<UserID>_<FlowID>[ _upload_DDMMYYYYHHMMSS].csv|.zip` becomes a contact list of that
flow; every file, good or bad, then leaves `Upload` for `Success` or `Failure` with `<name>.report.csv`
beside it, and the account holder gets one summary mail a poll.

When a file is complete: its size and modification time are the same at two looks, the looks being
two polls at least INTAKE_FILE_SETTLE_SECONDS apart (SeenRemoteFile keeps the earlier look). No poll
sleeps waiting for a writer, and a slow upload that stalls for a while between polls is still never
taken half written unless it stalls for a whole poll interval. Names that upload tools use while
writing (`.part`, `.filepart`, `.tmp`, dot-files) are never taken.

Exactly once: the SeenRemoteFile row is claimed waiting -> taking with a conditional update; the
IntakeFile it links to records the contact list as soon as it exists (campaigns/intake/files.py); a
claim older than INTAKE_STALE_SECONDS is taken over and finished from what those rows say.

Host keys: the server's key must equal the pinned one (`SftpIntake.host_key`); a different key or none
pinned refuses the connection, naming the key the server presented.
"""

import datetime
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from intake.files import claim_stale_after, intake_file_take, poll_record
from intake.folders import FAILURE, SUCCESS, Entry, FolderError, open_folder
from intake.headers import one_line, unsafe_name
from intake.models import IntakeFile, SeenRemoteFile, SftpIntake
from intake.replies import file_succeeded, files_summary_send, report_csv, report_name
from intake.routing import is_partial_name, route_file_name

logger = logging.getLogger(__name__)

REPORT_SUFFIX = ".report.csv"
LINKS_NEVER_FOLLOWED = "it was left in Upload and not read (links are never followed). Upload the file itself."
BAD_NAME = (
    "has a name with a control character (a line break, say) or bytes that are not UTF-8; it was left in "
    "Upload and not read. Rename it C<UserID>_<FlowID>.csv and upload it again."
)

def settle_seconds() -> float:
    return settings.INTAKE_FILE_SETTLE_SECONDS


# --- Folders: SFTP and local ------------------------------------------------------------------------


# --- One poll ---------------------------------------------------------------------------------------------


def file_intake_poll(*, intake_id: int) -> dict:
    """Take every complete file in the intake's Upload folder; never raises. A file that fails is its
    own failure (logged, counted in `errors`): the others still get their turn."""
    intake = SftpIntake.objects.select_related("account", "notify_via").get(pk=intake_id)
    stats = {
        "intake": intake.pk, "taken": 0, "waiting": 0, "success": 0, "failure": 0, "refused": 0, "errors": 0,
        "error": "",
    }
    try:
        with open_folder(intake) as folder:
            folder.ensure_layout()
            entries = {entry.name: entry for entry in folder.list_upload()}
            _close_vanished(intake, {shown_name(name) for name in entries})
            for entry in entries.values():
                try:
                    _poll_entry(intake, folder, entry, stats)
                except FolderError:
                    raise  # the folder itself failed: stop this poll
                except Exception:
                    # The claim (if any) stays; after INTAKE_STALE_SECONDS a poll tries the file again.
                    logger.exception("File intake %s: %s could not be taken", intake.pk, shown_name(entry.name))
                    stats["errors"] += 1
    except FolderError as error:
        stats["error"] = str(error)
        logger.warning("File intake %s (%s): %s", intake.pk, intake.name, error)
    _send_summary(intake)
    return poll_record(intake, stats)


def shown_name(name: str) -> str:
    """A file name as it is stored and shown: one line, bytes that are not UTF-8 replaced."""
    return one_line(name)[:255]


def _poll_entry(intake: SftpIntake, folder, entry: Entry, stats: dict) -> None:
    """Look at one entry of Upload, and take it when it is complete."""
    if is_partial_name(entry.name) or entry.name.endswith(REPORT_SUFFIX):
        return
    if unsafe_name(entry.name) or not entry.regular:
        why = BAD_NAME if unsafe_name(entry.name) else f"{entry.what}; {LINKS_NEVER_FOLLOWED}"
        stats["refused"] += _refuse_left_in_upload(intake, entry, why)
        return
    seen = _look(intake, entry)
    if seen is None:
        stats["waiting"] += 1
        return
    stats["taken"] += 1
    outcome = _take(intake, folder, seen, entry)
    if outcome:
        stats[outcome] += 1


def _refuse_left_in_upload(intake: SftpIntake, entry: Entry, why: str) -> bool:
    """A link, folder, device, hard link or unsafe name in Upload is never followed, read or moved: it is
    reported to the account holder once (in the next summary) and then left alone until it goes away."""
    name = shown_name(entry.name)
    with transaction.atomic():
        seen, created = SeenRemoteFile.objects.get_or_create(
            file_intake=intake, name=name,
            defaults={"size": 0, "mtime": entry.mtime, "looked_at": timezone.now(),
                      "status": SeenRemoteFile.Status.IGNORED},
        )
        if not created:
            return False
        intake_file = IntakeFile.objects.create(
            channel=intake.channel, file_intake=intake, filename=name, finished_at=timezone.now(),
            refusal=f"“{name}” {why}",
        )
        SeenRemoteFile.objects.filter(pk=seen.pk).update(intake_file=intake_file)
    logger.warning("File intake %s: %s was left alone: %s", intake.pk, name, why)
    return True


def _look(intake: SftpIntake, entry: Entry) -> SeenRemoteFile | None:
    """The claimed row when the file is to be taken now, else None (first look, still changing, or
    someone else's)."""
    now = timezone.now()
    seen = SeenRemoteFile.objects.filter(file_intake=intake, name=entry.name).select_related("intake_file").first()
    if seen is None:
        try:
            with transaction.atomic():
                SeenRemoteFile.objects.create(
                    file_intake=intake, name=entry.name, size=entry.size, mtime=entry.mtime, looked_at=now
                )
        except IntegrityError:
            pass  # another poller looked at the same moment
        return None
    same = (seen.size, seen.mtime) == (entry.size, entry.mtime)
    if seen.status == SeenRemoteFile.Status.TAKING:
        if seen.claimed_at and seen.claimed_at > now - claim_stale_after():
            return None  # another poller is taking it
        if not same and seen.intake_file_id:
            # The claimed file was moved out by a poller that died before it could say so, and a new
            # file of the same name has been uploaded since: close the old one, look at the new one.
            _close_taken(seen)
            return None
        taken = SeenRemoteFile.objects.filter(pk=seen.pk, status=seen.status, claimed_at=seen.claimed_at).update(
            claimed_at=now
        )
        if taken:
            logger.warning("File intake %s: taking over %s from a poller that stopped", intake.pk, entry.name)
        return seen if taken else None
    if not same:
        SeenRemoteFile.objects.filter(pk=seen.pk, status=SeenRemoteFile.Status.WAITING).update(
            size=entry.size, mtime=entry.mtime, looked_at=now
        )
        return None
    if seen.looked_at > now - datetime.timedelta(seconds=settle_seconds()):
        return None  # the earlier look is too recent to tell a finished file from a paused writer
    claimed = SeenRemoteFile.objects.filter(
        pk=seen.pk, status=SeenRemoteFile.Status.WAITING, size=entry.size, mtime=entry.mtime
    ).update(status=SeenRemoteFile.Status.TAKING, claimed_at=now)
    return seen if claimed else None


def _close_vanished(intake: SftpIntake, present: dict) -> None:
    gone = SeenRemoteFile.objects.filter(file_intake=intake).exclude(name__in=list(present))
    gone.filter(status__in=(SeenRemoteFile.Status.WAITING, SeenRemoteFile.Status.IGNORED)).delete()
    stale = gone.filter(status=SeenRemoteFile.Status.TAKING, claimed_at__lt=timezone.now() - claim_stale_after())
    for seen in stale.select_related("intake_file"):
        _close_taken(seen)


def _close_taken(seen: SeenRemoteFile) -> None:
    """A claimed file is no longer in Upload: it was moved by a poller that died right after."""
    intake_file = seen.intake_file
    if intake_file is not None and intake_file.finished_at is None:
        outcome = SUCCESS if file_succeeded(intake_file) else FAILURE
        IntakeFile.objects.filter(pk=intake_file.pk).update(finished_at=timezone.now(), outcome_folder=outcome)
    SeenRemoteFile.objects.filter(pk=seen.pk, claimed_at=seen.claimed_at).delete()


def _take(intake: SftpIntake, folder, seen: SeenRemoteFile, entry: Entry) -> str:
    """Import one claimed file and move it with its report; '' when it must wait (import elsewhere,
    or the folder failed: the claim is given back for the next poll)."""
    try:
        intake_file = _intake_file_for(intake, seen)
        if not intake_file.refusal:
            # Resumed with a list already made: finish its import and launch, never make another.
            flow = intake_file.flow if intake_file.contact_list_id else None
            if flow is None:
                route = route_file_name(entry.name, intake.account)
                flow = route.flow
                if flow is None:
                    IntakeFile.objects.filter(pk=intake_file.pk).update(refusal=route.refusal)
            if flow is not None and not intake_file_take(
                intake_file=intake_file, flow=flow, source=intake.source,
                open_file=lambda: folder.open_upload(entry.name),
            ):
                return ""  # its import runs elsewhere; the claim stays, a later poll finishes it
        intake_file.refresh_from_db()
        outcome = SUCCESS if file_succeeded(intake_file) else FAILURE
        folder.write_text(outcome, report_name(entry.name), report_csv(intake_file))
        folder.move(entry.name, outcome)
    except FolderError as error:
        logger.warning("File intake %s: %s left in Upload for the next poll: %s", intake.pk, entry.name, error)
        SeenRemoteFile.objects.filter(pk=seen.pk, status=SeenRemoteFile.Status.TAKING).update(
            status=SeenRemoteFile.Status.WAITING, claimed_at=None, looked_at=timezone.now()
        )
        return ""
    IntakeFile.objects.filter(pk=intake_file.pk).update(finished_at=timezone.now(), outcome_folder=outcome)
    SeenRemoteFile.objects.filter(pk=seen.pk).delete()
    logger.info("File intake %s: %s moved to %s", intake.pk, entry.name, outcome)
    return outcome.lower()


def _intake_file_for(intake: SftpIntake, seen: SeenRemoteFile) -> IntakeFile:
    if seen.intake_file_id:
        return IntakeFile.objects.select_related("flow").get(pk=seen.intake_file_id)
    with transaction.atomic():
        intake_file = IntakeFile.objects.create(channel=intake.channel, file_intake=intake, filename=seen.name)
        SeenRemoteFile.objects.filter(pk=seen.pk).update(intake_file=intake_file)
    return intake_file


def _send_summary(intake: SftpIntake) -> None:
    files = IntakeFile.objects.filter(
        file_intake=intake,
        finished_at__isnull=False,
        notified_at__isnull=True,
        finished_at__gte=timezone.now() - datetime.timedelta(days=1),
    ).order_by("pk")
    files = list(files[:200])
    if files:
        files_summary_send(file_intake=intake, files=files)
