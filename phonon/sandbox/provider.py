"""The sandbox provider's state: flow registry, ledger, checksums, statistics, faults and key."""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from phonon.codes import ResponseCode
from phonon.envelope import PROFILES, EnvelopeError, open_envelope
from phonon.sandbox.contract import (
    API_PATHS,
    API_VERSIONS,
    DROP_NUMBER,
    DROP_OTHER,
    ENDPOINTS,
    FLOW_ID,
    KINDS,
    MANDATORY,
    MAX_CALLS,
    call_problem,
    check_call_shapes,
    error_body,
)
from phonon.sandbox.outcomes import SandboxOutcomes

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
    # What the real provider may do that our reading of its pages does not say (PHONON_API.md):
    "http_status_for_codes": None,  # {"202": 401, ...}: answer these codes with this HTTP status
    "retry_after": 1,  # Retry-After sent with every HTTP 429 and 503: seconds, an HTTP-date, or None
    "drop_details": 0,  # leave calls out of a 200's call-details (accepted all the same): a count, or a share < 1
    "refuse_whole_for_bad_call": False,  # one bad call refuses the whole request (205/210), nothing accepted
}


def _check_provider_edges(faults: dict) -> None:
    """Validate (and normalise in place) the switches for what the real provider may do."""
    mapping = faults["http_status_for_codes"] or {}
    if not isinstance(mapping, dict):
        raise ValueError('http_status_for_codes must map codes to HTTP statuses, e.g. {"202": 401}.')
    statuses = {}
    for code, status in mapping.items():
        try:
            known = ResponseCode.lookup(int(code))
        except (TypeError, ValueError):
            known = None
        if known is None:
            raise ValueError(f"http_status_for_codes: {code!r} is not a documented provider code.")
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError(f"http_status_for_codes: {status!r} is not an HTTP status.")
        statuses[str(known.value)] = status
    faults["http_status_for_codes"] = statuses
    retry_after = faults["retry_after"]
    if retry_after is not None and (isinstance(retry_after, bool) or not isinstance(retry_after, (int, float, str))):
        raise ValueError("retry_after must be seconds, an HTTP-date or null.")
    drop = faults["drop_details"]
    share_or_count = isinstance(drop, int) or (isinstance(drop, float) and drop < 1)
    if isinstance(drop, bool) or not share_or_count or drop < 0:
        raise ValueError("drop_details must be a count of call-details (0, 1, 2 ...) or a share below 1.")
    if not isinstance(faults["refuse_whole_for_bad_call"], bool):
        raise ValueError("refuse_whole_for_bad_call must be true or false.")


def _details_kept(details: list, drop: int | float) -> list:
    """call-details without the last `drop` of them (a count, or a share rounded up)."""
    dropped = math.ceil(len(details) * drop) if isinstance(drop, float) else drop
    return details[: max(len(details) - dropped, 0)]


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

    def __init__(
        self, *, private_key=None, faults: dict | None = None, flows: Iterable[dict] = (), outcomes: dict | None = None
    ):
        self._lock = threading.Lock()
        # What happens after each accepted call: its report pushed, and the Pull API (outcomes.py).
        self.outcomes = SandboxOutcomes(outcomes)
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
        _check_provider_edges(merged)
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
        self.outcomes.reset()

    def pull_flow_refusal(self, flow_id, security_id) -> tuple[int, str] | None:
        """For the Pull API: the code refusing this flow-id and security-id, or None (open sandbox)."""
        with self._lock:
            if not self._flows:
                return None
            flow = self._flows.get(flow_id)
        if flow is None:
            return int(ResponseCode.INVALID_FLOW_ID), ResponseCode.INVALID_FLOW_ID.message
        if flow.security_id != security_id:
            return int(ResponseCode.INVALID_SECURITY_ID), ResponseCode.INVALID_SECURITY_ID.message
        return None

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
                answer = Answer({"error": "Too Many Requests"}, status=429)
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
            self._dress(answer)
            self._events[endpoint].append((received_at, received, answer.accepted))
        return answer

    def _dress(self, answer: Answer) -> None:
        """The HTTP side of an answer: the status its code travels with, and Retry-After."""
        status = self._faults["http_status_for_codes"].get(str(answer.code))
        if status is not None:
            answer.status = status
        if answer.status in (429, 503) and self._faults["retry_after"] is not None:
            answer.headers["Retry-After"] = str(self._faults["retry_after"])

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
        code = check_call_shapes(calls)
        if code:
            return Answer(error_body(code))

        known = self._client_ids.get(flow_id, set())
        seen: set[str] = set()
        survivors = []
        drops = set()
        for call in calls:
            drop = call_problem(call)
            client_id = call.get("client-identifier")
            if drop is None and (client_id in seen or client_id in known):
                drop = DROP_OTHER
            if drop is None:
                seen.add(client_id)
                survivors.append(call)
            else:
                drops.add(drop)
        if not survivors or (drops and self._faults["refuse_whole_for_bad_call"]):
            return Answer(error_body(DROP_NUMBER if drops == {DROP_NUMBER} else DROP_OTHER))
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
        self.outcomes.calls_accepted(self._ledger[len(self._ledger) - len(details) :] if details else [])
        self._client_ids.setdefault(flow_id, set()).update(seen)
        self._checksums.update(decoded.checksums)
        code = ResponseCode.SUCCESS if len(survivors) == len(calls) else ResponseCode.PARTIAL_SUCCESS
        if code == ResponseCode.SUCCESS and self._faults["drop_details"]:
            details = _details_kept(details, self._faults["drop_details"])
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
