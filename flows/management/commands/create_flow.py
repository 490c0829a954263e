import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from flows.services import flow_upsert


class Command(BaseCommand):
    help = "Create or update a flow (idempotent). Prints {\"flow_id\": ..., \"created\": true|false}."

    def add_arguments(self, parser):
        parser.add_argument("--flow-id", required=True)
        parser.add_argument("--security-id", required=True)
        parser.add_argument("--kind", choices=["multicast", "dialer"], default="multicast")
        parser.add_argument("--mode", choices=["realtime", "bulk"], default="realtime")
        parser.add_argument("--api-version", choices=["1.0", "TEST"], default="1.0")
        parser.add_argument("--encrypted", action="store_true")
        parser.add_argument("--public-key", type=Path, help="PEM file of the provider's RSA public key.")
        parser.add_argument("--profile", choices=["oaep-gcm", "pkcs1-cbc", "pkcs1-ecb"], default="oaep-gcm")
        parser.add_argument("--did", action="append", default=[], dest="dids", metavar="NUMBER")
        parser.add_argument("--account", default="default", help="The provider client ID of the account.")
        parser.add_argument("--name", default="")

    def handle(self, *args, **options):
        public_key = ""
        if options["public_key"]:
            try:
                public_key = options["public_key"].read_text()
            except OSError as error:
                raise CommandError(f"Cannot read the public key file: {error.strerror}.") from error
        try:
            flow, created = flow_upsert(
                flow_id=options["flow_id"], security_id=options["security_id"], kind=options["kind"],
                mode=options["mode"], api_version=options["api_version"], encrypted=options["encrypted"],
                public_key_pem=public_key, encryption_profile=options["profile"], dids=options["dids"],
                account_client_id=options["account"], name=options["name"],
            )
        except ValidationError as error:
            messages = "; ".join(error.messages)
            self.stdout.write(json.dumps({"error": messages}))
            raise SystemExit(1) from error
        self.stdout.write(json.dumps({"flow_id": flow.flow_id, "created": created}))
