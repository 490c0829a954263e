"""The OpenAPI schema's pieces that cannot be read off the code: the Api-Key scheme, and who may read it."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import permissions


class AccountKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.AccountKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey", "in": "header", "name": "Authorization",
            "description": "`Api-Key <key>`: a key created by a manager of the account (pages or create_api_key).",
        }


class KeyOrLogin(permissions.BasePermission):
    """The schema is for integrators (with a key) and for managers reading the docs page (logged in)."""

    def has_permission(self, request, view):
        return request.auth is not None or bool(request.user and request.user.is_authenticated)
