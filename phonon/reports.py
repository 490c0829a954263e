"""The provider's delivery report, read (PHONON_API.md, "After the call"). No Django here.

The same reading serves a pushed report (`{"body": {...}}`) and an entry of a Pull API answer
(our assumption, kept here: a pulled entry carries the same call details as the push).
Fields appear only when the provider has the data, so every one is optional but the uuid.
"""

import datetime
import json
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Kolkata"


class ReportMalformed(ValueError):
    """The body is not a delivery report; the message says why, in one sentence."""


@dataclass(frozen=True)
class Key:
    key: str
    at: datetime.datetime | None
    label: str = ""


@dataclass(frozen=True)
class Leg:
    """One `callDetails` entry: one attempt at one of the contact's numbers."""

    cdr_id: str
    callee_number: str = ""
    did_number: str = ""
    started_at: datetime.datetime | None = None
    ringing_at: datetime.datetime | None = None
    rang: bool = False
    connected_at: datetime.datetime | None = None
    ended_at: datetime.datetime | None = None
    duration_ms: int | None = None
    hangup_cause: int | None = None
    remote_hangup: bool | None = None
    keys: tuple[Key, ...] = ()
    raw: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Report:
    phonon_uuid: str
    request_id: str = ""
    legs: tuple[Leg, ...] = ()
    sms: tuple[dict, ...] = ()
    emails: tuple[dict, ...] = ()


def parse_push(raw: bytes, *, zone: str = DEFAULT_ZONE) -> Report:
    """A pushed report's bytes, read; ReportMalformed says why not."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as error:
        raise ReportMalformed(f"The body is not JSON ({error}).") from None
    if not isinstance(data, dict):
        raise ReportMalformed("The body is not a JSON object.")
    body = data.get("body", data)
    return parse_entry(body, zone=zone)


def parse_entry(body, *, zone: str = DEFAULT_ZONE) -> Report:
    if not isinstance(body, dict):
        raise ReportMalformed('"body" is not a JSON object.')
    uuid = body.get("phonon-uuid")
    if not isinstance(uuid, str) or not uuid.strip() or len(uuid) > 64:
        raise ReportMalformed('The report has no "phonon-uuid" (a string of at most 64 characters).')
    details = body.get("callDetails") or []
    if not isinstance(details, list):
        raise ReportMalformed('"callDetails" is not a list.')
    tz = ZoneInfo(zone)
    legs = []
    for index, entry in enumerate(details):
        if not isinstance(entry, dict):
            raise ReportMalformed(f"callDetails[{index}] is not an object.")
        legs.append(_leg(entry, index, tz))
    return Report(
        phonon_uuid=uuid.strip(),
        request_id=str(body.get("request-id") or "")[:64],
        legs=tuple(legs),
        sms=tuple(item for item in body.get("smsDetails") or [] if isinstance(item, dict)),
        emails=tuple(item for item in body.get("emailDetails") or [] if isinstance(item, dict)),
    )


def _leg(entry: dict, index: int, tz) -> Leg:
    cdr_id = entry.get("cdrId")
    if not isinstance(cdr_id, str) or not cdr_id.strip() or len(cdr_id) > 200:
        raise ReportMalformed(f'callDetails[{index}] has no "cdrId" (a string of at most 200 characters).')
    where = f"callDetails[{index}]"
    keys = entry.get("dtmfPressesd", entry.get("dtmfPressed")) or []
    if not isinstance(keys, list):
        raise ReportMalformed(f'{where}."dtmfPressesd" is not a list.')
    ringing_at = _time(entry.get("ringingStartTime"), f"{where}.ringingStartTime", tz)
    return Leg(
        cdr_id=cdr_id.strip(),
        callee_number=_digits(entry.get("calleeNumber")),
        did_number=_digits(entry.get("didNumber")),
        started_at=_time(entry.get("startTime"), f"{where}.startTime", tz),
        ringing_at=ringing_at,
        rang=ringing_at is not None or str(entry.get("is_ringing", "")).lower() == "true",
        connected_at=_time(entry.get("connectTime"), f"{where}.connectTime", tz),
        ended_at=_time(entry.get("endTime"), f"{where}.endTime", tz),
        duration_ms=_integer(entry.get("duration"), f"{where}.duration"),
        hangup_cause=_integer(entry.get("hangupCause"), f"{where}.hangupCause", most=HANGUP_CAUSE_MOST),
        remote_hangup=entry.get("remoteHangup") if isinstance(entry.get("remoteHangup"), bool) else None,
        keys=tuple(
            Key(
                str(press.get("key", ""))[:4],
                _time(press.get("eventTime"), f"{where}.eventTime", tz),
                str(press.get("label") or "")[:100],
            )
            for press in keys
            if isinstance(press, dict) and str(press.get("key", "")).strip()
        ),
        raw=entry,
    )


def _digits(value) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())[:20]


# Q.850 causes are 0-127; a larger code is kept (its words say it is not one), up to what the
# stored column holds. Beyond that the report is malformed, not a row that fails on every apply.
HANGUP_CAUSE_MOST = 32767


def _integer(value, where: str, *, most: int = 2**31 - 1) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ReportMalformed(f"{where} is not a whole number: {str(value)[:40]!r}.") from None
    if number < 0 or number > most:
        raise ReportMalformed(f"{where} is out of range: {number}.")
    return number


def _time(value, where: str, tz) -> datetime.datetime | None:
    """An ISO 8601 time; one without an offset is read in the provider's zone."""
    if value in (None, ""):
        return None
    try:
        moment = datetime.datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise ReportMalformed(f"{where} is not an ISO 8601 time: {str(value)[:40]!r}.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)
