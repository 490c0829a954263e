"""Every page needs a login (Django's LoginRequiredMiddleware), and an htmx poll from a page whose
session ended sends the whole page to the login, rather than swapping the login form into a fragment."""

from urllib.parse import urlsplit

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse


class LoginRequiredForPages(LoginRequiredMiddleware):
    def handle_no_permission(self, request, view_func):
        if getattr(request, "htmx", False):
            current = urlsplit(request.htmx.current_url or "").path or request.path
            response = HttpResponse()
            response["HX-Redirect"] = redirect_to_login(current)["Location"]
            return response
        return super().handle_no_permission(request, view_func)
