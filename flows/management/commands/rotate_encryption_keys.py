"""`rotate_encryption_keys`: re-encrypt every secret at rest under the newest key."""

import json

from django.core.management.base import BaseCommand, CommandError

from core.encrypted_fields import secrets_not_under_newest_key, secrets_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field of every model under the newest FIELD_ENCRYPTION_KEYS key. "
        'Prints {"<app.Model>": {"rows": N, "rotated": N, "changed": N}, ...}. '
        "With --check, only counts the values the newest key alone cannot read (exit 1 if any)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument(
            "--check", action="store_true", help="Count values not under the newest key; change nothing."
        )

    def handle(self, *args, batch_size, check, **options):
        if check:
            stale = secrets_not_under_newest_key()
            self.stdout.write(json.dumps({"not_under_newest_key": stale}))
            if any(stale.values()):
                raise CommandError("Some secrets still need an older key: run rotate_encryption_keys first.")
            return
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        self.stdout.write(json.dumps(secrets_rotate(batch_size=batch_size)))
