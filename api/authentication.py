"""Who is calling: `Authorization: Api-Key <key>` names an account's key; request.auth is that key."""

from rest_framework import authentication, exceptions, permissions

from api.key_failures import api_key_checked
from api.keys import api_key_touch

KEYWORD = "Api-Key"
NO_KEY = "Send your API key in the Authorization header: Authorization: Api-Key <key>."


def presented_key(header: str) -> str | None:
    """The secret of an `Authorization: Api-Key <key>` header, or None for another scheme or none."""
    keyword, _, raw = header.partition(" ")
    return raw.strip() if keyword.lower() == KEYWORD.lower() else None  # schemes are case-insensitive (RFC 9110)


class AccountKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        raw = presented_key(authentication.get_authorization_header(request).decode("latin-1"))
        if raw is None:
            return None
        checked = api_key_checked(raw, request)
        if checked.wait_seconds:
            raise exceptions.Throttled(wait=checked.wait_seconds)
        api_key = checked.api_key
        if api_key is None:
            raise exceptions.AuthenticationFailed("The API key is unknown, revoked or expired.")
        api_key_touch(api_key=api_key)
        return (None, api_key)

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) without a key, naming the scheme to use.
        return KEYWORD


class HasAccountKey(permissions.BasePermission):
    message = NO_KEY

    def has_permission(self, request, view):
        return request.auth is not None
