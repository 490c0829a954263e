"""import_dnc FILE (--account CLIENT_ID | --list NAME) [--replace | --remove] [--reason R] [--expires-on DATE]

Loads a CSV, TXT or ZIP of numbers (any size: a registry export is hundreds of MB) into an
account's own do-not-call list or a global one, and prints one JSON line:
    {"imported": 9998000, "rejected": 2000, "list": "National registry", "added": 120, "removed": 0,
     "entries": 9998000}
imported: valid numbers read; added/removed: the list's change; entries: the list's size after.
--replace makes the list hold exactly the file's numbers; --remove takes them off instead.
Refusals print {"error": "<one sentence>"} and exit with status 1.
"""

import datetime
from pathlib import Path

from campaigns.donotcall.lists import dnc_list_choose
from campaigns.donotcall.loading import dnc_file_load
from campaigns.models import DoNotCallEntry, DoNotCallUpload
from core.json_command import JsonCommand


def add_list_arguments(parser):
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--account", metavar="CLIENT_ID", help="The account's own list (by its provider client ID).")
    which.add_argument("--list", metavar="NAME", help="A global list, by its name.")


class Command(JsonCommand):
    help = "Load a file of numbers into a do-not-call list and print the outcome as JSON."

    def add_arguments(self, parser):
        parser.add_argument("file")
        add_list_arguments(parser)
        change = parser.add_mutually_exclusive_group()
        change.add_argument("--replace", action="store_true", help="The list holds exactly the file's numbers after.")
        change.add_argument("--remove", action="store_true", help="Take the file's numbers off the list.")
        parser.add_argument("--reason", default="", help="Recorded with every number added.")
        parser.add_argument("--expires-on", default="", help="YYYY-MM-DD: the numbers may be called again from then.")
        parser.add_argument("--source", choices=DoNotCallEntry.Source.values, default=DoNotCallEntry.Source.UPLOAD)

    def handle(self, *args, **options):
        try:
            dnc_list = dnc_list_choose(client_id=options["account"], name=options["list"])
        except ValueError as error:
            self.refuse(str(error))
        path = Path(options["file"])
        if not path.is_file():
            self.refuse(f'No file "{path}" exists.')
        expires_on = None
        if options["expires_on"]:
            try:
                expires_on = datetime.date.fromisoformat(options["expires_on"])
            except ValueError:
                self.refuse(f'--expires-on "{options["expires_on"]}" is not a date; write it as YYYY-MM-DD.')
        action = (
            DoNotCallUpload.Action.REPLACE if options["replace"]
            else DoNotCallUpload.Action.REMOVE if options["remove"] else DoNotCallUpload.Action.ADD
        )
        upload = dnc_file_load(
            dnc_list=dnc_list, path=path, action=action, reason=options["reason"], expires_on=expires_on,
            source=options["source"],
        )
        if upload.status != DoNotCallUpload.Status.DONE:
            self.refuse(upload.error or f"The load did not finish (status {upload.status}).")
        self.print_json(
            {
                "imported": upload.imported_count, "rejected": upload.rejected_count, "list": dnc_list.name,
                "added": upload.added_count, "removed": upload.removed_count,
                "entries": DoNotCallEntry.objects.filter(dnc_list=dnc_list).count(),
            }
        )
