"""Login lockout (django-axes): who a failed login is counted against, and the page that says to wait."""

from django.conf import settings
from django.shortcuts import render

from core.client_address import client_address


def client_ip(request) -> str | None:
    """The address a login came from (X-Forwarded-For only from TRUSTED_PROXIES: core/client_address.py)."""
    return client_address(request)


def lockout_response(request, original_response=None, credentials=None):
    """429 and a page telling the user how long to wait; the same for the site and the admin login."""
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
