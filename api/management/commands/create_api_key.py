"""manage.py create_api_key --account CLIENT_ID --name NAME: a key, printed once as JSON."""

import json

from django.core.management.base import BaseCommand

from api.keys import api_key_create
from flows.models import Account


def _fail(command, message):
    command.stdout.write(json.dumps({"error": message}))
    raise SystemExit(1)


class Command(BaseCommand):
    help = 'Create an API key for an account; prints {"key", "prefix", "account"} (the key is shown once).'

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="The account's provider client ID.")
        parser.add_argument("--name", required=True, help="Which system uses the key.")

    def handle(self, *args, **options):
        account = Account.objects.filter(client_id=options["account"]).first()
        if account is None:
            _fail(self, f"There is no account with client ID {options['account']!r}.")
        try:
            api_key, key = api_key_create(account=account, name=options["name"])
        except ValueError as error:
            _fail(self, str(error))
        self.stdout.write(json.dumps({"key": key, "prefix": api_key.prefix, "account": account.client_id}))
