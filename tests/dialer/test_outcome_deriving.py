"""A call's outcome from its legs, in the one place that decides it (dialer.outcomes.deriving)."""

import datetime

import pytest

from dialer.outcomes.deriving import call_derive
from phonon.causes import Outcome, cause_words, moves_forward
from phonon.reports import Key, Leg, ReportMalformed, parse_push

T0 = datetime.datetime(2026, 12, 7, 10, 0, tzinfo=datetime.UTC)


def leg(cdr, *, minute=0, cause=None, connected=False, rang=False, number="919800000001", duration=None, keys=()):
    start = T0 + datetime.timedelta(minutes=minute)
    return Leg(
        cdr_id=cdr,
        callee_number=number,
        started_at=start,
        rang=rang,
        connected_at=start + datetime.timedelta(seconds=5) if connected else None,
        ended_at=start + datetime.timedelta(seconds=65),
        duration_ms=duration,
        hangup_cause=cause,
        keys=tuple(Key(k, start + datetime.timedelta(seconds=10 + i)) for i, k in enumerate(keys)),
    )


@pytest.mark.parametrize(
    ("cause", "rang", "expected"),
    [
        (17, False, Outcome.BUSY),
        (18, True, Outcome.NO_ANSWER),
        (19, True, Outcome.NO_ANSWER),
        (16, True, Outcome.NO_ANSWER),
        (21, True, Outcome.REJECTED),
        (1, False, Outcome.UNREACHABLE),
        (3, False, Outcome.UNREACHABLE),
        (27, False, Outcome.UNREACHABLE),
        (28, False, Outcome.UNREACHABLE),
        (34, False, Outcome.FAILED),
        (41, False, Outcome.FAILED),
        (None, False, Outcome.FAILED),
    ],
)
def test_an_unconnected_call_takes_the_outcome_of_its_cause(cause, rang, expected):
    assert call_derive([leg("a", cause=cause, rang=rang)]).outcome == expected


def test_a_connect_time_makes_a_call_answered_with_its_number_talk_time_and_keys():
    derived = call_derive(
        [
            leg("a", minute=0, cause=17, number="919800000001"),
            leg("b", minute=1, cause=16, connected=True, number="919800000002", duration=125230, keys="16"),
        ]
    )
    assert derived.outcome == Outcome.ANSWERED
    assert derived.answered_number == "919800000002"
    assert derived.talk_ms == 125230
    assert derived.keys == "16"
    assert derived.hangup_cause == 16


def test_legs_in_any_order_give_the_same_outcome():
    legs = [leg("a", minute=0, cause=17), leg("b", minute=1, cause=19, rang=True), leg("c", minute=2, cause=1)]
    assert call_derive(legs) == call_derive(list(reversed(legs)))
    assert call_derive(legs).outcome == Outcome.UNREACHABLE


def test_no_legs_is_unknown():
    assert call_derive([]).outcome == Outcome.UNKNOWN


def test_an_outcome_never_moves_backwards():
    assert not moves_forward("answered", "busy")
    assert not moves_forward("busy", "unknown")
    assert moves_forward("unknown", "busy")
    assert moves_forward("busy", "answered")


def test_causes_are_in_words():
    assert cause_words(17) == "17 user busy"
    assert cause_words(250) == "cause 250"
    assert cause_words(None) == ""


def test_the_documented_push_body_is_read():
    body = (
        b'{"body": {"phonon-uuid": "6629a6f5", "callDetails": [{"cdrId": "81e35a21##pbx-9", '
        b'"calleeNumber": "916262772728", "startTime": "2022-11-29T23:49:00.08+05:30", "is_ringing": "true", '
        b'"connectTime": "2022-11-29T23:49:13.901+05:30", "endTime": "2022-11-29T23:51:19.131+05:30", '
        b'"duration": "125230", "hangupCause": "16", "remoteHangup": true, '
        b'"dtmfPressesd": [{"key": "6", "eventTime": "2022-11-29T23:49:20+05:30", "label": ""}]}], '
        b'"smsDetails": [{"id": "s1", "to": "918238217798", "deliveryStatus": "SENT_TO_QUEUE"}]}}'
    )
    report = parse_push(body)
    assert report.phonon_uuid == "6629a6f5"
    assert report.legs[0].duration_ms == 125230 and report.legs[0].hangup_cause == 16
    assert report.legs[0].keys[0].key == "6"
    assert report.sms[0]["id"] == "s1"
    assert call_derive(report.legs).outcome == Outcome.ANSWERED


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"body": {}}', "phonon-uuid"),
        (b'{"body": {"phonon-uuid": "u", "callDetails": [{}]}}', "cdrId"),
        (b'{"body": {"phonon-uuid": "u", "callDetails": [{"cdrId": "c", "hangupCause": "x"}]}}', "whole number"),
        # Larger than the stored column: refused when it arrives, not a report that fails every apply.
        (b'{"body": {"phonon-uuid": "u", "callDetails": [{"cdrId": "c", "hangupCause": 40000}]}}', "out of range"),
    ],
)
def test_a_malformed_body_is_refused_in_words(body, words):
    with pytest.raises(ReportMalformed, match=words):
        parse_push(body)
