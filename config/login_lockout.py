"""Login lockout (django-axes): who a failed login is counted against, and the page that says to wait."""

from django.conf import settings
from django.shortcuts import render


def client_ip(request) -> str | None:
    """The address a login came from: behind TRUSTED_PROXY_COUNT proxies, the one the outermost saw.

    Each proxy appends the address it was connected from to X-Forwarded-For, so the entry that many
    places from the right was written by our own proxy; entries further left are the client's word.
    """
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    count = settings.TRUSTED_PROXY_COUNT
    if count and len(forwarded) >= count:
        return forwarded[-count]
    return request.META.get("REMOTE_ADDR")


def lockout_response(request, original_response=None, credentials=None):
    """429 and a page telling the user how long to wait; the same for the site and the admin login."""
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
