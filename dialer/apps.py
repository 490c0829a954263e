"""The dialer app."""

from django.apps import AppConfig


class DialerConfig(AppConfig):
    name = "dialer"
    verbose_name = "Dispatch to the provider"
