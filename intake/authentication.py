"""Is a mail really from the address in its `From`? Only an authenticated sender may make us dial.

Anyone can write any `From:`. A mail is acted on only when one of these holds:
- our own MTA vouches for it: the topmost `Authentication-Results` header whose authserv-id is
  MAIL_INTAKE_AUTHSERV_ID (headers of any other authserv-id are ignored; the MTA removes forged ones of
  its own id, RFC 8601 section 5) says `dmarc=pass` for the From domain, or `dkim=pass` for a signing
  domain aligned with it. That header is found by its authserv-id as written, before it is parsed: when
  it cannot be parsed (our MTA copies what the sender's server said, `smtp.mailfrom=x@[203.0.113.5]`),
  the mail is not authenticated, and nothing below it (which the sender may have written) is read;
- no trusted MTA is configured (MAIL_INTAKE_AUTHSERV_ID empty): we verify the DKIM signatures ourselves
  (dkimpy, keys from DNS) and require one that passes for an aligned domain.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

import authres
import dkim
from django.conf import settings

from intake.headers import header_values

AUTHENTICATION_RESULTS = "Authentication-Results"
COMMENT = re.compile(r"\([^()]*\)")
UNREADABLE = object()  # our MTA's header is there, and cannot be parsed


@dataclass(frozen=True)
class SenderCheck:
    authenticated: bool
    reason: str  # in words, shown in admin: what vouched for the sender, or why nothing did


def aligned(signing_domain: str, from_domain: str) -> bool:
    """Relaxed alignment (DMARC): the same domain, or one a subdomain of the other. A bare top-level
    domain never aligns, so `d=com` cannot vouch for every `.com` sender."""
    signing_domain, from_domain = signing_domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    if not signing_domain or not from_domain or "." not in signing_domain:
        return False
    return (
        signing_domain == from_domain
        or from_domain.endswith("." + signing_domain)
        or signing_domain.endswith("." + from_domain)
    )


def sender_check(message, raw: bytes | None, *, from_domain: str, dns_txt: Callable | None = None) -> SenderCheck:
    """`message` is the parsed mail, `raw` its bytes (None when only its headers were fetched)."""
    if not from_domain:
        return SenderCheck(False, "The mail has no From address.")
    authserv_id = settings.MAIL_INTAKE_AUTHSERV_ID.strip().lower()
    if authserv_id:
        return _vouched_by_our_mta(message, authserv_id, from_domain)
    if raw is None:
        return SenderCheck(False, "Only the headers were read (the mail is too large), so DKIM could not be checked.")
    return _dkim_verified(raw, from_domain, dns_txt or dkim.dnsplug.get_txt)


def _vouched_by_our_mta(message, authserv_id: str, from_domain: str) -> SenderCheck:
    found = _topmost_results(message, authserv_id)
    if found is None:
        return SenderCheck(False, f"No Authentication-Results header from our mail server ({authserv_id}).")
    if found is UNREADABLE:
        return SenderCheck(
            False,
            f"The Authentication-Results header of our mail server ({authserv_id}) cannot be read; "
            "headers below it are not trusted.",
        )
    header = found
    for result in header.results:
        if result.method == "dmarc" and result.result == "pass":
            if _property(result, "header", "from").lower() == from_domain:
                return SenderCheck(True, f"dmarc=pass for {from_domain} ({authserv_id})")
    for result in header.results:
        if result.method == "dkim" and result.result == "pass":
            signing_domain = _property(result, "header", "d")
            if aligned(signing_domain, from_domain):
                return SenderCheck(True, f"dkim=pass d={signing_domain} ({authserv_id})")
    found = ", ".join(f"{result.method}={result.result}" for result in header.results) or "nothing"
    return SenderCheck(False, f"Our mail server ({authserv_id}) found {found}; nothing passed for {from_domain}.")


def written_authserv_id(value: str) -> str:
    """The authserv-id a header value starts with, read as text (comments and quotes dropped), lower-cased."""
    head = value.split(";", 1)[0]
    while True:  # comments, possibly nested, anywhere before the `;`
        stripped = COMMENT.sub(" ", head)
        if stripped == head:
            break
        head = stripped
    words = head.split()
    return words[0].strip('"').lower() if words else ""


def _topmost_results(message, authserv_id: str):
    """The topmost header of our authserv-id, parsed; UNREADABLE when that one cannot be parsed; None when
    there is none. Headers of other ids above it are skipped, whatever they hold."""
    for value in header_values(message, AUTHENTICATION_RESULTS):
        if written_authserv_id(value) != authserv_id:
            continue  # another server's results (or unreadable without an id of ours): they vouch for nothing
        try:
            header = authres.AuthenticationResultsHeader.parse(f"{AUTHENTICATION_RESULTS}: {value}")
        except Exception:  # authres raises its own errors and, on odd input, others
            return UNREADABLE
        if (header.authserv_id or "").lower() != authserv_id:
            return UNREADABLE  # the parser read another id than the text says: trust neither
        return header
    return None


def _property(result, kind: str, name: str) -> str:
    for prop in result.properties:
        if prop.type == kind and prop.name == name:
            return str(prop.value or "")
    return ""


def _dkim_verified(raw: bytes, from_domain: str, dns_txt: Callable) -> SenderCheck:
    verifier = dkim.DKIM(raw)
    signatures = sum(1 for line in raw.split(b"\n\n", 1)[0].splitlines() if line.lower().startswith(b"dkim-signature:"))
    if not signatures:
        return SenderCheck(False, "The mail carries no DKIM signature (and no trusted mail server vouches for it).")
    failures = []
    for index in range(signatures):
        try:
            passed = verifier.verify(idx=index, dnsfunc=dns_txt)
        except dkim.DKIMException as error:
            failures.append(str(error))
            continue
        signing_domain = (verifier.domain or b"").decode(errors="replace")
        if passed and aligned(signing_domain, from_domain):
            return SenderCheck(True, f"dkim=pass d={signing_domain} (verified here)")
        failures.append(f"d={signing_domain} {'not aligned with ' + from_domain if passed else 'did not verify'}")
    return SenderCheck(False, "DKIM failed: " + "; ".join(failures)[:300])
