"""export_dnc (--account CLIENT_ID | --list NAME) [-o FILE]

Writes the list as CSV (number, source, reason, expires_on, added_by, created_at; in number order,
read in chunks) to FILE, or to stdout without -o. With -o it prints {"exported": N, "list": "...",
"file": "<path>"}. Refusals print {"error": "<one sentence>"} and exit with status 1.
"""

from pathlib import Path

from campaigns.donotcall.lists import dnc_list_choose, dnc_list_export_csv
from campaigns.management.commands.import_dnc import add_list_arguments
from core.json_command import JsonCommand


class Command(JsonCommand):
    help = "Export a do-not-call list as CSV."

    def add_arguments(self, parser):
        add_list_arguments(parser)
        parser.add_argument("-o", "--output", default="", help="File to write; stdout when absent.")

    def handle(self, *args, **options):
        try:
            dnc_list = dnc_list_choose(client_id=options["account"], name=options["list"])
        except ValueError as error:
            self.refuse(str(error))
        if not options["output"]:
            dnc_list_export_csv(dnc_list, self.stdout)
            return
        path = Path(options["output"])
        with path.open("w", newline="", encoding="utf-8") as out:
            count = dnc_list_export_csv(dnc_list, out)
        self.print_json({"exported": count, "list": dnc_list.name, "file": str(path.resolve())})
