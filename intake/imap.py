"""The IMAP side of a mailbox, with IMAPClient: log in, select the intake folder, list, fetch, move.

Every failure is raised as ImapError with a sentence in words (never a secret): ImapRefused when the
server answered NO or BAD to one command and the connection is still fine, ImapError otherwise.
"""

import imaplib
import ssl
from contextlib import contextmanager

from imapclient import DELETED, SEEN, IMAPClient

from intake.files import network_timeout
from intake.models import MailIntake, Security, is_loopback_host

HEADER = b"BODY[HEADER]"
WHOLE = b"BODY[]"
SIZE = b"RFC822.SIZE"


class ImapError(Exception):
    """The mailbox cannot be read; the message says why in words (never holding a secret)."""


class ImapRefused(ImapError):
    """The server answered NO or BAD to one command; the connection itself is fine."""


def imap_connect(mailbox: MailIntake) -> IMAPClient:
    """Connect and log in as the mailbox's settings ask; raises ImapError."""
    host, port = mailbox.imap_host, mailbox.imap_port
    if mailbox.imap_security == Security.PLAIN and not is_loopback_host(host):
        raise ImapError("Unencrypted IMAP is allowed only to 127.0.0.1 or localhost.")
    context = ssl.create_default_context()
    try:
        client = IMAPClient(
            host, port=port, ssl=mailbox.imap_security == Security.TLS, ssl_context=context, timeout=network_timeout()
        )
        if mailbox.imap_security == Security.STARTTLS:
            client.starttls(context)
    except ssl.SSLError as error:
        raise ImapError(f"TLS with the IMAP server {host}:{port} failed ({error.reason or error}).") from error
    except TimeoutError as error:
        raise ImapError(f"The IMAP server {host}:{port} did not answer in time.") from error
    except (imaplib.IMAP4.error, OSError) as error:
        reason = f"{type(error).__name__}: {error}"
        raise ImapError(f"Cannot connect to the IMAP server {host}:{port} ({reason}).") from error
    try:
        client.login(mailbox.username, mailbox.password)
    except imaplib.IMAP4.error as error:
        _close(client)
        raise ImapError(f"The IMAP server {host}:{port} refused the login of {mailbox.username}.") from error
    except (OSError, UnicodeEncodeError) as error:
        _close(client)
        raise ImapError(f"Logging in to the IMAP server {host}:{port} failed ({type(error).__name__}).") from error
    return client


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except (imaplib.IMAP4.error, OSError):
        pass


@contextmanager
def _refused(what: str):
    """A NO or BAD answer to one command (IMAPClient raises them as IMAP4.error, aborts apart)."""
    try:
        yield
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error as error:
        raise ImapRefused(f"The IMAP server refused {what} ({str(error)[:200]}).") from error


class ImapSession:
    """A logged-in connection with the intake folder selected; UIDs throughout."""

    def __init__(self, mailbox: MailIntake):
        self.mailbox = mailbox
        self.client: IMAPClient | None = None
        self.uidvalidity = 0
        self._processed_folder_ready = False

    def __enter__(self) -> "ImapSession":
        self.client = imap_connect(self.mailbox)
        try:
            try:
                selected = self.client.select_folder(self.mailbox.folder)
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error as error:
                raise ImapError(f'The folder "{self.mailbox.folder}" cannot be opened ({str(error)[:200]}).') from error
            self.uidvalidity = int(selected.get(b"UIDVALIDITY") or 0)
        except BaseException:
            _close(self.client)
            raise
        return self

    def __exit__(self, *exc):
        _close(self.client)

    def search(self) -> list[int]:
        with _refused("SEARCH"):
            return sorted(self.client.search(["UNDELETED"]))

    def fetch_head(self, uid: int) -> tuple[int, bytes] | None:
        """(size, header bytes), or None when the mail is gone (another poller moved it)."""
        with _refused("FETCH"):
            found = self.client.fetch([uid], ["RFC822.SIZE", "BODY.PEEK[HEADER]"]).get(uid)
        if not found or HEADER not in found:
            return None
        return int(found.get(SIZE) or 0), found[HEADER]

    def fetch_mail(self, uid: int) -> bytes | None:
        with _refused("FETCH"):
            found = self.client.fetch([uid], ["BODY.PEEK[]"]).get(uid)
        return found.get(WHOLE) if found else None

    def move(self, uid: int) -> None:
        folder = self.mailbox.processed_folder
        if not self._processed_folder_ready:
            if not self.client.folder_exists(folder):
                try:
                    self.client.create_folder(folder)
                except imaplib.IMAP4.error:
                    # Another poller may have created it between our look and our create.
                    if not self.client.folder_exists(folder):
                        raise ImapRefused(f'The IMAP server refused to create "{folder}".') from None
            self._processed_folder_ready = True
        with _refused(f'to move the mail to "{folder}"'):
            self.client.add_flags([uid], [SEEN], silent=True)
            if self.client.has_capability("MOVE"):
                self.client.move([uid], folder)
                return
            self.client.copy([uid], folder)
            self.client.add_flags([uid], [DELETED], silent=True)
            if self.client.has_capability("UIDPLUS"):
                self.client.uid_expunge([uid])
            else:
                self.client.expunge()
