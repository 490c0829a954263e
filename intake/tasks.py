"""Celery tasks of the intake channels, run by beat. Celery's autodiscovery reads only `tasks.py`, so
this module is listed in CELERY_IMPORTS (config/settings.py)."""

from celery import shared_task

from intake.mailbox import mailbox_poll
from intake.models import MailIntake, SftpIntake
from intake.sftp import file_intake_poll


@shared_task
def poll_mailboxes_task() -> None:
    """Beat: one poll task per enabled mailbox."""
    for mailbox_id in MailIntake.objects.filter(enabled=True).values_list("pk", flat=True):
        poll_mailbox_task.delay(mailbox_id)


@shared_task
def poll_mailbox_task(mailbox_id: int) -> dict | None:
    """Read one mailbox; safe to run twice at once (every mail is claimed before it is touched)."""
    if not MailIntake.objects.filter(pk=mailbox_id, enabled=True).exists():
        return None  # disabled or deleted since the beat queued it
    return mailbox_poll(mailbox_id=mailbox_id)


@shared_task
def poll_sftp_task() -> None:
    """Beat: one poll task per enabled SFTP account or drop folder."""
    for intake_id in SftpIntake.objects.filter(enabled=True).values_list("pk", flat=True):
        poll_file_intake_task.delay(intake_id)


@shared_task
def poll_file_intake_task(intake_id: int) -> dict | None:
    """Take the complete files of one Upload folder; safe to run twice at once (files are claimed)."""
    if not SftpIntake.objects.filter(pk=intake_id, enabled=True).exists():
        return None
    return file_intake_poll(intake_id=intake_id)
