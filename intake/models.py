"""Intake channels for call lists that arrive without a browser: a mailbox read over IMAP, and an
SFTP account or a local drop folder laid out as the provider's (`Upload`, `Success`, `Failure`).

The work itself lives in the other modules of `intake/`; these are the settings of each channel and the rows
that make every mail and every file handled exactly once (claims with a unique key, and the side
table `IntakeFile` that links what arrived to the contact list made of it).
"""

import ipaddress

from django.core.exceptions import ValidationError
from django.db import models

from campaigns.models import ContactList
from core.encrypted_fields import EncryptedTextField
from flows.models import Account, Flow
from intake.host_keys import parse_host_key

LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def is_loopback_host(host: str) -> bool:
    host = (host or "").strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Security(models.TextChoices):
    TLS = "tls", "TLS from the start (IMAPS 993, SMTPS 465)"
    STARTTLS = "starttls", "STARTTLS (IMAP 143, submission 587)"
    PLAIN = "plain", "No encryption (loopback only)"


class MailIntake(models.Model):
    """One mailbox that receives call lists for any flow (routed by recipient address), and the SMTP
    server that answers the senders and mails SFTP summaries."""

    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    imap_host = models.CharField("IMAP host", max_length=255)
    imap_port = models.PositiveIntegerField("IMAP port", default=993)
    imap_security = models.CharField("IMAP security", max_length=16, choices=Security.choices, default=Security.TLS)
    username = models.CharField("IMAP user name", max_length=255)
    password = EncryptedTextField("IMAP password")
    folder = models.CharField(max_length=255, default="INBOX", help_text="Where new mails are read.")
    processed_folder = models.CharField(
        max_length=255, default="Processed", help_text="Handled mails are moved here (created when missing)."
    )
    smtp_host = models.CharField("SMTP host", max_length=255, blank=True, help_text="Empty: no replies are sent.")
    smtp_port = models.PositiveIntegerField("SMTP port", default=587)
    smtp_security = models.CharField(
        "SMTP security", max_length=16, choices=Security.choices, default=Security.STARTTLS
    )
    smtp_username = models.CharField("SMTP user name", max_length=255, blank=True, help_text="Empty: no login.")
    smtp_password = EncryptedTextField("SMTP password", blank=True)
    from_address = models.EmailField(help_text="Replies and summaries are sent from this address.")
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "mail intake"
        ordering = ["name"]
        permissions = [("test_connection_mailintake", "Can test the connection of a mail intake")]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        if self.imap_security == Security.PLAIN and not is_loopback_host(self.imap_host):
            errors["imap_security"] = "Unencrypted IMAP is allowed only to 127.0.0.1 or localhost."
        if self.smtp_host and self.smtp_security == Security.PLAIN and not is_loopback_host(self.smtp_host):
            errors["smtp_security"] = "Unencrypted SMTP is allowed only to 127.0.0.1 or localhost."
        if errors:
            raise ValidationError(errors)


class SftpIntake(models.Model):
    """An account's file intake: an SFTP server, or a folder on this machine, with the provider's
    layout `Upload`, `Success`, `Failure` under the base folder."""

    class Mode(models.TextChoices):
        SFTP = "sftp", "SFTP server"
        LOCAL = "local", "Folder on this machine (drop folder)"

    name = models.CharField(max_length=200)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="file_intakes")
    enabled = models.BooleanField(default=True)
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.SFTP)
    host = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(default=22)
    username = models.CharField("user name", max_length=255, blank=True)
    password = EncryptedTextField(blank=True)
    private_key = EncryptedTextField("private key (OpenSSH or PEM)", blank=True)
    private_key_passphrase = EncryptedTextField(blank=True)
    host_key = models.TextField(
        "pinned host key", blank=True,
        help_text="The server's public key line, e.g. “ssh-ed25519 AAAA…”; a different key refuses the connection.",
    )
    base_folder = models.CharField(
        max_length=500, blank=True,
        help_text="Folder holding Upload, Success and Failure (SFTP: a remote path, empty for the home folder; "
        "drop folder: an absolute local path).",
    )
    notify_via = models.ForeignKey(
        MailIntake, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Whose SMTP server mails the summaries to the account holder; empty: the first enabled mailbox.",
    )
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "SFTP or drop folder intake"
        ordering = ["name"]
        permissions = [("test_connection_sftpintake", "Can test the connection of an SFTP or drop folder intake")]

    def __str__(self):
        return self.name

    @property
    def source(self) -> str:
        return ContactList.Source.SFTP if self.mode == self.Mode.SFTP else ContactList.Source.DROP

    @property
    def channel(self) -> str:
        """The IntakeFile channel of the files taken from here."""
        return IntakeFile.Channel.SFTP if self.mode == self.Mode.SFTP else IntakeFile.Channel.DROP

    def clean(self):
        errors = {}
        if self.mode == self.Mode.SFTP:
            if not self.host:
                errors["host"] = "An SFTP intake needs the server's host name."
            if not self.username:
                errors["username"] = "An SFTP intake needs a user name."
            if self.host_key.strip():
                try:
                    parse_host_key(self.host_key)
                except ValueError as error:
                    errors["host_key"] = str(error)
        elif not self.base_folder.startswith("/"):
            errors["base_folder"] = "A drop folder is an absolute path on this machine, e.g. /srv/intake/C129113."
        if errors:
            raise ValidationError(errors)


class ProcessedMail(models.Model):
    """The claim on one mail: inserted in its own transaction before anything is done with the mail,
    so a second poller (or the same one after a crash) never handles it again."""

    class Status(models.TextChoices):
        PROCESSING = "processing", "Being handled"
        DONE = "done", "Handled"

    class ReplyStatus(models.TextChoices):
        PENDING = "pending", "To send"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Could not be sent"
        SKIPPED = "skipped", "Not sent"

    mailbox = models.ForeignKey(MailIntake, on_delete=models.CASCADE, related_name="processed_mails")
    message_key = models.CharField(max_length=64, help_text="SHA-256 of the Message-ID (or UIDVALIDITY and UID).")
    message_id = models.TextField(blank=True)
    uidvalidity = models.BigIntegerField(default=0)
    uid = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROCESSING)
    sender = models.CharField(max_length=320, blank=True)
    recipients = models.TextField(blank=True)
    subject = models.CharField(max_length=255, blank=True)
    authenticated = models.BooleanField(
        default=False, help_text="A trusted mail server or a verified DKIM signature vouched for the sender."
    )
    authentication = models.CharField(max_length=400, blank=True, help_text="What vouched, or why nothing did.")
    flow = models.ForeignKey(Flow, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    refusal = models.TextField(blank=True, help_text="Why the whole mail was refused.")
    reply_status = models.CharField(max_length=16, choices=ReplyStatus.choices, default=ReplyStatus.PENDING)
    reply_error = models.TextField(blank=True)
    reply_attempts = models.PositiveSmallIntegerField(default=0)
    replied_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    moved_at = models.DateTimeField(null=True, blank=True, help_text="When the move to the processed folder began.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "message_key"], name="processed_mail_once_per_mailbox"),
        ]

    def __str__(self):
        return f"{self.sender or '?'}: {self.subject or self.message_id}"


class IntakeFile(models.Model):
    """One file that arrived by mail (an attachment) or by SFTP/drop folder, and what became of it.
    The link to its contact list is what keeps a resumed poll from importing it twice."""

    class Channel(models.TextChoices):
        MAIL = "mail", "Mail"
        SFTP = "sftp", "SFTP"
        DROP = "drop", "Drop folder"

    channel = models.CharField(max_length=8, choices=Channel.choices)
    processed_mail = models.ForeignKey(
        ProcessedMail, null=True, blank=True, on_delete=models.CASCADE, related_name="files"
    )
    part_index = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Attachment number in the mail.")
    file_intake = models.ForeignKey(SftpIntake, null=True, blank=True, on_delete=models.CASCADE, related_name="files")
    filename = models.CharField(max_length=255)
    flow = models.ForeignKey(Flow, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    contact_list = models.OneToOneField(
        "campaigns.ContactList", null=True, blank=True, on_delete=models.SET_NULL, related_name="intake_file"
    )
    refusal = models.TextField(blank=True, help_text="Why no contact list was made of the file.")
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    launch_error = models.TextField(blank=True)
    outcome_folder = models.CharField(max_length=16, blank=True, help_text="Success or Failure (files only).")
    finished_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True, help_text="When the summary naming it was sent.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["processed_mail", "part_index"], name="intake_file_once_per_attachment"),
        ]

    def __str__(self):
        return self.filename


class SeenRemoteFile(models.Model):
    """A file in an Upload folder as last seen: taken once its size and modification time are the
    same at two looks (two polls at least INTAKE_FILE_SETTLE_SECONDS apart), then claimed."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting to be complete"
        TAKING = "taking", "Being taken"
        IGNORED = "ignored", "Not a regular file: reported, left alone"

    file_intake = models.ForeignKey(SftpIntake, on_delete=models.CASCADE, related_name="seen_files")
    name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    mtime = models.BigIntegerField(help_text="Modification time, seconds since the epoch.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.WAITING)
    looked_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    intake_file = models.OneToOneField(IntakeFile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["file_intake", "name"], name="seen_remote_file_once_per_name"),
        ]

    def __str__(self):
        return self.name
