"""manage.py add_webhook --account CLIENT_ID --url URL [--event TYPE ...]: an endpoint and its secret."""

import json

from django.core.management.base import BaseCommand

from api.webhooks.endpoints import webhook_endpoint_create
from events.models import Event
from flows.models import Account


def _fail(command, message):
    command.stdout.write(json.dumps({"error": message}))
    raise SystemExit(1)


class Command(BaseCommand):
    help = 'Register a webhook endpoint; prints {"webhook_id", "secret"} (the secret is shown once).'

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="The account's provider client ID.")
        parser.add_argument("--url", required=True, help="https:// address that receives the events.")
        parser.add_argument(
            "--event", action="append", default=[], dest="events",
            help=f"An event type to send (repeat for more; all when none): {', '.join(Event.Type.values)}.",
        )

    def handle(self, *args, **options):
        account = Account.objects.filter(client_id=options["account"]).first()
        if account is None:
            _fail(self, f"There is no account with client ID {options['account']!r}.")
        try:
            endpoint, secret = webhook_endpoint_create(account=account, url=options["url"], events=options["events"])
        except ValueError as error:
            _fail(self, str(error))
        self.stdout.write(json.dumps({"webhook_id": endpoint.pk, "secret": secret}))
