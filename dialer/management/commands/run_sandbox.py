"""`run_sandbox`: the sandbox provider on its own, until Ctrl-C."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from phonon.sandbox import serve


class Command(BaseCommand):
    help = "Run the sandbox provider (the stand-in for Phonon's API) until SIGTERM or Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=None, help="default: settings.SANDBOX_PORT")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--private-key",
            default=None,
            help="PEM file of the sandbox's RSA key; generated there when missing "
            "(default: var/sandbox_private_key.pem)",
        )
        parser.add_argument("--faults", default=None, help='fault settings as JSON, e.g. {"error_500": 0.1}')
        parser.add_argument("--log-requests", action="store_true", help="log every request to stderr")

    def handle(self, *args, port, host, private_key, faults, log_requests, **options):
        try:
            faults = json.loads(faults) if faults else None
        except ValueError as error:
            raise CommandError(f"--faults is not JSON: {error}") from error
        key_path = Path(private_key) if private_key else Path(settings.BASE_DIR) / "var" / "sandbox_private_key.pem"

        def announce(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        try:
            serve(
                host=host,
                port=settings.SANDBOX_PORT if port is None else port,
                key_path=key_path,
                faults=faults,
                verbose=log_requests,
                announce=announce,
            )
        except (ValueError, OSError) as error:
            raise CommandError(str(error)) from error
