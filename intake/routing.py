"""Which flow a mail or a file is for: recipient addresses, allowed senders, SFTP file names.

Mail: a flow's intake address is `Flow.intake_address` when set, else MAIL_INTAKE_PATTERN with
`{flow_id}` replaced by the provider's flow-id and the flow's secret token (default
`calls+{flow_id}@example.com`, so `calls+ZH0RKJvh.3f9a0c1d2e4b@example.com`). A mail is routed only by the
envelope recipient our MTA records (MAIL_INTAKE_RECIPIENT_HEADER: Delivered-To or X-Original-To), never by
To or Cc, which the sender writes.

Files: `C<UserID>_<FlowID>.csv` or `C<UserID>_<FlowID>_upload_DDMMYYYYHHMMSS.csv` (`.zip` too). The
account's client ID may be stored with its leading `C` (`C129113`) or without it (`129113`): both
match. The start time in the name is read by the importer (`common_start_from_filename`).
"""

import hmac
import re
from dataclasses import dataclass

from django.conf import settings

from campaigns.importing import common_start_from_filename
from flows.models import Flow
from flows.services import intake_pattern
from intake.headers import addresses_in

# `\Z`, not `$`: `$` also matches before a final newline, and a name ending in one breaks every mail
# header it is written into.
FILE_NAME_RE = re.compile(
    r"\AC(?P<user>[A-Za-z0-9]+)_(?P<flow>[A-Za-z0-9]{8})(?:_upload_(?P<start>\d{14}))?\.(?P<ext>csv|zip)\Z",
    re.IGNORECASE,
)
# Names that upload tools use while a file is still being written; never taken.
PARTIAL_SUFFIXES = (".part", ".partial", ".filepart", ".tmp", ".temp", ".crdownload", ".uploading")


def _pattern_regex() -> re.Pattern | None:
    pattern = intake_pattern()
    if "{flow_id}" not in pattern:
        return None
    before, after = pattern.split("{flow_id}", 1)
    return re.compile(
        f"\\A{re.escape(before)}(?P<flow_id>[A-Za-z0-9]{{8}})\\.(?P<token>[A-Za-z0-9]+){re.escape(after)}\\Z",
        re.IGNORECASE,
    )


def envelope_recipient(message) -> str:
    """The address this copy was delivered to, as our MTA wrote it on top of the mail: the topmost
    MAIL_INTAKE_RECIPIENT_HEADER. Lower headers of that name may come from the sender."""
    found = addresses_in(message, (settings.MAIL_INTAKE_RECIPIENT_HEADER,))
    return found[0] if found else ""


def flow_for_address(address: str) -> Flow | None:
    address = address.strip().lower()
    flow = Flow.objects.filter(intake_address__iexact=address).select_related("account").first()
    if flow:
        return flow
    regex = _pattern_regex()
    match = regex.match(address) if regex else None
    if not match:
        return None
    flow_id = match.group("flow_id")
    # The flow-id is case-sensitive at the provider, but some mail systems lower-case addresses.
    flow = Flow.objects.filter(flow_id=flow_id).select_related("account").first()
    if flow is None:
        candidates = list(Flow.objects.filter(flow_id__iexact=flow_id).select_related("account")[:2])
        flow = candidates[0] if len(candidates) == 1 else None
    if flow is None or flow.intake_address:
        return None  # a flow with its own address does not also answer to the pattern
    if not hmac.compare_digest(match.group("token").lower(), flow.intake_token.lower()):
        return None  # a guessed or rotated-away address: as if no flow were there
    return flow


def sender_allowed(flow: Flow, sender: str) -> bool:
    """`allowed_senders`: one entry a line, an address or `@domain`; an empty list allows nobody."""
    sender = (sender or "").strip().lower()
    if "@" not in sender:
        return False
    domain = sender.rsplit("@", 1)[1]
    for entry in re.split(r"[\s,;]+", flow.allowed_senders or ""):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry.startswith("@") and entry[1:] == domain:
            return True
        if entry == sender:
            return True
    return False


@dataclass(frozen=True)
class FileRoute:
    flow: Flow | None
    refusal: str = ""


def is_partial_name(name: str) -> bool:
    return name.startswith(".") or name.lower().endswith(PARTIAL_SUFFIXES)


def _same_client(user: str, client_id: str) -> bool:
    client_id = client_id.strip()
    return user.lower() in (client_id.lower(), client_id.lower().removeprefix("c"))


def route_file_name(name: str, account) -> FileRoute:
    """The flow a file in an account's Upload folder is for, or the sentence saying why none is."""
    match = FILE_NAME_RE.match(name)
    if not match:
        return FileRoute(
            None,
            f'The file name "{name}" does not follow C<UserID>_<FlowID>.csv or '
            "C<UserID>_<FlowID>_upload_DDMMYYYYHHMMSS.csv (.zip is accepted too).",
        )
    user, flow_id = match.group("user"), match.group("flow")
    if not _same_client(user, account.client_id):
        return FileRoute(
            None,
            f'The file name gives user ID C{user}, but this folder belongs to account {account.client_id}; '
            "name the file with your own user ID.",
        )
    flow = Flow.objects.filter(account=account, flow_id=flow_id).first()
    if flow is None:
        return FileRoute(None, f'Account {account.client_id} has no flow "{flow_id}"; check the flow ID in the name.')
    if match.group("start"):
        if common_start_from_filename(name) is None:
            return FileRoute(
                None, f'"upload_{match.group("start")}" in the name is not a date and time as DDMMYYYYHHMMSS.'
            )
    return FileRoute(flow)
