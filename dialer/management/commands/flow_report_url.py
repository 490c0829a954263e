"""`flow_report_url --flow-id ID [--rotate]`: the address the provider pushes the flow's delivery
reports to; --rotate gives it a new secret first (the old address is refused from then on)."""

from core.json_command import JsonCommand
from flows.models import Flow
from flows.services import flow_report_token_rotate, flow_report_url


class Command(JsonCommand):
    help = "Print the flow's delivery-report URL (give it to the provider); --rotate replaces its secret."

    def add_arguments(self, parser):
        parser.add_argument("--flow-id", required=True)
        parser.add_argument("--rotate", action="store_true", help="Give the URL a new secret first.")

    def handle(self, *args, **options):
        flow = Flow.objects.filter(flow_id=options["flow_id"]).first()
        if flow is None:
            self.refuse(f"There is no flow {options['flow_id']}.")
        url = flow_report_token_rotate(flow=flow) if options["rotate"] else flow_report_url(flow)
        self.print_json({"flow_id": flow.flow_id, "report_url": url})
