"""How a delivery is signed, two ways over the same body and time:

- `Phonon-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (Stripe's manner; the key is the
  whole secret as text), checked by receivers with the README's ten lines;
- the Standard Webhooks headers `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64
  HMAC-SHA256 of "<id>.<t>.<body>">` (the key is the base64 after `whsec_`), which the
  standardwebhooks and Svix libraries verify unchanged.

While a rotated secret overlaps, each header carries one signature per live secret (Stripe repeats
`v1=`; Standard Webhooks separates them with spaces); a receiver accepts any that matches.
"""

import base64
import binascii
import hashlib
import hmac
import secrets as random_source
import time

HEADER = "Phonon-Signature"
SECRET_PREFIX = "whsec_"
# Receivers refuse a signature older than this: a captured delivery cannot be replayed later.
TOLERANCE_SECONDS = 300


def _phonon_mac(secret: str, body: bytes, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(*, secret: str | list[str], body: bytes, timestamp: int) -> str:
    secrets = [secret] if isinstance(secret, str) else secret
    return ",".join([f"t={timestamp}", *(f"v1={_phonon_mac(one, body, timestamp)}" for one in secrets)])


def signature_verify(*, secret: str, body: bytes, header: str, now: float | None = None) -> bool:
    """What a receiver does (the README shows the same lines): recompute, compare, check the age."""
    items = [item.split("=", 1) for item in header.split(",") if "=" in item]
    stamps = [value for name, value in items if name == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    expected = _phonon_mac(secret, body, int(stamps[0]))
    fresh = abs((now if now is not None else time.time()) - int(stamps[0])) <= TOLERANCE_SECONDS
    return fresh and any(hmac.compare_digest(expected, value) for name, value in items if name == "v1")


def standard_key(secret: str) -> bytes | None:
    """The Standard Webhooks key: the base64 after `whsec_`, read as the reference libraries read it
    (padding added). None when it is not base64 (then the Standard Webhooks headers are left out)."""
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX) + "==")
    except (binascii.Error, ValueError):
        return None
    return key or None


def standard_headers(*, secret: str | list[str], message_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    secrets = [secret] if isinstance(secret, str) else secret
    signed = f"{message_id}.{timestamp}.".encode() + body
    signatures = [
        "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for key in map(standard_key, secrets)
        if key is not None
    ]
    if not signatures:
        return {}
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": " ".join(signatures)}


def new_secret() -> str:
    """32 random bytes as standard base64 after `whsec_`: the form both signatures can use."""
    return SECRET_PREFIX + base64.b64encode(random_source.token_bytes(32)).decode()
