"""Who is calling: `Authorization: Api-Key <key>` names an account's key; request.auth is that key."""

from rest_framework import authentication, exceptions, permissions

from api.keys import api_key_find, api_key_touch

KEYWORD = "Api-Key"
NO_KEY = "Send your API key in the Authorization header: Authorization: Api-Key <key>."


class AccountKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        keyword, _, raw = header.partition(" ")
        if keyword != KEYWORD:
            return None
        api_key = api_key_find(raw.strip())
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
