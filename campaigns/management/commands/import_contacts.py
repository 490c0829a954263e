"""import_contacts FILE --flow ID [--name NAME] [--encoding ENC] [--start-now]

Imports synchronously and prints one JSON line:
    {"contact_list_id": 12, "imported": 1998, "rejected": 2, "report": "<path or null>"}
A file refused whole (or an unknown flow) prints {"error": "<one sentence>"} and exits with status 1.
"""

from pathlib import Path

from django.conf import settings

from campaigns.importing import FileRefused, contact_list_create, contact_list_import
from campaigns.models import ContactList
from campaigns.reports import rejected_rows_csv
from core.json_command import JsonCommand
from flows.models import Flow


class Command(JsonCommand):
    help = "Import a call list (.csv or .zip) for a flow and print the outcome as JSON."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--flow", required=True, help="The flow's flow-id (or its database id).")
        parser.add_argument("--name", default="")
        parser.add_argument("--encoding", default="", help="e.g. cp1252; empty: UTF-8, or UTF-16 by its BOM.")
        parser.add_argument("--start-now", action="store_true",
                            help="Take a file whose upload_ddMMyyyyHHmmss has passed, to call at once.")

    def handle(self, *args, **options):
        flow = Flow.objects.filter(flow_id=options["flow"]).first()
        if flow is None and options["flow"].isdigit():
            flow = Flow.objects.filter(pk=int(options["flow"])).first()
        if flow is None:
            self.refuse(f'No flow "{options["flow"]}" exists.')
        path = Path(options["file"])
        if not path.is_file():
            self.refuse(f'No file "{path}" exists.')
        try:
            with path.open("rb") as fileobj:
                contact_list = contact_list_create(
                    flow=flow,
                    fileobj=fileobj,
                    filename=path.name,
                    source=ContactList.Source.COMMAND,
                    name=options["name"],
                    encoding=options["encoding"],
                    start_now=options["start_now"],
                )
        except FileRefused as refusal:
            self.refuse(refusal.message)
        contact_list = contact_list_import(contact_list_id=contact_list.pk)
        if contact_list.status != ContactList.Status.IMPORTED:
            self.refuse(contact_list.error or f"The import did not finish (status {contact_list.status}).")
        report = None
        if contact_list.rejected_count:
            folder = Path(settings.MEDIA_ROOT) / "reports"
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            report_path = folder / f"contact-list-{contact_list.pk}-rejected.csv"
            with report_path.open("w", newline="", encoding="utf-8") as out:
                rejected_rows_csv(contact_list, out)
            report = str(report_path.resolve())
        self.print_json(
            {
                "contact_list_id": contact_list.pk,
                "imported": contact_list.imported_count,
                "rejected": contact_list.rejected_count,
                "report": report,
            }
        )
