"""`poll_intake`: poll every enabled mailbox and folder once, print what was done as JSON."""

import json
import logging

from django.core.management.base import BaseCommand

from intake.mailbox import mailbox_poll
from intake.models import MailIntake, SftpIntake
from intake.sftp import file_intake_poll

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Poll every enabled mailbox and SFTP/drop-folder intake once; print what each poll did as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--only", choices=["mail", "files"], help="Poll only the mailboxes or only the folders.")

    def handle(self, *args, **options):
        result = {"mailboxes": [], "file_intakes": []}
        if options["only"] != "files":
            for pk in MailIntake.objects.filter(enabled=True).order_by("pk").values_list("pk", flat=True):
                result["mailboxes"].append(self._poll(mailbox_poll, "mailbox", mailbox_id=pk))
        if options["only"] != "mail":
            for pk in SftpIntake.objects.filter(enabled=True).order_by("pk").values_list("pk", flat=True):
                result["file_intakes"].append(self._poll(file_intake_poll, "intake", intake_id=pk))
        self.stdout.write(json.dumps(result))

    def _poll(self, poll, key: str, **ids) -> dict:
        """One intake's poll; an error it could not handle itself is said, and the next intake is polled."""
        pk = next(iter(ids.values()))
        try:
            return poll(**ids)
        except Exception as error:
            logger.exception("Polling %s %s failed", key, pk)
            said = f"The poll failed ({type(error).__name__}); the next intake was polled."
            self.stderr.write(f"{key} {pk}: {said}")
            return {key: pk, "error": said}
