"""The one place that talks to the provider: POST a frozen body, read the answer.

Transport trouble is returned, not raised, as an Answer whose `outcome` says what happened and
whether the request may have reached the provider. The provider's code is read from the body
whatever the HTTP status; an answer without a readable code keeps only its HTTP status.
"""

import datetime
import email.utils
import json
import math
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_netrc_auth

from phonon.codes import describe_http

PATHS = {
    "multicast": "/kairos-apis/outbound/create",
    "dialer": "/kairos-apis/outbounddialer/create",
    "dialer-encrypted": "/kairos-apis/enc/outbounddialer/create",
}

_local = threading.local()
# Statuses whose Retry-After we honour (RFC 9110: "come back later" and "overloaded").
RETRY_AFTER_STATUSES = (429, 503)
MAX_RETRY_AFTER = 24 * 3600.0  # a date years away is a provider's mistake, not a plan


def session() -> requests.Session:
    """One Session per thread, so connections to the provider are reused across batches."""
    if getattr(_local, "session", None) is None:
        s = requests.Session()
        s.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=8, max_retries=0))
        s.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=8, max_retries=0))
        s.headers.update({"Content-Type": "application/json", "Accept": "application/json"})
        # The environment (proxies, CA bundle, .netrc) is read once per URL by environment()
        # instead of on every request, where it cost half of requests' own time per batch.
        s.trust_env = False
        _local.session = s
    return _local.session


@lru_cache(maxsize=32)
def _environment(url: str) -> tuple[tuple, object, object]:
    settings = requests.Session().merge_environment_settings(url, {}, None, None, None)
    return tuple(settings["proxies"].items()), settings["verify"], get_netrc_auth(url)


def environment(url: str) -> dict:
    """What requests would take from the environment for this URL (HTTP(S)_PROXY and NO_PROXY,
    REQUESTS_CA_BUNDLE, .netrc), as keyword arguments of a request."""
    proxies, verify, auth = _environment(url)
    return {"proxies": dict(proxies), "verify": verify, "auth": auth}


def api_url(base: str, *, kind: str, encrypted: bool) -> str:
    """The endpoint for a flow of this kind under the host `base` (a setting, never a literal)."""
    if kind == "multicast":
        path = PATHS["multicast"]
    else:
        path = PATHS["dialer-encrypted"] if encrypted else PATHS["dialer"]
    return base.rstrip("/") + path


@dataclass
class Answer:
    outcome: str  # answered (a readable code, whatever the HTTP status) | timeout | connection_error | http_error
    maybe_delivered: bool
    http_status: int | None = None
    code: int | None = None
    message: str = ""
    request_id: str = ""
    call_details: list[dict] = field(default_factory=list)
    duration_ms: int = 0
    retry_after: float | None = None  # seconds the provider asked us to wait (429 and 503 only)


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header in seconds from now: delta-seconds or an HTTP-date; None if unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        seconds = (when - datetime.datetime.now(datetime.UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _read_code(content: bytes) -> tuple[int, dict] | None:
    """The provider's code and the whole payload, or None when the body holds no readable code."""
    try:
        payload = json.loads(content)
        return int(payload["api-response-code"]), payload
    except (ValueError, KeyError, TypeError, RecursionError):
        return None


def post(url: str, body: bytes, *, connect_timeout: float, read_timeout: float) -> Answer:
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        response = session().post(url, data=body, timeout=(connect_timeout, read_timeout), **environment(url))
    except requests.ConnectTimeout:
        return Answer("connection_error", False, message="Could not connect to the provider (timeout).",
                      duration_ms=elapsed())
    except requests.ReadTimeout:
        return Answer("timeout", True, message="The provider did not answer in time; the request may have arrived.",
                      duration_ms=elapsed())
    except requests.ConnectionError as error:
        # Refused before anything was sent is harmless; a reset after sending is not. We cannot
        # always tell them apart, so assume the request may have arrived.
        refused = "refused" in str(error).lower()
        return Answer("connection_error", not refused, message=f"Connection error: {type(error).__name__}.",
                      duration_ms=elapsed())
    except requests.RequestException as error:
        return Answer("connection_error", True, message=f"Request error: {type(error).__name__}.",
                      duration_ms=elapsed())
    status = response.status_code
    retry_after = retry_after_seconds(response.headers.get("Retry-After")) if status in RETRY_AFTER_STATUSES else None
    read = _read_code(response.content)
    if read is None:
        message = (
            "The provider's answer was not readable JSON." if status == 200 else describe_http(status)
        )
        return Answer("http_error", True, http_status=status, message=message, duration_ms=elapsed(),
                      retry_after=retry_after)
    code, payload = read
    details = payload.get("call-details") or []
    return Answer(
        "answered", True, http_status=status, code=code, message=str(payload.get("api-response-message", "")),
        request_id=str(payload.get("request-id") or ""),
        call_details=details if isinstance(details, list) else [], duration_ms=elapsed(), retry_after=retry_after,
    )
