"""`poll_intake`: poll every enabled mailbox and folder once, print what was done as JSON."""

import json

from django.core.management.base import BaseCommand

from intake.mailbox import mailbox_poll
from intake.models import MailIntake, SftpIntake
from intake.sftp import file_intake_poll


class Command(BaseCommand):
    help = "Poll every enabled mailbox and SFTP/drop-folder intake once; print what each poll did as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--only", choices=["mail", "files"], help="Poll only the mailboxes or only the folders.")

    def handle(self, *args, **options):
        result = {"mailboxes": [], "file_intakes": []}
        if options["only"] != "files":
            for pk in MailIntake.objects.filter(enabled=True).order_by("pk").values_list("pk", flat=True):
                result["mailboxes"].append(mailbox_poll(mailbox_id=pk))
        if options["only"] != "mail":
            for pk in SftpIntake.objects.filter(enabled=True).order_by("pk").values_list("pk", flat=True):
                result["file_intakes"].append(file_intake_poll(intake_id=pk))
        self.stdout.write(json.dumps(result))
