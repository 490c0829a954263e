"""Is a mail really from the address in its `From`? Only an authenticated sender may make us dial.

Anyone can write any `From:`. A mail is acted on only when one of these holds:
- our own MTA vouches for it: the topmost `Authentication-Results` header whose authserv-id is
  MAIL_INTAKE_AUTHSERV_ID (headers of any other authserv-id are ignored; the MTA removes forged ones of
  its own id, RFC 8601 section 5) says `dmarc=pass` for the From domain, or `dkim=pass` for a signing
  domain aligned with it;
- no trusted MTA is configured (MAIL_INTAKE_AUTHSERV_ID empty): we verify the DKIM signatures ourselves
  (dkimpy, keys from DNS) and require one that passes for an aligned domain.
"""

from collections.abc import Callable
from dataclasses import dataclass

import authres
import dkim
from django.conf import settings

AUTHENTICATION_RESULTS = "Authentication-Results"


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
    header = _topmost_results(message, authserv_id)
    if header is None:
        return SenderCheck(False, f"No Authentication-Results header from our mail server ({authserv_id}).")
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


def _topmost_results(message, authserv_id: str):
    for value in message.get_all(AUTHENTICATION_RESULTS, []):
        try:
            header = authres.AuthenticationResultsHeader.parse(f"{AUTHENTICATION_RESULTS}: {value}")
        except authres.AuthResError:
            continue  # unreadable, so it vouches for nothing
        if (header.authserv_id or "").lower() == authserv_id:
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
