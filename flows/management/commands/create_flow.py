"""Create or update a flow; the security-id comes from a file or the environment, off the command line."""

import json
import os
import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from flows.services import flow_upsert


class Command(BaseCommand):
    help = "Create or update a flow (idempotent). Prints {\"flow_id\": ..., \"created\": true|false}."

    def add_arguments(self, parser):
        parser.add_argument("--flow-id", required=True)
        # On the command line the secret lands in shell history and in `ps`: prefer the file (or `-`
        # for standard input) or PHONON_SECURITY_ID; the flag stays for existing scripts.
        secret = parser.add_mutually_exclusive_group()
        secret.add_argument("--security-id", help="Discouraged: visible in shell history and `ps`.")
        secret.add_argument("--security-id-file", type=Path, metavar="FILE",
                            help="File holding the security-id (`-`: standard input).")
        parser.add_argument("--kind", choices=["multicast", "dialer"], default="multicast")
        parser.add_argument("--mode", choices=["realtime", "bulk"], default="realtime")
        parser.add_argument("--api-version", choices=["1.0", "TEST"], default="1.0")
        parser.add_argument("--encrypted", action="store_true")
        parser.add_argument("--public-key", type=Path, help="PEM file of the provider's RSA public key.")
        parser.add_argument("--profile", choices=["oaep-gcm", "pkcs1-cbc", "pkcs1-ecb"], default="oaep-gcm")
        parser.add_argument("--did", action="append", default=[], dest="dids", metavar="NUMBER")
        parser.add_argument("--account", default="default", help="The provider client ID of the account.")
        parser.add_argument("--name", default="")

    def _refuse(self, sentence: str):
        self.stdout.write(json.dumps({"error": sentence}))
        raise SystemExit(1)

    def _security_id(self, options) -> str:
        if options["security_id"] is not None:
            return options["security_id"]
        if options["security_id_file"] is not None:
            source = options["security_id_file"]
            try:
                text = sys.stdin.read() if str(source) == "-" else source.read_text()
            except OSError as error:
                self._refuse(f"Cannot read the security-id file: {error.strerror}.")
            # Only the line break an editor or `echo` adds is dropped; inner spaces are the secret's.
            return text.rstrip("\r\n")
        return os.environ.get("PHONON_SECURITY_ID", "")

    def handle(self, *args, **options):
        security_id = self._security_id(options)
        if not security_id:
            self._refuse("Give the security-id with --security-id-file FILE or PHONON_SECURITY_ID.")
        public_key = ""
        if options["public_key"]:
            try:
                public_key = options["public_key"].read_text()
            except OSError as error:
                raise CommandError(f"Cannot read the public key file: {error.strerror}.") from error
        try:
            flow, created = flow_upsert(
                flow_id=options["flow_id"], security_id=security_id, kind=options["kind"],
                mode=options["mode"], api_version=options["api_version"], encrypted=options["encrypted"],
                public_key_pem=public_key, encryption_profile=options["profile"], dids=options["dids"],
                account_client_id=options["account"], name=options["name"],
            )
        except ValidationError as error:
            self._refuse("; ".join(error.messages))
        self.stdout.write(json.dumps({"flow_id": flow.flow_id, "created": created}))
