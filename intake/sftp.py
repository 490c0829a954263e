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

import asyncio
import datetime
import logging
import os
import posixpath
import shutil
import stat
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncssh
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from intake.files import claim_stale_after, intake_file_take, poll_record
from intake.host_keys import key_line, parse_host_key
from intake.models import IntakeFile, SeenRemoteFile, SftpIntake
from intake.replies import file_succeeded, files_summary_send, network_timeout, report_csv, report_name
from intake.routing import is_partial_name, route_file_name

logger = logging.getLogger(__name__)

UPLOAD, SUCCESS, FAILURE = "Upload", "Success", "Failure"
REPORT_SUFFIX = ".report.csv"


class FolderError(Exception):
    """The folder cannot be reached or changed; the message says why in words (never a secret)."""


@dataclass(frozen=True)
class Entry:
    name: str
    size: int
    mtime: int


def settle_seconds() -> float:
    return settings.INTAKE_FILE_SETTLE_SECONDS


# --- Folders: SFTP and local ------------------------------------------------------------------------


class LocalFolder:
    """The provider's layout on this machine (drop folder)."""

    def __init__(self, intake: SftpIntake):
        self.base = Path(intake.base_folder)

    def __enter__(self):
        if not self.base.is_dir():
            raise FolderError(f'The drop folder "{self.base}" does not exist.')
        return self

    def __exit__(self, *exc):
        return False

    def _path(self, folder: str, name: str = "") -> Path:
        return self.base / folder / name if name else self.base / folder

    def ensure_layout(self) -> None:
        try:
            for folder in (UPLOAD, SUCCESS, FAILURE):
                self._path(folder).mkdir(exist_ok=True)
        except OSError as error:
            raise FolderError(f'Cannot create the folders in "{self.base}" ({error.strerror}).') from error

    def list_upload(self) -> list[Entry]:
        try:
            entries = []
            with os.scandir(self._path(UPLOAD)) as scan:
                for item in scan:
                    if item.is_file(follow_symlinks=False):
                        info = item.stat(follow_symlinks=False)
                        entries.append(Entry(item.name, info.st_size, int(info.st_mtime)))
            return sorted(entries, key=lambda e: e.name)
        except OSError as error:
            raise FolderError(f'Cannot list "{self._path(UPLOAD)}" ({error.strerror}).') from error

    @contextmanager
    def open_upload(self, name: str):
        try:
            handle = open(self._path(UPLOAD, name), "rb")
        except OSError as error:
            raise FolderError(f'Cannot read "{name}" ({error.strerror}).') from error
        with handle:
            yield handle

    def write_text(self, folder: str, name: str, text: str) -> None:
        try:
            self._path(folder, name).write_text(text, encoding="utf-8")
        except OSError as error:
            raise FolderError(f'Cannot write "{folder}/{name}" ({error.strerror}).') from error

    def move(self, name: str, folder: str) -> None:
        try:
            os.replace(self._path(UPLOAD, name), self._path(folder, name))
        except OSError as error:
            raise FolderError(f'Cannot move "{name}" to {folder} ({error.strerror}).') from error


class SftpFolder:
    """The provider's layout on an SFTP server. asyncssh is driven from synchronous code by a private
    event loop, run only while a call is in flight (so the ORM is never used inside a running loop)."""

    def __init__(self, intake: SftpIntake):
        self.intake = intake
        self.base = intake.base_folder.rstrip("/") if intake.base_folder not in ("", "/") else intake.base_folder
        self.loop = asyncio.new_event_loop()
        self.connection = None
        self.sftp = None
        self.server_key = None

    def _run(self, coroutine, what: str):
        try:
            return self.loop.run_until_complete(asyncio.wait_for(coroutine, network_timeout()))
        except FolderError:
            raise
        except TimeoutError as error:
            raise FolderError(f"The SFTP server {self._where()} did not answer in time ({what}).") from error
        except asyncssh.SFTPError as error:
            raise FolderError(f"The SFTP server refused to {what} ({error.reason}).") from error
        except (asyncssh.Error, OSError) as error:
            raise FolderError(f"SFTP failed while trying to {what} ({type(error).__name__}: {error}).") from error

    def _where(self) -> str:
        return f"{self.intake.host}:{self.intake.port}"

    def _path(self, folder: str, name: str = "") -> str:
        path = posixpath.join(self.base, folder) if self.base else folder
        return posixpath.join(path, name) if name else path

    def __enter__(self):
        try:
            self._run(self._connect(), "connect")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    async def _connect(self):
        intake = self.intake
        if not intake.host_key.strip():
            presented = await _presented_key(intake, ())
            shown = f"“{key_line(presented)}” ({presented.get_fingerprint()})" if presented else "no key (unreachable)"
            raise FolderError(
                f"No host key is pinned for {self._where()}, so the connection was refused. The server presents "
                f"{shown}; check it with the server's administrator and paste it into the intake's pinned host key."
            )
        try:
            pinned = parse_host_key(intake.host_key)
        except ValueError as error:
            raise FolderError(str(error)) from error
        client_keys = None
        if intake.private_key.strip():
            try:
                client_keys = [asyncssh.import_private_key(intake.private_key, intake.private_key_passphrase or None)]
            except (asyncssh.KeyImportError, ValueError) as error:
                raise FolderError("The intake's private key cannot be read (wrong format or passphrase).") from error
        try:
            self.connection = await asyncssh.connect(
                intake.host, intake.port, username=intake.username, password=intake.password or None,
                client_keys=client_keys, known_hosts=([pinned], [], []), agent_path=None, config=None,
                connect_timeout=network_timeout(), login_timeout=network_timeout(),
                # Offer only the pinned key's algorithm family, so the server shows that key.
                server_host_key_algs=_algorithms_for(pinned),
            )
        except asyncssh.HostKeyNotVerifiable as error:
            presented = await _presented_key(intake, _algorithms_for(pinned))
            shown = presented.get_fingerprint() if presented else "?"
            raise FolderError(
                f"The SFTP server {self._where()} presented host key {shown}"
                f", not the pinned key {pinned.get_fingerprint()}: the connection was refused. If the server's key "
                "was changed on purpose, pin the new one."
            ) from error
        except asyncssh.PermissionDenied as error:
            raise FolderError(
                f"The SFTP server {self._where()} refused the login of {intake.username} (wrong password or key)."
            ) from error
        self.server_key = pinned
        self.sftp = await self.connection.start_sftp_client()

    def close(self):
        if self.connection is not None:
            self.connection.close()
            try:
                self.loop.run_until_complete(asyncio.wait_for(self.connection.wait_closed(), 5))
            except (TimeoutError, asyncssh.Error, OSError):
                pass
            self.connection = None
        if not self.loop.is_closed():
            self.loop.close()

    def ensure_layout(self) -> None:
        async def make():
            for folder in (UPLOAD, SUCCESS, FAILURE):
                if not await self.sftp.isdir(self._path(folder)):
                    await self.sftp.mkdir(self._path(folder))

        self._run(make(), "create Upload, Success and Failure")

    def list_upload(self) -> list[Entry]:
        async def scan():
            entries = []
            for item in await self.sftp.readdir(self._path(UPLOAD)):
                attrs = item.attrs
                kind = attrs.type
                if kind == asyncssh.FILEXFER_TYPE_UNKNOWN and attrs.permissions is not None:
                    kind = asyncssh.FILEXFER_TYPE_REGULAR if stat.S_ISREG(attrs.permissions) else kind
                if item.filename in (".", "..") or kind != asyncssh.FILEXFER_TYPE_REGULAR:
                    continue
                entries.append(Entry(item.filename, attrs.size or 0, int(attrs.mtime or 0)))
            return sorted(entries, key=lambda e: e.name)

        return self._run(scan(), f"list {self._path(UPLOAD)}")

    @contextmanager
    def open_upload(self, name: str):
        folder = tempfile.mkdtemp(prefix="intake-")
        local = os.path.join(folder, "file")
        try:
            self._run(self.sftp.get(self._path(UPLOAD, name), local), f'download "{name}"')
            with open(local, "rb") as handle:
                yield handle
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def write_text(self, folder: str, name: str, text: str) -> None:
        async def write():
            async with self.sftp.open(self._path(folder, name), "wb") as handle:
                await handle.write(text.encode("utf-8"))

        self._run(write(), f'write "{folder}/{name}"')

    def move(self, name: str, folder: str) -> None:
        source, target = self._path(UPLOAD, name), self._path(folder, name)

        async def move():
            try:
                await self.sftp.posix_rename(source, target)  # replaces an older file of the same name
            except asyncssh.SFTPOpUnsupported:
                if await self.sftp.exists(target):
                    await self.sftp.remove(target)
                await self.sftp.rename(source, target)

        self._run(move(), f'move "{name}" to {folder}')


def _algorithms_for(key: asyncssh.SSHKey) -> list[str]:
    algorithm = key.get_algorithm()
    if algorithm == "ssh-rsa":
        return ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]
    return [algorithm]


async def _presented_key(intake: SftpIntake, algorithms) -> asyncssh.SSHKey | None:
    """The host key the server shows, for the refusal message (no login is attempted)."""
    try:
        return await asyncssh.get_server_host_key(
            intake.host, intake.port, server_host_key_algs=algorithms, config=None
        )
    except (asyncssh.Error, OSError):
        return None


def open_folder(intake: SftpIntake):
    return SftpFolder(intake) if intake.mode == SftpIntake.Mode.SFTP else LocalFolder(intake)


# --- One poll ---------------------------------------------------------------------------------------------


def file_intake_poll(*, intake_id: int) -> dict:
    """Take every complete file in the intake's Upload folder; never raises."""
    intake = SftpIntake.objects.select_related("account", "notify_via").get(pk=intake_id)
    stats = {"intake": intake.pk, "taken": 0, "waiting": 0, "success": 0, "failure": 0, "error": ""}
    try:
        with open_folder(intake) as folder:
            folder.ensure_layout()
            entries = {entry.name: entry for entry in folder.list_upload()}
            _close_vanished(intake, entries)
            for entry in entries.values():
                if is_partial_name(entry.name) or entry.name.endswith(REPORT_SUFFIX):
                    continue
                seen = _look(intake, entry)
                if seen is None:
                    stats["waiting"] += 1
                    continue
                stats["taken"] += 1
                try:
                    outcome = _take(intake, folder, seen, entry)
                except Exception:
                    # The claim stays; after INTAKE_STALE_SECONDS a poll tries the file again.
                    logger.exception("File intake %s: %s could not be taken", intake.pk, entry.name)
                    outcome = ""
                if outcome:
                    stats[outcome] += 1
    except FolderError as error:
        stats["error"] = str(error)
        logger.warning("File intake %s (%s): %s", intake.pk, intake.name, error)
    _send_summary(intake)
    return poll_record(intake, stats)


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
    gone.filter(status=SeenRemoteFile.Status.WAITING).delete()
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
    channel = IntakeFile.Channel.SFTP if intake.mode == SftpIntake.Mode.SFTP else IntakeFile.Channel.DROP
    with transaction.atomic():
        intake_file = IntakeFile.objects.create(channel=channel, file_intake=intake, filename=seen.name)
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
