"""“Test connection” for the intake channels: each check returns (ok, sentence) for the admin to show."""

import imaplib
import os

from intake.folders import UPLOAD, FolderError, open_folder
from intake.imap import ImapError, ImapSession
from intake.mail_transport import SmtpError, smtp_open
from intake.models import MailIntake, SftpIntake

Check = tuple[bool, str]


def imap_check(mailbox: MailIntake) -> Check:
    """Log in and open the intake folder."""
    try:
        with ImapSession(mailbox) as session:
            count = len(session.search())
    except ImapError as error:
        return False, f"IMAP: {error}"
    except (imaplib.IMAP4.error, OSError) as error:
        return False, f"IMAP: the server {mailbox.imap_host} broke off ({type(error).__name__})."
    return True, (
        f"IMAP: logged in to {mailbox.imap_host}:{mailbox.imap_port} as {mailbox.username}; "
        f"“{mailbox.folder}” holds {count} mail(s) waiting."
    )


def smtp_check(mailbox: MailIntake) -> Check:
    """Connect, EHLO, STARTTLS or TLS as set, and log in; nothing is sent."""
    if not mailbox.smtp_host:
        return False, "SMTP: no server is set, so senders get no reply."
    try:
        smtp_open(mailbox).close()
    except SmtpError as error:
        return False, f"SMTP: {error}"
    login = f" and logged in as {mailbox.smtp_username}" if mailbox.smtp_username else " (no login)"
    return True, f"SMTP: connected to {mailbox.smtp_host}:{mailbox.smtp_port}{login}."


def mail_intake_check(mailbox: MailIntake) -> list[Check]:
    return [imap_check(mailbox), smtp_check(mailbox)]


def file_intake_check(intake: SftpIntake) -> list[Check]:
    """Connect (checking the pinned host key), and list the Upload folder."""
    where = (
        f"{intake.host}:{intake.port}" if intake.mode == SftpIntake.Mode.SFTP else f"drop folder {intake.base_folder}"
    )
    try:
        with open_folder(intake) as folder:
            entries = folder.list_upload()
            if intake.mode == SftpIntake.Mode.LOCAL and not os.access(intake.base_folder, os.W_OK):
                return [(False, f"{where}: the folder is not writable by this server.")]
    except FolderError as error:
        return [(False, f"{where}: {error}")]
    key = " host key matches the pinned one;" if intake.mode == SftpIntake.Mode.SFTP else ""
    return [(True, f"{where}: connected;{key} {UPLOAD} holds {len(entries)} file(s).")]
