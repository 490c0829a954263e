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
