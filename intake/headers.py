"""Reading what a stranger wrote in a mail's headers, and cleaning names before they reach a header of ours.

The email package parses a header when it is read (`message.get`), and a malformed one (`Message-ID: <`,
`From: a@[`) makes that raise: anyone could then stop the poller with a handful of mails. Here a header
is read as the text it was sent as (`raw_items`, never parsed), unfolded, with bytes that are not UTF-8
replaced, so reading one never raises; the addresses in it are taken with `getaddresses`.
"""

import re
from email.utils import getaddresses

CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


def one_line(text) -> str:
    """Text on one line: control characters (newlines included) become one space, undecodable bytes
    (surrogate escapes) the replacement character; fit for a mail header or a database column."""
    text = str(text).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return " ".join(CONTROL.sub(" ", text).split())


def unsafe_name(name: str) -> bool:
    """True for a name with a control character (a newline, say) or bytes that are not UTF-8 (read from
    the file system as surrogate escapes): such a name is never taken, written into a mail or stored."""
    return bool(CONTROL.search(name)) or name.encode("utf-8", "surrogateescape").decode("utf-8", "replace") != name


def header_values(message, name: str) -> list[str]:
    """Every value of the header `name`, top first, as written (unfolded, never parsed)."""
    name = name.lower()
    return [one_line(value) for key, value in message.raw_items() if str(key).lower() == name]


def header_value(message, name: str) -> str:
    """The topmost value of the header `name`, or ''."""
    values = header_values(message, name)
    return values[0] if values else ""


def addresses_in(message, headers) -> list[str]:
    """Every address in these headers, lower-cased, in header order, without repeats."""
    found = []
    for header in headers:
        for _, address in getaddresses(header_values(message, header)):
            address = address.strip().lower()
            if "@" in address and address not in found:
                found.append(address)
    return found


def single_sender(message) -> str:
    """The one address of the one `From` header, lower-cased; '' when there is none, or more than one
    (DMARC judges a single From: a second one could be the one we would act on)."""
    values = header_values(message, "From")
    if len(values) != 1:
        return ""
    found = [address.strip().lower() for _, address in getaddresses(values) if address.strip()]
    return found[0] if len(found) == 1 and "@" in found[0] else ""


def subject_of(message) -> str:
    """The subject in words (encoded words decoded when they can be), on one line."""
    try:
        value = message.get("Subject")
    except Exception:  # a header too broken for the parser: its raw text then
        value = header_value(message, "Subject")
    return one_line(value or "")[:255]


def clean_file_name(name, *, default: str = "attachment") -> str:
    """A file name a sender gave, fit to be shown and to name a report in a mail header: its last path
    part, one line, at most 255 characters."""
    name = one_line(name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name[:255] or default
