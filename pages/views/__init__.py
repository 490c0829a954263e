"""The campaign manager's pages: dashboard, flows, call lists, campaigns.

A login is needed everywhere (pages.login_required, in MIDDLEWARE); every view is wrapped in
`page`, which renders times in the provider's zone.
Objects are always fetched through campaigns.access, so another account's object is a 404.
"""

import functools
import io

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone


def page(view):
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        with timezone.override(settings.PHONON_TIMEZONE):
            return view(request, *args, **kwargs)

    return wrapped


def csv_attachment(filename: str, write, *args) -> HttpResponse:
    """A CSV download: `write(*args, out)` fills it."""
    out = io.StringIO()
    write(*args, out)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
