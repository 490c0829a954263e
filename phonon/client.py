"""The one place that talks to the provider: POST a frozen body, read the answer.

Transport trouble is returned, not raised, as an Answer whose `outcome` says what happened and
whether the request may have reached the provider.
"""

import json
import threading
import time
from dataclasses import dataclass, field

import requests
from requests.adapters import HTTPAdapter

PATHS = {
    "multicast": "/kairos-apis/outbound/create",
    "dialer": "/kairos-apis/outbounddialer/create",
    "dialer-encrypted": "/kairos-apis/enc/outbounddialer/create",
}

_local = threading.local()


def session() -> requests.Session:
    """One Session per thread, so connections to the provider are reused across batches."""
    if getattr(_local, "session", None) is None:
        s = requests.Session()
        s.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=8, max_retries=0))
        s.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=8, max_retries=0))
        s.headers.update({"Content-Type": "application/json", "Accept": "application/json"})
        _local.session = s
    return _local.session


def api_url(base: str, *, kind: str, encrypted: bool) -> str:
    """The endpoint for a flow of this kind under the host `base` (a setting, never a literal)."""
    if kind == "multicast":
        path = PATHS["multicast"]
    else:
        path = PATHS["dialer-encrypted"] if encrypted else PATHS["dialer"]
    return base.rstrip("/") + path


@dataclass
class Answer:
    outcome: str  # answered | timeout | connection_error | http_error
    maybe_delivered: bool
    http_status: int | None = None
    code: int | None = None
    message: str = ""
    request_id: str = ""
    call_details: list[dict] = field(default_factory=list)
    duration_ms: int = 0


def post(url: str, body: bytes, *, connect_timeout: float, read_timeout: float) -> Answer:
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        response = session().post(
            url, data=body, timeout=(connect_timeout, read_timeout)
        )
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
    if response.status_code != 200:
        return Answer("http_error", True, http_status=response.status_code,
                      message=f"HTTP {response.status_code} from the provider.", duration_ms=elapsed())
    try:
        payload = json.loads(response.content)
        code = int(payload["api-response-code"])
    except (ValueError, KeyError, TypeError):
        return Answer("http_error", True, http_status=200, message="The provider's answer was not readable JSON.",
                      duration_ms=elapsed())
    details = payload.get("call-details") or []
    return Answer(
        "answered", True, http_status=200, code=code, message=str(payload.get("api-response-message", "")),
        request_id=str(payload.get("request-id") or ""),
        call_details=details if isinstance(details, list) else [], duration_ms=elapsed(),
    )
