"""Phonon-Signature: `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, checked by receivers."""

import hashlib
import hmac
import time

HEADER = "Phonon-Signature"
# Receivers refuse a signature older than this: a captured delivery cannot be replayed later.
TOLERANCE_SECONDS = 300


def signature_header(*, secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def signature_verify(*, secret: str, body: bytes, header: str, now: float | None = None) -> bool:
    """What a receiver does (the README shows the same lines): recompute, compare, check the age."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    if not parts.get("t", "").isdigit() or "v1" not in parts:
        return False
    expected = signature_header(secret=secret, body=body, timestamp=int(parts["t"])).split("v1=", 1)[1]
    fresh = abs((now if now is not None else time.time()) - int(parts["t"])) <= TOLERANCE_SECONDS
    return fresh and hmac.compare_digest(expected, parts["v1"])
