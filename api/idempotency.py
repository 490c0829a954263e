"""Safe retries: a POST with an Idempotency-Key gets the first answer again (same key, same body), or
a 422 (same key, another body), for API_IDEMPOTENCY_HOURS. Keys are scoped to the account, whichever
of its API keys sends them.

The key is claimed by inserting its row before the request is handled: of two requests racing
with one key, the unique constraint lets one in and tells the other to wait (409). An answer of 5xx
is not kept, so a retry after a server failure runs again.
"""

import datetime
import hashlib
import json

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from rest_framework import status

from api.models import IdempotentRequest
from api.problems import Problem

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = IdempotentRequest._meta.get_field("key").max_length
# A first request still unanswered after this long died with its worker; a repeat may run again.
ABANDONED_AFTER = datetime.timedelta(minutes=10)
KEPT_HEADERS = ("Content-Type", "Location")


class Replay(Exception):
    """Raised to answer with the stored response instead of running the view."""

    def __init__(self, response: HttpResponse):
        super().__init__("replay")
        self.response = response


def request_fingerprint(request) -> str:
    """SHA-256 of the method, path and parsed body (uploaded files by their content), so that the
    same form sent again with another multipart boundary still counts as the same body."""
    data = request.data
    if hasattr(data, "lists"):
        fields = {key: values for key, values in data.lists() if key not in request.FILES}
    else:
        fields = data
    files = {}
    for name, upload in request.FILES.items():
        digest = hashlib.sha256()
        for chunk in upload.chunks():
            digest.update(chunk)
        upload.seek(0)
        files[name] = [upload.name, digest.hexdigest()]
    canonical = json.dumps(
        [request.method, request.path, request.query_params.urlencode(), fields, files],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_begin(*, request) -> IdempotentRequest | None:
    """Claim the request's key, or raise Replay / a Problem; None when no key was sent."""
    if request.method != "POST" or HEADER not in request.headers:
        return None
    key = request.headers[HEADER].strip()
    if not key:
        raise Problem(
            f"An {HEADER} is 1 to {MAX_KEY_LENGTH} characters; leave the header out to send none.",
            status_code=400,
            code="invalid",
            field=HEADER,
        )
    if len(key) > MAX_KEY_LENGTH:
        raise Problem(
            f"An {HEADER} is at most {MAX_KEY_LENGTH} characters.", status_code=400, code="invalid", field=HEADER
        )
    api_key, now = request.auth, timezone.now()
    account_id = api_key.account_id
    fingerprint = request_fingerprint(request)
    IdempotentRequest.objects.filter(
        account_id=account_id, created_at__lt=now - datetime.timedelta(hours=settings.API_IDEMPOTENCY_HOURS)
    ).delete()
    try:
        with transaction.atomic():
            return IdempotentRequest.objects.create(
                account_id=account_id, api_key=api_key, key=key, fingerprint=fingerprint, created_at=now
            )
    except IntegrityError:
        pass
    first = IdempotentRequest.objects.filter(account_id=account_id, key=key).first()
    if first is None:  # expired and deleted between the two statements: start afresh
        return idempotency_begin(request=request)
    if first.fingerprint != fingerprint:
        raise Problem(
            f"This {HEADER} was used with another request body; use a new key for a new request.",
            status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
            code="idempotency_key_reused",
            field=HEADER,
        )
    if first.status_code is None:
        taken = IdempotentRequest.objects.filter(
            pk=first.pk, status_code__isnull=True, created_at__lt=now - ABANDONED_AFTER
        ).update(created_at=now)
        if taken:
            return first
        raise Problem(
            f"A request with this {HEADER} is still being handled; repeat it in a few seconds.",
            status_code=status.HTTP_409_CONFLICT,
            code="idempotency_key_in_use",
            field=HEADER,
        )
    response = HttpResponse(bytes(first.body), status=first.status_code)
    for name, value in first.headers.items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    raise Replay(response)


def idempotency_finish(*, record: IdempotentRequest, response) -> None:
    """Keep the answer for repeats; forget a 5xx so that a repeat runs again."""
    if response.status_code >= 500:
        IdempotentRequest.objects.filter(pk=record.pk).delete()
        return
    if hasattr(response, "render") and not response.is_rendered:
        response.render()
    headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
    IdempotentRequest.objects.filter(pk=record.pk).update(
        status_code=response.status_code, body=response.content, headers=headers
    )
