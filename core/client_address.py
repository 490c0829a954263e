"""The address a request came from, for the login lockout, the API-key failure throttle and the
delivery-report allow-list.

`X-Forwarded-For` is honoured only when the connection itself comes from one of TRUSTED_PROXIES (our own
TLS proxy): a client that reaches gunicorn directly could write any address there, and spread its
guesses over as many made-up addresses as it likes. From a trusted proxy, the entry TRUSTED_PROXY_COUNT
places from the right is the one our outermost proxy appended; entries further left are the client's word.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def is_trusted_proxy(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(settings.TRUSTED_PROXIES)))


def client_address(request) -> str | None:
    return address_of(request.META)


def address_of(meta) -> str | None:
    """The same, from a request's META or a WSGI environ (the report URL's lean path has no request)."""
    remote = meta.get("REMOTE_ADDR")
    count = settings.TRUSTED_PROXY_COUNT
    if not count or not is_trusted_proxy(remote):
        return remote
    forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    return forwarded[-count] if len(forwarded) >= count else remote
