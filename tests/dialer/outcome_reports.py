"""Delivery report bodies as the provider sends them (PHONON_API.md), for tests."""

import datetime
import json

T0 = datetime.datetime(2026, 12, 7, 10, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30)))


def leg(cdr_id, number, *, minute=0, cause="16", connected=False, rang=True, duration=None, keys="", at=None):
    start = (at or T0) + datetime.timedelta(minutes=minute)
    entry = {
        "cdrId": cdr_id,
        "calleeNumber": number,
        "didNumber": "912243692987",
        "startTime": start.isoformat(),
        "hangupCause": cause,
        "incoming": False,
        "calleeType": "VISITOR",
    }
    if rang:
        entry["is_ringing"] = "true"
        entry["ringingStartTime"] = (start + datetime.timedelta(seconds=2)).isoformat()
    if connected:
        entry["connectTime"] = (start + datetime.timedelta(seconds=10)).isoformat()
        entry["duration"] = str(duration if duration is not None else 30000)
    entry["endTime"] = (start + datetime.timedelta(seconds=60)).isoformat()
    entry["dtmfPressesd"] = [
        {"key": key, "eventTime": (start + datetime.timedelta(seconds=20 + i)).isoformat(), "label": ""}
        for i, key in enumerate(keys)
    ]
    return entry


def report(uuid, *legs, sms=()):
    body = {"phonon-uuid": uuid, "callDetails": list(legs)}
    if sms:
        body["smsDetails"] = list(sms)
    return json.dumps({"body": body}).encode()


KINDS = [
    ("answered", dict(connected=True, keys="1")),
    ("busy", dict(cause="17", rang=False)),
    ("no_answer", dict(cause="19")),
    ("unreachable", dict(cause="27", rang=False)),
]


def report_stream(calls, rng) -> tuple[list[bytes], dict, int]:
    """Reports for these calls as the provider really sends them: one of each kind of outcome,
    some sent twice, some with a first busy attempt whose report comes after the report with both
    legs (out of order). Returns (bodies in the order sent, {call id: outcome}, distinct legs)."""
    bodies, expected, legs = [], {}, 0
    for call in calls:
        number = call.contact.primary_number
        kind, shape = KINDS[rng.randrange(len(KINDS))]
        last = leg(f"cdr-{call.pk}-b", number, minute=1, **shape)
        if call.pk % 3 == 0:  # a busy first attempt, then the deciding one: the full report, then the first alone
            first = leg(f"cdr-{call.pk}-a", number, minute=0, cause="17", rang=False)
            sent = [report(call.phonon_uuid, first, last), report(call.phonon_uuid, first)]
            legs += 2
        else:
            sent = [report(call.phonon_uuid, last)]
            legs += 1
        if call.pk % 2:
            sent.append(sent[0])  # the same report twice
        bodies.extend(sent)
        expected[call.pk] = kind
    return bodies, expected, legs
