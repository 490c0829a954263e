"""The api app: REST API, API keys and webhooks."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "API and webhooks"

    def ready(self):
        from api import schema  # noqa: F401, PLC0415 - in ready(): registers the Api-Key scheme once apps are loaded
