"""Taking one arrived file (a mail attachment or a file from an Upload folder): make its contact list
once, import it, and launch it when the flow asks for that. Shared by the mail and file pollers.

Resuming is the normal case, not a special one: every step looks at what the IntakeFile row already
links to (contact list, campaign) and does only what is missing, so a poller that died half way is
finished by the next one without importing or launching anything twice.
"""

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from campaigns.importing import FileRefused, contact_list_create, contact_list_import
from campaigns.models import Campaign, ContactList
from dialer.campaign_actions import ActionRefused, campaign_launch
from dialer.recent_calls import DEFAULT_LOOK_BACK_DAYS
from intake.models import IntakeFile

logger = logging.getLogger(__name__)

UNFINISHED = (ContactList.Status.PENDING, ContactList.Status.IMPORTING)


class _AlreadyLinked(Exception):
    """Another poller linked a contact list to this file first; ours is rolled back."""


def network_timeout() -> float:
    return settings.INTAKE_NETWORK_TIMEOUT


def claim_stale_after() -> datetime.timedelta:
    """A mail or file claimed this long ago by a poller that never finished is taken over."""
    return datetime.timedelta(seconds=settings.INTAKE_STALE_SECONDS)


def poll_record(channel, stats: dict) -> dict:
    """Stamp a mailbox's or folder's last poll, with the error that stopped it (empty if none)."""
    type(channel).objects.filter(pk=channel.pk).update(last_polled_at=timezone.now(), last_error=stats["error"])
    return stats


def intake_file_take(*, intake_file: IntakeFile, flow, source: str, open_file) -> bool:
    """Make (once) and import the file's contact list, then auto-launch it if the flow says so.

    `open_file()` returns a context manager giving the file's bytes; it is called only when no list
    exists yet. Returns False when the list is still being imported by someone else (try later)."""
    if intake_file.contact_list_id is None and not intake_file.refusal:
        _create_list(intake_file, flow, source, open_file)
        intake_file.refresh_from_db()
    contact_list = intake_file.contact_list
    if contact_list is None:
        return True
    if contact_list.status in UNFINISHED:
        contact_list = contact_list_import(contact_list_id=contact_list.pk)
        if contact_list.status in UNFINISHED:
            return False
    if flow.auto_launch:
        _launch(intake_file, contact_list)
    return True


def _create_list(intake_file: IntakeFile, flow, source: str, open_file) -> None:
    try:
        _create_list_from(intake_file, flow, source, open_file)
    except FileRefused as refusal:  # refused before its bytes were read (too large to download)
        IntakeFile.objects.filter(pk=intake_file.pk).update(refusal=refusal.message, flow=flow)


def _create_list_from(intake_file: IntakeFile, flow, source: str, open_file) -> None:
    with open_file() as fileobj:
        try:
            with transaction.atomic():
                try:
                    contact_list = contact_list_create(
                        flow=flow, fileobj=fileobj, filename=intake_file.filename, source=source
                    )
                except FileRefused as refusal:
                    contact_list = refusal.contact_list  # saved as refused, with its sentence
                    if contact_list is None:
                        IntakeFile.objects.filter(pk=intake_file.pk).update(refusal=refusal.message, flow=flow)
                        return
                linked = IntakeFile.objects.filter(pk=intake_file.pk, contact_list__isnull=True).update(
                    contact_list=contact_list, flow=flow
                )
                if linked != 1:
                    raise _AlreadyLinked
        except _AlreadyLinked:
            logger.warning("Intake file %s was linked by another poller; this one's copy is dropped.", intake_file.pk)
            return
    logger.info("Intake file %s (%s) became contact list %s", intake_file.pk, intake_file.filename, contact_list.pk)


def _launch(intake_file: IntakeFile, contact_list: ContactList) -> None:
    if intake_file.campaign_id or intake_file.launch_error:
        return
    if contact_list.status != ContactList.Status.IMPORTED:
        return
    with transaction.atomic():
        # The campaign and its link are committed together: a poller that dies before the commit
        # leaves neither, and the next one launches; one that dies after leaves both.
        existing = Campaign.objects.filter(contact_list=contact_list).order_by("pk").first()
        if existing is not None:
            IntakeFile.objects.filter(pk=intake_file.pk).update(campaign=existing)
            return
        try:
            with transaction.atomic():
                # The review's default, as on the pages: contacts called within the look-back are skipped.
                campaign = campaign_launch(contact_list=contact_list, start_at=contact_list.common_start_at,
                                           skip_called_days=DEFAULT_LOOK_BACK_DAYS)
        except ActionRefused as error:
            IntakeFile.objects.filter(pk=intake_file.pk).update(launch_error=str(error))
            logger.info("Intake file %s not launched: %s", intake_file.pk, error)
            return
        IntakeFile.objects.filter(pk=intake_file.pk).update(campaign=campaign)
    logger.info("Contact list %s launched as campaign %s (auto-launch)", contact_list.pk, campaign.pk)
