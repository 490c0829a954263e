"""The manner of every management command (DESIGN.md): one JSON object on stdout; a refusal prints
`{"error": "<one sentence>"}` and exits with status 1."""

import json

from django.core.management.base import BaseCommand


class JsonCommand(BaseCommand):
    def print_json(self, data: dict) -> None:
        self.stdout.write(json.dumps(data))

    def refuse(self, message: str):
        self.print_json({"error": message})
        raise SystemExit(1)
