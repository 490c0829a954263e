"""The provider's folder layout (`Upload`, `Success`, `Failure`) on this machine or on an SFTP server.

Both refuse to follow links: an account holder controls what is in these folders, and a link must never
let a file of theirs land in another account's folder, or a report overwrite a file elsewhere.
"""

import asyncio
import errno
import os
import posixpath
import stat
import tempfile
import uuid
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import asyncssh
from django.conf import settings

from campaigns.importing import FileRefused
from campaigns.importing.limits import human_size
from intake.files import network_timeout
from intake.host_keys import key_line, parse_host_key
from intake.models import SftpIntake

UPLOAD, SUCCESS, FAILURE = "Upload", "Success", "Failure"
DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
DOWNLOAD_CHUNK = 256 * 1024


def too_large(limit: int) -> str:
    return f"The file is larger than {human_size(limit)}, the most the server accepts; send a smaller file or a ZIP."


class FolderError(Exception):
    """The folder cannot be reached or changed; the message says why in words (never a secret)."""


NOT_A_FILE = "is a link or a folder, not a file"
HARD_LINK = (
    "is a hard link (the same file has another name, perhaps in another account's folder), not a file of its own"
)


@dataclass(frozen=True)
class Entry:
    name: str
    size: int
    mtime: int
    regular: bool = True  # False: a link, folder or device, left alone and reported
    what: str = NOT_A_FILE  # for an entry that is not regular: what it is, in words


class LocalFolder:
    """The provider's layout on this machine (drop folder), where the account holder may create
    anything, links included. Every operation goes through directory descriptors opened with
    O_NOFOLLOW, and files are opened O_NOFOLLOW and checked to be regular with fstat: a link is never
    followed, whether it was there at the listing or swapped in after it."""

    def __init__(self, intake: SftpIntake):
        self.base = Path(intake.base_folder)
        self._base_fd: int | None = None
        self._folder_fds: dict[str, int] = {}

    def __enter__(self):
        try:
            self._base_fd = os.open(self.base, DIRECTORY_FLAGS)
        except FileNotFoundError as error:
            raise FolderError(f'The drop folder "{self.base}" does not exist.') from error
        except OSError as error:
            raise FolderError(f'The drop folder "{self.base}" cannot be opened ({_why(error)}).') from error
        return self

    def __exit__(self, *exc):
        for descriptor in [*self._folder_fds.values(), self._base_fd]:
            if descriptor is not None:
                os.close(descriptor)
        self._folder_fds.clear()
        self._base_fd = None
        return False

    def _folder(self, folder: str) -> int:
        if folder not in self._folder_fds:
            try:
                self._folder_fds[folder] = os.open(folder, DIRECTORY_FLAGS, dir_fd=self._base_fd)
            except OSError as error:
                raise FolderError(f'"{folder}" in the drop folder cannot be opened ({_why(error)}).') from error
        return self._folder_fds[folder]

    def ensure_layout(self) -> None:
        for folder in (UPLOAD, SUCCESS, FAILURE):
            try:
                os.mkdir(folder, 0o770, dir_fd=self._base_fd)
            except FileExistsError:
                pass  # a link of that name is refused when the folder is opened, below
            except OSError as error:
                raise FolderError(f'Cannot create "{folder}" in "{self.base}" ({_why(error)}).') from error
            self._folder(folder)

    def list_upload(self) -> list[Entry]:
        upload = self._folder(UPLOAD)
        try:
            entries = []
            with os.scandir(upload) as scan:
                for item in scan:
                    info = item.stat(follow_symlinks=False)
                    if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
                        entries.append(Entry(item.name, 0, int(info.st_mtime), regular=False, what=HARD_LINK))
                        continue
                    regular = stat.S_ISREG(info.st_mode)
                    entries.append(Entry(item.name, info.st_size if regular else 0, int(info.st_mtime), regular))
            return sorted(entries, key=lambda e: e.name)
        except OSError as error:
            raise FolderError(f'Cannot list "{UPLOAD}" ({_why(error)}).') from error

    @contextmanager
    def open_upload(self, name: str):
        try:
            descriptor = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=self._folder(UPLOAD))
        except OSError as error:
            raise FolderError(f'Cannot read "{name}" ({_why(error)}).') from error
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            os.close(descriptor)
            raise FolderError(f'"{name}" is not a regular file; it was not read.')
        if info.st_nlink != 1:
            # A hard link made to another account's file (after the listing, too): never ours to read.
            os.close(descriptor)
            raise FolderError(f'"{name}" {HARD_LINK}; it was not read.')
        with os.fdopen(descriptor, "rb") as handle:
            yield handle

    def write_text(self, folder: str, name: str, text: str) -> None:
        """Write a report under a fresh temporary name (O_EXCL: never an existing file or link), then
        rename it over `name`; a link of that name is replaced, never written through."""
        target = self._folder(folder)
        temporary = f".{name}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            descriptor = os.open(
                temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o640, dir_fd=target
            )
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(text.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, name, src_dir_fd=target, dst_dir_fd=target)
        except OSError as error:
            with suppress(OSError):
                os.unlink(temporary, dir_fd=target)
            raise FolderError(f'Cannot write "{folder}/{name}" ({_why(error)}).') from error

    def move(self, name: str, folder: str) -> None:
        try:
            os.replace(name, name, src_dir_fd=self._folder(UPLOAD), dst_dir_fd=self._folder(folder))
        except OSError as error:
            raise FolderError(f'Cannot move "{name}" to {folder} ({_why(error)}).') from error


def _why(error: OSError) -> str:
    if error.errno in (errno.ELOOP, errno.ENOTDIR):
        return "it is a symbolic link or not a folder, and links are never followed"
    return error.strerror or type(error).__name__


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
        # Names that are not UTF-8 are read (and given back) as surrogate escapes, never a failed listing:
        # the poller refuses them one by one.
        self.sftp = await self.connection.start_sftp_client(path_errors="surrogateescape")

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
                if item.filename in (".", ".."):
                    continue
                if kind != asyncssh.FILEXFER_TYPE_REGULAR:
                    # A link or a folder is left where it is and reported, never followed.
                    entries.append(Entry(item.filename, 0, int(attrs.mtime or 0), regular=False))
                    continue
                entries.append(Entry(item.filename, attrs.size or 0, int(attrs.mtime or 0)))
            return sorted(entries, key=lambda e: e.name)

        return self._run(scan(), f"list {self._path(UPLOAD)}")

    @contextmanager
    def open_upload(self, name: str):
        """The file's bytes, downloaded to a private temporary file. The name is checked again with
        lstat (it may have been swapped for a link since the listing), a listed size over the limit is
        refused before anything is read, and the stream is cut at the limit whatever the size said."""
        limit = settings.UPLOAD_MAX_BYTES
        path = self._path(UPLOAD, name)

        async def download(target):
            attrs = await self.sftp.lstat(path)
            if attrs.type not in (asyncssh.FILEXFER_TYPE_REGULAR, asyncssh.FILEXFER_TYPE_UNKNOWN) or (
                attrs.permissions is not None and not stat.S_ISREG(attrs.permissions)
            ):
                raise FolderError(f'"{name}" is not a regular file (a link or a folder); it was not read.')
            if (attrs.size or 0) > limit:
                raise FileRefused(too_large(limit))
            read = 0
            async with self.sftp.open(path, "rb") as remote:
                if not _same_file(attrs, await remote.stat()):
                    # The name was swapped (for a link, say) between the lstat and the open.
                    raise FolderError(f'"{name}" changed between the look and the open; it was not read.')
                while chunk := await remote.read(DOWNLOAD_CHUNK):
                    read += len(chunk)
                    if read > limit:
                        raise FileRefused(too_large(limit))
                    target.write(chunk)

        with tempfile.TemporaryFile(prefix="intake-") as local:
            self._run(download(local), f'download "{name}"')
            local.seek(0)
            yield local

    def write_text(self, folder: str, name: str, text: str) -> None:
        """Write a report under a fresh temporary name (exclusive create: never an existing file or link),
        then rename it over `name`; a link of that name is replaced, never written through."""
        target = self._path(folder, name)
        temporary = self._path(folder, f".{name}.{uuid.uuid4().hex[:12]}.tmp")

        async def write():
            try:
                async with self.sftp.open(temporary, "xb") as handle:
                    await handle.write(text.encode("utf-8"))
                await self._replace(temporary, target)
            except BaseException:
                with suppress(asyncssh.Error, OSError):
                    await self.sftp.remove(temporary)
                raise

        self._run(write(), f'write "{folder}/{name}"')

    async def _replace(self, source: str, target: str) -> None:
        """Rename `source` over `target` (a link there is replaced, not followed)."""
        try:
            await self.sftp.posix_rename(source, target)
        except asyncssh.SFTPOpUnsupported:
            if await self.sftp.exists(target) or await self.sftp.islink(target):
                await self.sftp.remove(target)  # removes a link itself, never what it points at
            await self.sftp.rename(source, target)

    def move(self, name: str, folder: str) -> None:
        source, target = self._path(UPLOAD, name), self._path(folder, name)

        self._run(self._replace(source, target), f'move "{name}" to {folder}')  # over an older file of that name


def _same_file(looked: asyncssh.SFTPAttrs, opened: asyncssh.SFTPAttrs) -> bool:
    """The open handle's attributes are those the lstat saw (SFTP has no O_NOFOLLOW: a name swapped for a
    link in between opens the link's target, whose size, times, owner or mode differ)."""
    if opened.permissions is not None and not stat.S_ISREG(opened.permissions):
        return False
    if opened.nlink is not None and opened.nlink != 1:
        return False
    fields = ("size", "mtime", "uid", "gid", "permissions")
    return all(getattr(looked, field) == getattr(opened, field) for field in fields)


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


