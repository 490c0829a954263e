"""export_results CAMPAIGN_ID [-o FILE]: the campaign's calls as CSV (stdout without -o)."""

from django.core.management.base import BaseCommand, CommandError

from campaigns.models import Campaign
from dialer.results import export_results_csv


class Command(BaseCommand):
    help = "Write a campaign's per-call results as CSV."

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=int)
        parser.add_argument("-o", "--output", default=None, help="File to write; stdout when omitted.")
        parser.add_argument("--attempts", action="store_true",
                            help="One row per call (every redial too, with its attempt number) instead of "
                            "one row per contact.")

    def handle(self, *args, **options):
        campaign = Campaign.objects.filter(pk=options["campaign_id"]).first()
        if campaign is None:
            raise CommandError(f"No campaign {options['campaign_id']} exists.")
        if options["output"]:
            with open(options["output"], "w", newline="", encoding="utf-8") as out:
                export_results_csv(campaign, out, every_attempt=options["attempts"])
        else:
            export_results_csv(campaign, self.stdout, every_attempt=options["attempts"])
