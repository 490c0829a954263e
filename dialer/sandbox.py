"""The sandbox provider: a real HTTP server that speaks the Phonon Kairos outbound API
(PHONON_API.md) on a loopback port, for the tests, the benchmarks and `make run`.

It imports no Django models and needs no settings, so it also runs on its own:
`python -m dialer.sandbox --port 8765` (or `manage.py run_sandbox`).

Routing. A path prefix names the provider host: `/realtime/...` or `/bulk/...` (no prefix means
real time). Under each, `POST` to `/kairos-apis/outbound/create` (multicast flows),
`/kairos-apis/outbounddialer/create` (dialer flows) and `/kairos-apis/enc/outbounddialer/create`
(dialer flows, encrypted envelope). Provider codes always travel with HTTP 200; HTTP 429 comes
only as an injected fault; unknown paths get HTTP 404, known paths with the wrong method 405.

Validation, in this order (the first failing check answers; nothing is accepted unless noted):

 1. 400 body not JSON, not an object, or a top-level field of the wrong type; encrypted
    endpoint: envelope not an object, values not base64, not decryptable with the sandbox's
    key (wrong public key, tampering), or the plaintext is not a JSON object.
 2. 210 `api-version`, `security-id`, `flow-id` or `calls` missing (or an empty string);
    encrypted endpoint: the envelope's `flow-id` differs from the plaintext's.
 3. 201 the same body was accepted before (SHA-256 of the raw bytes; for the encrypted
    endpoint, of the raw envelope or of the decrypted plaintext). Only bodies whose calls were
    accepted (200/209) are remembered, so a 201 always means "accepted earlier", and a resend
    after a 500, a 429 or a reset before acceptance is processed afresh.
 4. 203 `api-version` is neither "1.0" nor "TEST".
 5. 301 `flow-id` is not exactly 8 ASCII letters/digits; or, when any flow is registered, the
    flow is unknown or its kind does not match the endpoint (multicast flow on a dialer path or
    the other way round; the encrypted endpoint is a dialer endpoint).
    With an empty registry the sandbox is open: any well-formed flow-id and security-id pass,
    and checks 6-10 and 14-15 do not apply.
 6. 202 wrong `security-id`.
 7. 401 the flow has `allowed_ips` and the client's address is not among them.
 8. 304 the flow has no version for the `api-version` sent.
 9. 207 the flow was registered with an empty DID list (`dids=None`, the default, means "mapped").
10. 211 the flow is expired.
11. 302 `calls` is empty; 303 it holds more than 500 calls.
12. 400 a call is not an object, or its `start-time` is not ISO-8601 with an offset
    (`YYYY-MM-DDTHH:MM:SS[.ffffff]+HH:MM` or `Z`); 210 a start-time on a date already past in
    its own offset. A start-time is optional; a past time on today's date is fine.
13. Per call, a problem drops only that call: no `client-identifier` (a non-empty string) or no
    `contact-numbers` -> 210-kind; `contact-numbers` not a list of 1 to 10 strings of 8-15 ASCII
    digits (country code, no "+") -> 205-kind; `keys` (optional) not a list of
    `{"name": "$flow.key.<letters, digits, _>", "value": "<string>"}` -> 210-kind; a
    client-identifier repeated in the request (the first one stays) or already in the ledger
    for the flow -> 210-kind. If no call survives: 205 when every drop was a bad number, else 210.
14. 402 api-version "TEST", the flow has `whitelisted_phones`, and a surviving call holds a
    number outside it (the whole request is refused).
15. 212 the flow has a `balance` smaller than the number of surviving calls; on acceptance the
    balance goes down by that number.
16. 200 with `request-id` and `call-details` (client-identifier, phonon-uuid) in request order,
    or 209 with the same for the surviving calls only.

204, 206, 208 and 213 are never produced by validation; `force_code` produces them (and any other
documented code but 200). With `force_code` 209 the answer has a request-id and no call-details.

Faults (per request, decided from one seeded random draw; shares add up to at most 1):
`error_500` answers code 500 without accepting; `http_429` answers HTTP 429 without accepting;
`reset` closes the connection with an RST and no answer, after accepting the calls with the
share `reset_after_accept` (default 0.5) and before otherwise; `slow` accepts (validation runs as
usual), then sleeps `slow_seconds` before answering. `force_code` wins over all of them.

Statistics: each API request is recorded with its arrival time (the moment its handler started),
the number of calls it carried and the number accepted. `max_calls_in_window` is the largest
number of accepted calls in any window [t, t + window) and `max_calls_received_in_window` the
same over every call that arrived (refused, repeated and faulted requests included).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dialer.codes import ResponseCode
from dialer.envelope import PROFILES, EnvelopeError, open_envelope

API_VERSIONS = frozenset({"1.0", "TEST"})
MAX_CALLS = 500
MAX_NUMBERS = 10
MAX_BODY_BYTES = 16 * 1024 * 1024
ENDPOINTS = ("realtime", "bulk")
KINDS = ("multicast", "dialer")
API_PATHS = {
    "/kairos-apis/outbound/create": "multicast",
    "/kairos-apis/outbounddialer/create": "dialer",
    "/kairos-apis/enc/outbounddialer/create": "encrypted",
}
MANDATORY = ("api-version", "security-id", "flow-id", "calls")

FLOW_ID = re.compile(r"[A-Za-z0-9]{8}")
NUMBER = re.compile(r"[0-9]{8,15}")
KEY_NAME = re.compile(r"\$flow\.key\.[A-Za-z0-9_]+")
START_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)

FAULT_SHARES = ("error_500", "slow", "reset", "http_429")
FAULT_DEFAULTS = {
    "error_500": 0.0,
    "slow": 0.0,
    "slow_seconds": 3.0,
    "reset": 0.0,
    "reset_after_accept": 0.5,
    "http_429": 0.0,
    "force_code": None,
    "seed": None,
}

_DROP_NUMBER = ResponseCode.INVALID_CONTACT_NUMBER
_DROP_OTHER = ResponseCode.INVALID_MANDATORY_PARAMETERS


def max_in_window(events: Iterable[tuple[float, int]], window: float) -> int:
    """The largest sum of counts over events whose times fit in one window [t, t + window)."""
    if window <= 0:
        raise ValueError("The window must be positive.")
    ordered = sorted(events)
    best = total = left = 0
    for moment, count in ordered:
        total += count
        while moment - ordered[left][0] >= window:
            total -= ordered[left][1]
            left += 1
        best = max(best, total)
    return best


def error_body(code: int) -> dict:
    return {"api-response-code": int(code), "api-response-message": ResponseCode(code).message}


def load_private_key(pem: bytes | str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("The sandbox's private key must be an RSA key.")
    return key


def load_or_create_private_key(path: Path | str) -> rsa.RSAPrivateKey:
    """Read the key at `path`, or generate a 2048-bit one and keep it there (mode 0600)."""
    path = Path(path)
    if path.exists():
        return load_private_key(path.read_bytes())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    return key


@dataclass
class SandboxFlow:
    flow_id: str
    security_id: str
    kind: str = "multicast"
    versions: tuple[str, ...] = ("1.0", "TEST")
    dids: tuple[str, ...] | None = None
    profile: str | None = None
    expired: bool = False
    balance: int | None = None
    whitelisted_phones: frozenset[str] | None = None
    allowed_ips: frozenset[str] | None = None

    def as_json(self) -> dict:
        data = asdict(self)
        for name in ("versions", "dids", "whitelisted_phones", "allowed_ips"):
            if data[name] is not None:
                data[name] = sorted(data[name]) if isinstance(data[name], frozenset) else list(data[name])
        return {
            name.replace("_", "-") if name in ("flow_id", "security_id") else name: value
            for name, value in data.items()
        }


@dataclass
class Answer:
    """What the server does with one API request: an HTTP status and JSON body, and maybe a fault
    (`after`: "slow" sleeps `slow_seconds` before answering, "reset" closes with an RST)."""

    body: dict | None
    status: int = 200
    after: str | None = None
    slow_seconds: float = 0.0
    headers: dict = field(default_factory=dict)
    accepted: int = 0

    @property
    def code(self) -> int | None:
        return self.body.get("api-response-code") if self.body else None


@dataclass
class _Decoded:
    request: object = None
    problem: int | None = None
    checksums: tuple[str, ...] = ()
    envelope_flow_id: object = None


class SandboxProvider:
    """The provider's state: flow registry, ledger, checksums, statistics, faults and RSA key.
    Every request is validated and accepted under one lock, so concurrent identical requests
    cannot both be accepted."""

    def __init__(self, *, private_key=None, faults: dict | None = None, flows: Iterable[dict] = ()):
        self._lock = threading.Lock()
        self._private_key = load_private_key(private_key) if isinstance(private_key, (bytes, str)) else private_key
        self._flows: dict[str, SandboxFlow] = {}
        self._clear_traffic()
        self.set_faults(faults)
        for flow in flows:
            self.register_flow(**{name.replace("-", "_"): value for name, value in flow.items()})

    def _clear_traffic(self) -> None:
        self._ledger: list[dict] = []
        self._checksums: set[str] = set()
        self._client_ids: dict[str, set[str]] = {}
        self._events: dict[str, list[tuple[float, int, int]]] = {endpoint: [] for endpoint in ENDPOINTS}

    # --- keys -------------------------------------------------------------------------------

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        # Generated on first use: most sandboxes never see an encrypted request.
        with self._lock:
            if self._private_key is None:
                self._private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._private_key

    def public_key_pem(self) -> str:
        return (
            self.private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    # --- configuration ----------------------------------------------------------------------

    def register_flow(
        self,
        flow_id: str,
        security_id: str,
        *,
        kind: str = "multicast",
        versions: Iterable[str] = ("1.0", "TEST"),
        dids: Iterable[str] | None = None,
        profile: str | None = None,
        expired: bool = False,
        balance: int | None = None,
        whitelisted_phones: Iterable[str] | None = None,
        allowed_ips: Iterable[str] | None = None,
    ) -> SandboxFlow:
        """Register (or replace) a flow. Once any flow is registered, the sandbox is no longer open."""
        if not isinstance(flow_id, str) or not FLOW_ID.fullmatch(flow_id):
            raise ValueError("flow-id must be exactly 8 letters or digits.")
        if not isinstance(security_id, str) or not security_id:
            raise ValueError("security-id must be a non-empty string.")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}.")
        versions = tuple(versions)
        if not set(versions) <= API_VERSIONS:
            raise ValueError('versions may only hold "1.0" and "TEST".')
        if profile is not None and profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}.")
        if balance is not None and (isinstance(balance, bool) or not isinstance(balance, int)):
            raise ValueError("balance must be an integer or null.")
        flow = SandboxFlow(
            flow_id=flow_id,
            security_id=security_id,
            kind=kind,
            versions=versions,
            dids=None if dids is None else tuple(dids),
            profile=profile,
            expired=bool(expired),
            balance=balance,
            whitelisted_phones=None if whitelisted_phones is None else frozenset(whitelisted_phones),
            allowed_ips=None if allowed_ips is None else frozenset(allowed_ips),
        )
        with self._lock:
            self._flows[flow_id] = flow
        return flow

    def flows(self) -> list[dict]:
        with self._lock:
            return [flow.as_json() for flow in self._flows.values()]

    def set_faults(self, faults: dict | None = None, **more) -> dict:
        """Replace the fault settings: whatever is not given goes back to its default (no faults)."""
        merged = {**FAULT_DEFAULTS, **(faults or {}), **more}
        unknown = set(merged) - set(FAULT_DEFAULTS)
        if unknown:
            raise ValueError(f"Unknown fault settings: {', '.join(sorted(unknown))}.")
        for name in (*FAULT_SHARES, "reset_after_accept"):
            value = merged[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a share between 0 and 1.")
            merged[name] = float(value)
        if sum(merged[name] for name in FAULT_SHARES) > 1 + 1e-9:
            raise ValueError(f"The shares of {', '.join(FAULT_SHARES)} add up to more than 1.")
        slow_seconds = merged["slow_seconds"]
        if isinstance(slow_seconds, bool) or not isinstance(slow_seconds, (int, float)) or slow_seconds < 0:
            raise ValueError("slow_seconds must be a number of seconds.")
        merged["slow_seconds"] = float(slow_seconds)
        force_code = merged["force_code"]
        if force_code is not None:
            if isinstance(force_code, bool) or ResponseCode.lookup(force_code) in (None, ResponseCode.SUCCESS):
                raise ValueError("force_code must be a documented provider code other than 200.")
            merged["force_code"] = int(force_code)
        with self._lock:
            self._faults = merged
            self._random = random.Random(merged["seed"])
        return dict(merged)

    def faults(self) -> dict:
        with self._lock:
            return dict(self._faults)

    def reset(self) -> None:
        """Forget the ledger, checksums, statistics, faults and flows (the key stays)."""
        with self._lock:
            self._clear_traffic()
            self._flows.clear()
        self.set_faults(None)

    # --- what the tests read ----------------------------------------------------------------

    def ledger(self, flow_id: str | None = None) -> list[dict]:
        with self._lock:
            return [dict(entry) for entry in self._ledger if flow_id is None or entry["flow-id"] == flow_id]

    def stats(self, window: float = 60.0) -> dict:
        with self._lock:
            events = {endpoint: list(recorded) for endpoint, recorded in self._events.items()}
        result: dict = {"window": window}
        for endpoint, recorded in events.items():
            result[endpoint] = {
                "requests": len(recorded),
                "accepted_requests": sum(1 for _, _, accepted in recorded if accepted),
                "calls": sum(accepted for _, _, accepted in recorded),
                "calls_received": sum(received for _, received, _ in recorded),
                "max_calls_in_window": max_in_window(((t, a) for t, _, a in recorded if a), window),
                "max_calls_received_in_window": max_in_window(((t, r) for t, r, _ in recorded), window),
            }
        return result

    # --- one API request --------------------------------------------------------------------

    def submit(
        self,
        raw: bytes,
        *,
        api: str,
        endpoint: str = "realtime",
        path: str | None = None,
        client_ip: str = "127.0.0.1",
        received_at: float | None = None,
    ) -> Answer:
        """Handle one request's body for `api` ("multicast", "dialer" or "encrypted")."""
        received_at = time.time() if received_at is None else received_at
        path = path or next(p for p, name in API_PATHS.items() if name == api)
        decoded = self._decode_encrypted(raw) if api == "encrypted" else self._decode_plain(raw)
        calls = decoded.request.get("calls") if isinstance(decoded.request, dict) else None
        received = len(calls) if isinstance(calls, list) else 0
        with self._lock:
            fault = self._draw_fault()
            if fault == "force":
                answer = Answer(error_body(self._faults["force_code"]))
                if answer.code == ResponseCode.PARTIAL_SUCCESS:
                    answer.body.update({"request-id": str(uuid.uuid4()), "call-details": []})
            elif fault == "error_500":
                answer = Answer(error_body(ResponseCode.FAILURE))
            elif fault == "http_429":
                answer = Answer({"error": "Too Many Requests"}, status=429, headers={"Retry-After": "1"})
            elif fault == "reset_before":
                answer = Answer(None, after="reset")
            else:
                answer = self._process(
                    decoded, api=api, endpoint=endpoint, path=path, client_ip=client_ip, received_at=received_at
                )
                if fault == "slow":
                    answer.after, answer.slow_seconds = "slow", self._faults["slow_seconds"]
                elif fault == "reset_after":
                    answer.after = "reset"
            self._events[endpoint].append((received_at, received, answer.accepted))
        return answer

    def _draw_fault(self) -> str | None:
        faults = self._faults
        if faults["force_code"] is not None:
            return "force"
        if not any(faults[name] for name in FAULT_SHARES):
            return None
        draw = self._random.random()
        for name in FAULT_SHARES:
            if draw < faults[name]:
                if name == "reset":
                    return "reset_after" if self._random.random() < faults["reset_after_accept"] else "reset_before"
                return name
            draw -= faults[name]
        return None

    @staticmethod
    def _decode_plain(raw: bytes) -> _Decoded:
        checksums = (hashlib.sha256(raw).hexdigest(),)
        try:
            request = json.loads(raw)
        except (ValueError, RecursionError):
            return _Decoded(problem=ResponseCode.INVALID_FORMAT, checksums=checksums)
        return _Decoded(request=request, checksums=checksums)

    def _decode_encrypted(self, raw: bytes) -> _Decoded:
        checksums = (hashlib.sha256(raw).hexdigest(),)
        refused = _Decoded(problem=ResponseCode.INVALID_FORMAT, checksums=checksums)
        try:
            envelope = json.loads(raw)
        except (ValueError, RecursionError):
            return refused
        if not isinstance(envelope, dict):
            return refused
        flow_id = envelope.get("flow-id")
        with self._lock:
            flow = self._flows.get(flow_id) if isinstance(flow_id, str) else None
        profiles = (flow.profile,) if flow and flow.profile else PROFILES
        private_key = self.private_key
        for profile in profiles:
            try:
                plaintext = open_envelope(envelope, private_key=private_key, profile=profile)
                request = json.loads(plaintext)
            except (EnvelopeError, ValueError, RecursionError):
                continue
            if isinstance(request, dict):
                return _Decoded(
                    request=request,
                    checksums=(*checksums, hashlib.sha256(plaintext).hexdigest()),
                    envelope_flow_id=flow_id,
                )
        return refused

    def _process(
        self, decoded: _Decoded, *, api: str, endpoint: str, path: str, client_ip: str, received_at: float
    ) -> Answer:
        """Validate and accept, under the lock; see the module docstring for the order."""
        if decoded.problem:
            return Answer(error_body(decoded.problem))
        request = decoded.request
        if not isinstance(request, dict):
            return Answer(error_body(ResponseCode.INVALID_FORMAT))
        if any(request.get(name) in (None, "") for name in MANDATORY):
            return Answer(error_body(ResponseCode.INVALID_MANDATORY_PARAMETERS))
        api_version, security_id, flow_id, calls = (request[name] for name in MANDATORY)
        if not (
            isinstance(api_version, str)
            and isinstance(security_id, str)
            and isinstance(flow_id, str)
            and isinstance(calls, list)
        ):
            return Answer(error_body(ResponseCode.INVALID_FORMAT))
        if api == "encrypted" and decoded.envelope_flow_id != flow_id:
            return Answer(error_body(ResponseCode.INVALID_MANDATORY_PARAMETERS))
        if any(checksum in self._checksums for checksum in decoded.checksums):
            return Answer(error_body(ResponseCode.CHECKSUM_REPEATED))
        if api_version not in API_VERSIONS:
            return Answer(error_body(ResponseCode.INVALID_API_VERSION))
        if not FLOW_ID.fullmatch(flow_id):
            return Answer(error_body(ResponseCode.INVALID_FLOW_ID))
        flow = self._flows.get(flow_id)
        if self._flows:
            code = self._check_flow(
                flow, api=api, api_version=api_version, security_id=security_id, client_ip=client_ip
            )
            if code:
                return Answer(error_body(code))
        if not calls:
            return Answer(error_body(ResponseCode.EMPTY_CALL_LIST))
        if len(calls) > MAX_CALLS:
            return Answer(error_body(ResponseCode.MAX_DATA_LIST_SIZE_EXCEEDED))
        code = _check_call_shapes(calls)
        if code:
            return Answer(error_body(code))

        known = self._client_ids.get(flow_id, set())
        seen: set[str] = set()
        survivors = []
        drops = set()
        for call in calls:
            drop = _call_problem(call)
            client_id = call.get("client-identifier")
            if drop is None and (client_id in seen or client_id in known):
                drop = _DROP_OTHER
            if drop is None:
                seen.add(client_id)
                survivors.append(call)
            else:
                drops.add(drop)
        if not survivors:
            return Answer(error_body(_DROP_NUMBER if drops == {_DROP_NUMBER} else _DROP_OTHER))
        if flow is not None and api_version == "TEST" and flow.whitelisted_phones is not None:
            allowed = flow.whitelisted_phones
            if any(number not in allowed for call in survivors for number in call["contact-numbers"]):
                return Answer(error_body(ResponseCode.PHONE_NOT_WHITELISTED))
        if flow is not None and flow.balance is not None:
            if flow.balance < len(survivors):
                return Answer(error_body(ResponseCode.INSUFFICIENT_BALANCE))
            flow.balance -= len(survivors)

        request_id = str(uuid.uuid4())
        details = []
        for call in survivors:
            phonon_uuid = str(uuid.uuid4())
            client_id = call["client-identifier"]
            details.append({"client-identifier": client_id, "phonon-uuid": phonon_uuid})
            self._ledger.append(
                {
                    "client-identifier": client_id,
                    "phonon-uuid": phonon_uuid,
                    "request-id": request_id,
                    "contact-numbers": call["contact-numbers"],
                    "flow-id": flow_id,
                    "endpoint": endpoint,
                    "path": path,
                    "api": api,
                    "received_at": received_at,
                    "api-version": api_version,
                    "keys": call.get("keys") or [],
                    "start-time": call.get("start-time"),
                }
            )
        self._client_ids.setdefault(flow_id, set()).update(seen)
        self._checksums.update(decoded.checksums)
        code = ResponseCode.SUCCESS if len(survivors) == len(calls) else ResponseCode.PARTIAL_SUCCESS
        body = {**error_body(code), "request-id": request_id, "call-details": details}
        return Answer(body, accepted=len(survivors))

    @staticmethod
    def _check_flow(
        flow: SandboxFlow | None, *, api: str, api_version: str, security_id: str, client_ip: str
    ) -> int | None:
        if flow is None:
            return ResponseCode.INVALID_FLOW_ID
        if flow.security_id != security_id:
            return ResponseCode.INVALID_SECURITY_ID
        if flow.kind != ("dialer" if api == "encrypted" else api):
            return ResponseCode.INVALID_FLOW_ID
        if flow.allowed_ips is not None and client_ip not in flow.allowed_ips:
            return ResponseCode.IP_NOT_WHITELISTED
        if api_version not in flow.versions:
            return ResponseCode.INVALID_FLOW_VERSION
        if flow.dids is not None and not flow.dids:
            return ResponseCode.DID_NOT_MAPPED
        if flow.expired:
            return ResponseCode.VALIDITY_EXPIRED
        return None


def _check_call_shapes(calls: list) -> int | None:
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


def _call_problem(call: dict) -> int | None:
    """Why one call is dropped, or None."""
    client_id = call.get("client-identifier")
    numbers = call.get("contact-numbers")
    if not isinstance(client_id, str) or not client_id or numbers is None or numbers == []:
        return _DROP_OTHER
    if not isinstance(numbers, list) or len(numbers) > MAX_NUMBERS:
        return _DROP_NUMBER
    for number in numbers:
        if not isinstance(number, str) or not NUMBER.fullmatch(number):
            return _DROP_NUMBER
    keys = call.get("keys")
    if keys is None:
        return None
    if not isinstance(keys, list):
        return _DROP_OTHER
    for key in keys:
        if not isinstance(key, dict) or len(key) != 2 or not isinstance(key.get("value"), str):
            return _DROP_OTHER
        name = key.get("name")
        if not isinstance(name, str) or not KEY_NAME.fullmatch(name):
            return _DROP_OTHER
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


# --- HTTP ------------------------------------------------------------------------------------

CONTROL_GET = (
    "/_sandbox/ledger",
    "/_sandbox/stats",
    "/_sandbox/faults",
    "/_sandbox/flows",
    "/_sandbox/public-key",
    "/_sandbox/health",
)
CONTROL_POST = ("/_sandbox/faults", "/_sandbox/flows", "/_sandbox/reset")


class _BadRequest(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "PhononSandbox/1.0"
    disable_nagle_algorithm = True
    timeout = 300  # an idle keep-alive connection ends after this

    server: SandboxServer

    def setup(self):
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self):
        self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)

    # Methods --------------------------------------------------------------------------------

    def do_POST(self):
        received_at = time.time()
        path, query = self._split()
        body = self._read_body()
        if body is None:
            return
        api_route = route(path)
        if api_route:
            self._api(body, *api_route, path=path, received_at=received_at)
        elif path in CONTROL_POST:
            self._control(path, query, body)
        else:
            self._not_found_or_wrong_method(path)

    def do_GET(self):
        path, query = self._split()
        if self._read_body() is None:
            return
        if path in CONTROL_GET:
            self._control(path, query, b"")
        else:
            self._not_found_or_wrong_method(path)

    def _other_method(self):
        if self.command == "HEAD":  # the answer below has a body, which HEAD must not get
            self.close_connection = True
        path, _ = self._split()
        if self._read_body() is None:
            return
        self._not_found_or_wrong_method(path)

    do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _other_method

    # Request and answer ---------------------------------------------------------------------

    def _split(self) -> tuple[str, dict]:
        parts = urlsplit(self.path)
        return parts.path, {name: values[-1] for name, values in parse_qs(parts.query).items()}

    def _read_body(self) -> bytes | None:
        try:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return self._read_chunked()
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 <= length <= MAX_BODY_BYTES:
                raise _BadRequest
            body = self.rfile.read(length)
            if len(body) != length:  # the client went away
                self.close_connection = True
                return None
            return body
        except (_BadRequest, ValueError):
            self.close_connection = True
            self._send(
                413 if self.headers.get("Content-Length", "").isdigit() else 400,
                {"error": "The request body's length is missing, wrong or too large."},
            )
            return None

    def _read_chunked(self) -> bytes:
        chunks, total = [], 0
        while True:
            size = int(self.rfile.readline(1024).split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise _BadRequest
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _send(self, status: int, payload, *, content_type="application/json", headers: dict | None = None):
        body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _not_found_or_wrong_method(self, path: str):
        allowed = [method for method, paths in (("GET", CONTROL_GET), ("POST", CONTROL_POST)) if path in paths]
        if route(path):
            allowed.append("POST")
        if allowed:
            self._send(405, {"error": f"Use {' or '.join(allowed)}."}, headers={"Allow": ", ".join(allowed)})
        else:
            self._send(404, {"error": "Not found."})

    def _api(self, body: bytes, endpoint: str, api: str, *, path: str, received_at: float):
        try:
            answer = self.server.provider.submit(
                body,
                api=api,
                endpoint=endpoint,
                path=path,
                client_ip=self.client_address[0],
                received_at=received_at,
            )
        except Exception:  # a bug in the sandbox must still answer, as a provider failure would
            traceback.print_exc()
            self._send(500, error_body(ResponseCode.FAILURE))
            return
        if answer.after == "reset":
            self._reset_connection()
            return
        if answer.after == "slow":
            self.server.stopping.wait(answer.slow_seconds)
        self._send(answer.status, answer.body, headers=answer.headers)

    def _reset_connection(self):
        # SO_LINGER with a zero timeout turns close() into an RST: the client sees a reset, no answer.
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def _control(self, path: str, query: dict, body: bytes):
        provider = self.server.provider
        try:
            if path == "/_sandbox/health":
                self._send(200, {"ok": True})
            elif path == "/_sandbox/public-key":
                self._send(200, provider.public_key_pem().encode(), content_type="text/plain; charset=utf-8")
            elif path == "/_sandbox/ledger":
                self._send(200, {"calls": provider.ledger(query.get("flow-id"))})
            elif path == "/_sandbox/stats":
                self._send(200, provider.stats(float(query.get("window", 60))))
            elif path == "/_sandbox/faults" and self.command == "GET":
                self._send(200, provider.faults())
            elif path == "/_sandbox/faults":
                self._send(200, provider.set_faults(_json_object(body)))
            elif path == "/_sandbox/flows" and self.command == "GET":
                self._send(200, {"flows": provider.flows()})
            elif path == "/_sandbox/flows":
                fields = {name.replace("-", "_"): value for name, value in _json_object(body).items()}
                self._send(200, provider.register_flow(**fields).as_json())
            elif path == "/_sandbox/reset":
                provider.reset()
                self._send(200, {"ok": True})
        except (ValueError, TypeError) as error:
            self._send(400, {"error": str(error)})


def _json_object(body: bytes) -> dict:
    data = json.loads(body or b"{}")
    if not isinstance(data, dict):
        raise ValueError("The body must be a JSON object.")
    return data


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], provider: SandboxProvider, *, verbose: bool = False):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.provider = provider
        self.verbose = verbose
        self.stopping = threading.Event()
        self.connections: set[socket.socket] = set()
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], OSError):  # clients going away are normal
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        for connection in list(self.connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class RunningSandbox:
    def __init__(self, server: SandboxServer, thread: threading.Thread):
        self.server = server
        self.thread = thread
        self.provider = server.provider
        host, self.port = server.server_address[:2]
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        self.host = host
        self.base_url = f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def stop(self) -> None:
        if self.server.stopping.is_set():
            return
        self.server.stopping.set()
        self.server.shutdown()
        self.server.close_connections()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def start_sandbox_thread(
    *, host: str = "127.0.0.1", port: int = 0, private_key=None, verbose: bool = False, **options
) -> RunningSandbox:
    """Serve a new SandboxProvider(private_key=..., faults=..., flows=...) from a background thread."""
    provider = SandboxProvider(private_key=private_key, **options)
    server = SandboxServer((host, port), provider, verbose=verbose)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"sandbox-{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    return RunningSandbox(server, thread)


def serve(
    *,
    host: str,
    port: int,
    key_path: Path | str,
    faults: dict | None = None,
    verbose: bool = False,
    announce: Callable[[str], None] = print,
) -> None:
    """Run the sandbox until SIGTERM or SIGINT, with its key kept at key_path across restarts."""
    key = load_or_create_private_key(key_path)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    running = start_sandbox_thread(host=host, port=port, private_key=key, faults=faults, verbose=verbose)
    try:
        announce(
            f"Sandbox provider at {running.base_url} (realtime: {running.base_url}/realtime, "
            f"bulk: {running.base_url}/bulk); public key served at {running.base_url}/_sandbox/public-key "
            f"(private key in {key_path})"
        )
        while not stop.wait(1):
            pass
    finally:
        running.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The sandbox Phonon provider.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_PORT", 8765)))
    parser.add_argument(
        "--private-key", default=str(Path(__file__).resolve().parent.parent / "var" / "sandbox_private_key.pem")
    )
    parser.add_argument("--faults", type=json.loads, default=None, help="fault settings as a JSON object")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    serve(
        host=args.host,
        port=args.port,
        key_path=args.private_key,
        faults=args.faults,
        verbose=args.verbose,
        announce=lambda line: print(line, flush=True),
    )


if __name__ == "__main__":
    main()
