"""Errors as RFC 9457 problem details (application/problem+json), naming the fields at fault."""

import logging
from http import HTTPStatus

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, renderers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from api.authentication import NO_KEY

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/problem+json"
NOT_FOUND = "There is no such object for this API key's account."


class Problem(exceptions.APIException):
    """An answer in words from the services (a refused file, a refused transition): `field` names
    the request field it is about, when there is one."""

    def __init__(self, detail: str, *, status_code: int, code: str, field: str | None = None):
        super().__init__(detail, code)
        self.status_code = status_code
        self.field = field


def conflict(detail: str) -> Problem:
    return Problem(detail, status_code=status.HTTP_409_CONFLICT, code="conflict")


def unprocessable(detail: str, field: str | None = None) -> Problem:
    return Problem(detail, status_code=status.HTTP_422_UNPROCESSABLE_ENTITY, code="unprocessable", field=field)


def _flatten(detail, path=""):
    """DRF's nested error dict/list as [{"field": "rows[3].tel1", "detail": "..."}]."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key in ("non_field_errors", "__all__"):
                name = path
            elif isinstance(key, int):  # a ListField's errors come keyed by index
                name = f"{path}[{key}]"
            else:
                name = f"{path}.{key}" if path else str(key)
            yield from _flatten(value, name)
    elif isinstance(detail, list) and detail and not all(isinstance(item, str) for item in detail):
        for index, value in enumerate(detail):
            yield from _flatten(value, f"{path}[{index}]") if isinstance(value, dict | list) else _flatten(value, path)
    elif isinstance(detail, list):
        for message in detail:
            yield {"field": path or None, "detail": str(message)}
    else:
        yield {"field": path or None, "detail": str(detail)}


def problem_body(*, status_code: int, detail: str, code: str, instance: str) -> dict:
    return {
        "type": "about:blank",
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
        "code": code,
        "instance": instance,
    }


def problem_response(*, status_code: int, detail: str, code: str, instance: str, errors=None, headers=None):
    body = problem_body(status_code=status_code, detail=detail, code=code, instance=instance)
    if errors:
        body["errors"] = errors
    return Response(body, status=status_code, headers=headers, content_type=CONTENT_TYPE)


def problem_exception_handler(exc, context):
    request = context.get("request")
    instance = request.path if request is not None else ""
    if request is not None:
        # A problem is JSON whatever the view renders otherwise (the schema's YAML, a CSV download).
        request.accepted_renderer = renderers.JSONRenderer()
        request.accepted_media_type = CONTENT_TYPE
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(NOT_FOUND)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        log.exception("API request %s failed", instance, exc_info=exc)
        return problem_response(
            status_code=500,
            detail="The server failed to answer; try again later.",
            code="server_error",
            instance=instance,
        )
    headers = {name: value for name, value in response.items() if name in ("Retry-After", "WWW-Authenticate")}
    if isinstance(exc, exceptions.ValidationError):
        errors = list(_flatten(exc.detail))
        count = len(errors)
        many = f"The request has {count} errors, each listed with its field."
        detail = errors[0]["detail"] if count == 1 else many
        return problem_response(
            status_code=response.status_code,
            detail=detail,
            code="invalid",
            instance=instance,
            errors=errors,
            headers=headers,
        )
    errors = [{"field": exc.field, "detail": str(exc.detail)}] if getattr(exc, "field", None) else None
    if isinstance(exc, exceptions.Throttled):
        detail = (
            f"Too many requests with this API key; try again in {exc.wait:.0f} seconds."
            if exc.wait
            else str(exc.detail)
        )
    elif isinstance(exc, exceptions.NotAuthenticated):
        detail = NO_KEY
    else:
        detail = str(exc.detail)
    code = exc.get_codes() if isinstance(exc.get_codes(), str) else "error"
    return problem_response(
        status_code=response.status_code, detail=detail, code=code, instance=instance, errors=errors, headers=headers
    )
