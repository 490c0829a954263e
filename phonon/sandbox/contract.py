"""What the sandbox checks in a request, as PHONON_API.md says: paths, shapes, start times, calls."""

from __future__ import annotations

import re
from datetime import datetime

from phonon import limits
from phonon.codes import ResponseCode

API_VERSIONS = frozenset(limits.API_VERSIONS)
MAX_CALLS = limits.MAX_CALLS_PER_REQUEST
MAX_NUMBERS = limits.MAX_NUMBERS_PER_CALL
MAX_BODY_BYTES = 16 * 1024 * 1024
ENDPOINTS = limits.ENDPOINTS
KINDS = ("multicast", "dialer")
API_PATHS = {
    "/kairos-apis/outbound/create": "multicast",
    "/kairos-apis/outbounddialer/create": "dialer",
    "/kairos-apis/enc/outbounddialer/create": "encrypted",
}
MANDATORY = ("api-version", "security-id", "flow-id", "calls")

FLOW_ID = limits.FLOW_ID_PATTERN
NUMBER = re.compile(r"[0-9]{8,15}")
KEY_NAME = re.compile(r"\$flow\.key\.[A-Za-z0-9_]+")
START_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)

DROP_NUMBER = ResponseCode.INVALID_CONTACT_NUMBER
DROP_OTHER = ResponseCode.INVALID_MANDATORY_PARAMETERS


def error_body(code: int) -> dict:
    return {"api-response-code": int(code), "api-response-message": ResponseCode(code).message}


def check_call_shapes(calls: list) -> int | None:
    """Problems that refuse the whole request: a call that is not an object, a bad start-time."""
    verdicts: dict[str, int | None] = {}
    for call in calls:
        if not isinstance(call, dict):
            return ResponseCode.INVALID_FORMAT
        start_time = call.get("start-time")
        if start_time is None:
            continue
        if not isinstance(start_time, str):
            return ResponseCode.INVALID_FORMAT
        if start_time not in verdicts:
            verdicts[start_time] = _start_time_problem(start_time)
        if verdicts[start_time]:
            return verdicts[start_time]
    return None


def _start_time_problem(value: str) -> int | None:
    if not START_TIME.fullmatch(value):
        return ResponseCode.INVALID_FORMAT
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return ResponseCode.INVALID_FORMAT
    if moment.date() < datetime.now(moment.tzinfo).date():
        return ResponseCode.INVALID_MANDATORY_PARAMETERS
    return None


def call_problem(call: dict) -> int | None:
    """Why one call is dropped, or None."""
    client_id = call.get("client-identifier")
    numbers = call.get("contact-numbers")
    if not isinstance(client_id, str) or not client_id or numbers is None or numbers == []:
        return DROP_OTHER
    if not isinstance(numbers, list) or len(numbers) > MAX_NUMBERS:
        return DROP_NUMBER
    for number in numbers:
        if not isinstance(number, str) or not NUMBER.fullmatch(number):
            return DROP_NUMBER
    keys = call.get("keys")
    if keys is None:
        return None
    if not isinstance(keys, list):
        return DROP_OTHER
    for key in keys:
        if not isinstance(key, dict) or len(key) != 2 or not isinstance(key.get("value"), str):
            return DROP_OTHER
        name = key.get("name")
        if not isinstance(name, str) or not KEY_NAME.fullmatch(name):
            return DROP_OTHER
    return None


def route(path: str) -> tuple[str, str] | None:
    """`(endpoint, api)` for an API path, e.g. ("bulk", "multicast"), or None."""
    endpoint = "realtime"
    for prefix in ENDPOINTS:
        if path.startswith(f"/{prefix}/"):
            endpoint, path = prefix, path[len(prefix) + 1 :]
            break
    api = API_PATHS.get(path)
    return (endpoint, api) if api else None
