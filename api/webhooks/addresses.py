"""Where a webhook may go: HTTPS to public addresses only, checked after DNS at send time, so that a
name cannot point the sender at the private network (WEBHOOK_ALLOW_LOCAL allows http and loopback)."""

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings


class AddressRefused(Exception):
    """The URL or the address it resolves to may not receive webhooks; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL: the Host header and the name the certificate must carry
    ip: str  # the address checked, and the one connected to (no second DNS lookup)
    port: int
    path: str  # path and query


def url_check(url: str) -> tuple[str, str, int, str]:
    """Scheme, host, port, path of an acceptable URL (before DNS)."""
    parts = urlsplit(url)
    allow_local = settings.WEBHOOK_ALLOW_LOCAL
    if parts.scheme != "https" and not (allow_local and parts.scheme == "http"):
        raise AddressRefused("A webhook URL must start with https://.")
    if not parts.hostname:
        raise AddressRefused("A webhook URL must name a host.")
    if parts.username or parts.password:
        raise AddressRefused("A webhook URL must not carry a user name or password; the signature authenticates.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise AddressRefused("The webhook URL's port is not a number from 1 to 65535.") from error
    ip = literal_address(parts.hostname)
    if ip is not None:
        address_check(ip)
    elif is_local_name(parts.hostname) and not allow_local:
        raise AddressRefused(f"The webhook URL leads to {parts.hostname}, a private, loopback or link-local address.")
    # any other name: checked after DNS, when sending
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


# Names that mean this machine wherever they are looked up (RFC 6761 reserves `localhost` and its subdomains).
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
IPV4_SHORTHAND = re.compile(r"(?:0x[0-9a-f]+|[0-9]+)(?:\.(?:0x[0-9a-f]+|[0-9]+)){0,3}", re.IGNORECASE)


def is_local_name(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host in LOCAL_NAMES or host.endswith(".localhost")


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host written as one stands for, shorthand forms too (`127.1`, `0x7f000001`,
    `2130706433`, which the resolver takes for 127.0.0.1); None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if IPV4_SHORTHAND.fullmatch(host.rstrip(".")):
        try:
            return ipaddress.ip_address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            return None
    return None


def address_check(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback and settings.WEBHOOK_ALLOW_LOCAL:
        return
    if ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved or (
        ip.is_unspecified or not ip.is_global
    ):
        raise AddressRefused(f"The webhook URL leads to {ip}, a private, loopback or link-local address.")


def target_resolve(url: str) -> Target:
    """Resolve the host now and check every address it has; connect to the first."""
    scheme, host, port, path = url_check(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise AddressRefused(f"The webhook host {host} cannot be resolved ({error.strerror}).") from error
    addresses = [info[4][0] for info in infos]
    for address in addresses:
        address_check(ipaddress.ip_address(address.split("%", 1)[0]))
    # IPv4 first: a worker without IPv6 egress still reaches a host that has both.
    chosen = sorted(addresses, key=lambda address: ":" in address)[0]
    return Target(scheme=scheme, host=host, ip=chosen, port=port, path=path)
