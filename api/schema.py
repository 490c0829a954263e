"""The OpenAPI schema's pieces that cannot be read off the code: the Api-Key scheme, who may read it,
and what every operation may answer besides its success (problems, Idempotency-Key, Retry-After)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import permissions

from api.idempotency import HEADER as IDEMPOTENCY_HEADER
from api.idempotency import MAX_KEY_LENGTH
from api.problems import CONTENT_TYPE as PROBLEM_TYPE

# A string a request may carry: DRF refuses a NUL character in any of them.
NO_NUL = "^[^\\u0000]*$"

PROBLEM_WHEN = {
    "400": "A field, header or query parameter is missing or malformed (`errors` names each).",
    "401": "No key, or an unknown, revoked or expired key.",
    "404": "No such object in the key's account.",
    "409": "The object's state refuses the action, or the Idempotency-Key is in use by a request still running.",
    "413": "The body is larger than this operation accepts.",
    "415": "The body's Content-Type is not one this operation reads.",
    "422": "Refused by the rules (the detail says which), or an Idempotency-Key reused with another body.",
    "429": "Too many requests with this key; wait Retry-After seconds.",
}
PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details; `errors` names each field at fault.",
    "required": ["type", "title", "status", "detail", "code", "instance"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "detail"],
                "properties": {"field": {"type": "string", "nullable": True}, "detail": {"type": "string"}},
            },
        },
    },
}


class AccountKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.AccountKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>` (the scheme's name in any case): a key created by a manager of the "
            "account (pages or create_api_key).",
        }


class KeyOrLogin(permissions.BasePermission):
    """The schema is for integrators (with a key) and for managers reading the docs page (logged in)."""

    def has_permission(self, request, view):
        return request.auth is not None or bool(request.user and request.user.is_authenticated)


def _problem(status: str) -> dict:
    answer = {
        "description": PROBLEM_WHEN[status],
        "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if status == "429":
        answer["headers"] = {"Retry-After": {"required": True, "schema": {"type": "integer"}}}
    if status == "401":
        answer["headers"] = {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}}
    return answer


def _problems_of(path: str, method: str, operation: dict) -> list[str]:
    statuses = ["400", "401", "429"]
    if "{" in path:
        statuses.append("404")
    if method == "post":
        statuses += ["409", "413", "415", "422"]
    return [status for status in statuses if status not in operation["responses"]]


def _no_nul_strings(schema: dict) -> None:
    """Request strings refuse a NUL (DRF's CharField does): say so, so that generated clients agree."""
    for prop in schema.get("properties", {}).values():
        for string in (prop, prop.get("items", {})):
            if string.get("type") == "string" and not ({"format", "enum", "pattern"} & string.keys()):
                string["pattern"] = NO_NUL


def document_problems_and_headers(result, generator, request, public):
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for name, schema in components.items():
        if name.endswith("Request"):
            _no_nul_strings(schema)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            for status in _problems_of(path, method, operation):
                operation["responses"][status] = _problem(status)
            if method == "post":
                operation.setdefault("parameters", []).append(
                    {
                        "in": "header",
                        "name": IDEMPOTENCY_HEADER,
                        "required": False,
                        "description": "Repeats with the same key and body get the first answer again for 24 hours "
                        "(`Idempotent-Replayed: true`); scoped to the key's account.",
                        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "\\S"},
                    }
                )
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter["in"] == "path" and schema.get("type") == "integer":
                    schema["minimum"] = 1  # ids are the database's, from 1
                if (
                    parameter["in"] == "query"
                    and schema.get("type") == "string"
                    and not ({"format", "enum", "pattern"} & schema.keys())
                ):
                    schema["pattern"] = NO_NUL
    return result
