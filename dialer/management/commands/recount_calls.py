"""`recount_calls [--campaign ID]`: rebuild the stored call tallies from the calls (a repair)."""

from campaigns.models import Campaign
from core.json_command import JsonCommand
from dialer.tallies import calls_recount


class Command(JsonCommand):
    help = "Rebuild the stored call counts the pages read from the calls themselves (safe while workers run)."

    def add_arguments(self, parser):
        parser.add_argument("--campaign", type=int, dest="campaign_id", help="Only this campaign (default: all).")

    def handle(self, *args, **options):
        campaign_id = options["campaign_id"]
        if campaign_id is not None and not Campaign.objects.filter(pk=campaign_id).exists():
            self.refuse(f"There is no campaign {campaign_id}.")
        recount = calls_recount(campaign_id=campaign_id)
        self.print_json({"campaign_id": campaign_id, "calls": recount.calls, "corrected": recount.corrected})
