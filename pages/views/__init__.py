"""The campaign manager's pages: dashboard, flows, call lists, campaigns.

Every view is wrapped in `page`: it needs a login, and renders times in the provider's zone.
Objects are always fetched through pages.access, so another account's object is a 404.
"""

import functools
import io
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.utils import timezone


def page(view):
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            if getattr(request, "htmx", False):
                # A poll from a page whose session ended: send the whole page to the login, rather
                # than swap the login form into a fragment.
                current = urlsplit(request.htmx.current_url or "").path or request.path
                response = HttpResponse()
                response["HX-Redirect"] = redirect_to_login(current)["Location"]
                return response
            return redirect_to_login(request.get_full_path())
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
