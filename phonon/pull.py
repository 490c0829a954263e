"""The Pull API v2 (PHONON_API.md, "After the call"): the request body, the answer read, and what
each answer means, in words. No Django here.

Our copy of the provider's page is cut after `data`: each entry is read as carrying the same
call details as a pushed report (phonon.reports.parse_entry), an assumption kept here.
"""

import json
from dataclasses import dataclass, field

import requests

from phonon import client

NO_DATA_AVAILABLE = 213
SIZE_EXCEEDED_MESSAGE = "Max Data List Size Exceeded"


@dataclass
class PullAnswer:
    kind: str  # "data" | "no_data" | "too_many" | "refused" | "failed"
    http_status: int | None = None
    code: int | None = None
    message: str = ""
    data: list[dict] = field(default_factory=list)

    @property
    def words(self) -> str:
        if self.kind == "data":
            return f"{len(self.data)} report(s) fetched."
        if self.kind == "no_data":
            return "213 No Data Available: the provider has nothing for these calls yet; they are asked again later."
        if self.kind == "too_many":
            return (
                f'"{SIZE_EXCEEDED_MESSAGE}": the provider takes fewer uuids per request than PHONON_PULL_MAX_UUIDS; '
                "the requests are made smaller, and the setting should be lowered."
            )
        if self.kind == "refused":
            return f"The Pull API refused the request: {self.code} {self.message}".strip()
        return f"The Pull API failed: {self.message}"


def request_body(*, security_id: str, flow_id: str, uuids: list[str], fetch_attempt: str = "ALL") -> bytes:
    return json.dumps(
        {"security-id": security_id, "flow-id": flow_id, "phonon-uuids": uuids, "fetch-attempt": fetch_attempt}
    ).encode()


def pull(url: str, body: bytes, *, connect_timeout: float, read_timeout: float) -> PullAnswer:
    try:
        response = client.session().post(
            url,
            data=body,
            timeout=(connect_timeout, read_timeout),
            headers={"Content-Type": "application/json"},
            **client.environment(url),
        )
    except requests.RequestException as error:
        return PullAnswer("failed", message=f"{type(error).__name__} reaching the Pull API.")
    try:
        payload = json.loads(response.content)
        code = int(payload["api-response-code"]) if "api-response-code" in payload else None
    except (ValueError, TypeError, KeyError, AttributeError):
        return PullAnswer("failed", response.status_code, message=f"HTTP {response.status_code}, no readable answer.")
    message = str(payload.get("api-response-message") or "")
    if SIZE_EXCEEDED_MESSAGE.lower() in message.lower():
        return PullAnswer("too_many", response.status_code, code, message)
    if response.status_code >= 500 or response.status_code == 429 or code == 500:
        return PullAnswer("failed", response.status_code, code, message or f"HTTP {response.status_code}")
    if code == NO_DATA_AVAILABLE:
        return PullAnswer("no_data", response.status_code, code, message)
    if code == 200:
        data = payload.get("data") or []
        return PullAnswer(
            "data",
            response.status_code,
            code,
            message,
            [entry for entry in data if isinstance(entry, dict)] if isinstance(data, list) else [],
        )
    return PullAnswer("refused", response.status_code, code, message)
