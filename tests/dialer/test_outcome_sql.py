"""The set-based applier on PostgreSQL (dialer.outcomes.applying_sql) against the Python reference:
the outcome rules equal over every cause code and leg shape (deriving_sql vs deriving.call_derive),
every report the SQL reads read as phonon.reports.parse_push reads it, every report it does not read
left to Python, and a whole apply giving the same calls and tallies either way."""

import datetime
import json

import pytest
from django.db import connection, transaction
from django.utils import timezone

from dialer.models import Call, CallLeg, CallMessage, OutcomeReport
from dialer.outcomes import applying, applying_sql, tallies
from dialer.outcomes.applying import Applied, leg_of
from dialer.outcomes.deriving import call_derive
from dialer.outcomes.deriving_sql import derived_in_sql
from phonon.reports import ReportMalformed, parse_push
from tests.factories import make_flow, make_placed_campaign

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="The set-based applier runs on PostgreSQL."),
]

IST = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
T0 = datetime.datetime(2026, 12, 7, 10, 0, tzinfo=IST)
CAUSES = [None, *range(0, 128)]


def _leg(
    call_id,
    cdr,
    *,
    minute=0,
    cause=None,
    connected=False,
    rang=False,
    duration=None,
    ended=True,
    keys=(),
    started=True,
    number="919800000001",
):
    start = T0 + datetime.timedelta(minutes=minute)
    return CallLeg(
        call_id=call_id,
        cdr_id=cdr,
        callee_number=number,
        started_at=start if started else None,
        ringing_at=start + datetime.timedelta(seconds=2) if rang else None,
        rang=rang,
        connected_at=start + datetime.timedelta(seconds=5, microseconds=123) if connected else None,
        ended_at=start + datetime.timedelta(seconds=18, microseconds=229_456) if ended else None,
        duration_ms=duration,
        hangup_cause=cause,
        keys=[
            {"key": key, "at": (start + datetime.timedelta(seconds=9 - i)).isoformat() if at else None, "label": ""}
            for i, (key, at) in enumerate(keys)
        ],
    )


def _shapes(call_id, cause):
    """Leg sets for one cause: one leg each way, several legs in and out of time order, keys."""
    yield [_leg(call_id, "a", cause=cause)]
    yield [_leg(call_id, "a", cause=cause, rang=True)]
    yield [_leg(call_id, "a", cause=cause, connected=True, duration=41_000, keys=[("1", True), ("2", True)])]
    yield [_leg(call_id, "a", cause=cause, connected=True, keys=[("3", False)])]  # talk from connect to end
    yield [_leg(call_id, "a", cause=cause, connected=True, ended=False)]
    yield [_leg(call_id, "b", minute=1, cause=17), _leg(call_id, "a", minute=0, cause=cause, rang=True)]
    yield [_leg(call_id, "a", minute=2, cause=cause), _leg(call_id, "b", minute=1, cause=19, rang=True)]
    yield [
        _leg(call_id, "b", minute=1, cause=cause, connected=True, duration=5, number="919800000002"),
        _leg(call_id, "a", minute=0, cause=21, keys=[("9", True)]),
        _leg(call_id, "c", minute=3, cause=cause, connected=True, keys=[("5", True), ("6", False)]),
    ]
    # the same start: ordered by cdrId as Python compares strings ("B" before "a")
    yield [_leg(call_id, "a", cause=cause), _leg(call_id, "B", cause=17, rang=True)]
    yield [_leg(call_id, "x", cause=cause, started=False, ended=False)]
    yield [_leg(call_id, "k", cause=cause, keys=[("1", True)] * 70)]  # keys cut at 64


def test_sql_rules_equal_python_over_every_cause_and_shape():
    legs_by_call, call_id = {}, 0
    for cause in CAUSES:
        for legs in _shapes(0, cause):
            call_id += 1
            for leg in legs:
                leg.call_id = call_id
            legs_by_call[call_id] = legs
    CallLeg.objects.bulk_create([leg for legs in legs_by_call.values() for leg in legs], batch_size=2000)
    stored = {}
    for row in CallLeg.objects.all():
        stored.setdefault(row.call_id, []).append(leg_of(row))
    in_sql = derived_in_sql(list(legs_by_call))
    assert len(in_sql) == len(legs_by_call) > 1000
    for call_id, legs in stored.items():
        assert in_sql[call_id] == call_derive(legs), (call_id, legs)


def _calls(count, *, flow_id="SQLPARSE"):
    flow = make_flow(flow_id=flow_id, client_id=f"C{flow_id}")
    campaign = make_placed_campaign(flow, count, token=f"t{flow_id}", uuid=lambda i, _: f"{flow_id}-uuid-{i}")
    return flow, campaign, list(Call.objects.filter(campaign=campaign).order_by("id"))


def _entry(cdr="c1", **fields):
    entry = {
        "cdrId": cdr,
        "calleeNumber": "919800000001",
        "didNumber": "912243692987",
        "startTime": "2026-12-07T10:00:00+05:30",
        "ringingStartTime": "2026-12-07T10:00:02+05:30",
        "is_ringing": "true",
        "connectTime": "2026-12-07T10:00:09.08+05:30",
        "endTime": "2026-12-07T10:01:00+05:30",
        "duration": "51000",
        "hangupCause": "16",
        "remoteHangup": True,
        "dtmfPressesd": [{"key": "1", "eventTime": "2026-12-07T10:00:20+05:30", "label": "yes"}],
    }
    for name, value in fields.items():
        if value is ...:
            entry.pop(name, None)
        else:
            entry[name] = value
    return entry


def _body(uuid, *entries, wrap=True, **extra):
    body = {"phonon-uuid": uuid, "callDetails": list(entries), **extra}
    return json.dumps({"body": body} if wrap else body)


# (entry fields or a whole body, whether the SQL must read it itself)
ENTRIES = [
    (dict(), True),
    (dict(startTime="2026-12-07T10:00:00", connectTime="2026-12-07 10:00:09", endTime="2026-12-07T10:01Z"), True),
    (dict(connectTime=..., duration=..., hangupCause="017", is_ringing="TRUE", ringingStartTime=...), True),
    (dict(calleeNumber="+91 98000-00001", didNumber=None, remoteHangup="true"), True),
    (dict(dtmfPressesd=..., dtmfPressed=[{"key": "12345", "eventTime": "2026-12-07T04:30:20.5Z"}]), True),
    (dict(dtmfPressesd=[{"key": ""}, "x", {"key": "2"}, {"key": "#", "eventTime": ""}]), True),
    (dict(dtmfPressesd=None, duration="", hangupCause=None, startTime=""), True),
    (dict(connectTime="2026-12-07T24:00:00+05:30"), False),  # Python refuses hour 24
    (dict(endTime="2026-12-07T10:01:60+05:30"), False),
    (dict(duration=51000), False),  # a number, not a string: Python reads it
    (dict(hangupCause="99999"), False),
    (dict(cdrId=" c1 "), False),
    (dict(cdrId=7), False),
    (dict(calleeNumber="٩١٩٨"), False),  # digits of another script
    (dict(dtmfPressesd=[{"key": None}]), False),
    (dict(dtmfPressesd=[{"key": " "}]), False),
    (dict(dtmfPressesd=[{"key": "1", "label": 5}]), False),
    (dict(dtmfPressesd={"key": "1"}), False),
    (dict(startTime=" 2026-12-07T10:00:00+05:30"), False),
    (dict(startTime="20261207T100000"), False),
]
BODIES = [
    (lambda uuid: _body(uuid, _entry(), sms=None), True),
    (lambda uuid: _body(uuid, wrap=False), True),
    (lambda uuid: _body(uuid, _entry(), _entry("c2", connectTime=...)), True),
    (lambda uuid: _body(uuid, smsDetails=[{"id": "s1", "to": "91", "text": "Hi", "deliveryStatus": "SENT"}, 3]), True),
    (lambda uuid: _body(uuid, emailDetails=[{"id": "e1", "subject": "Thanks", "from": "a@b"}]), True),
    (lambda uuid: _body(uuid, smsDetails={"id": "s1"}), False),
    (lambda uuid: _body(uuid, smsDetails=[{"id": 5}]), False),
    (lambda uuid: _body(uuid, callDetails="none"), False),
    (lambda uuid: json.dumps({"body": None}), False),
    (lambda uuid: json.dumps({"body": {"phonon-uuid": uuid + " ", "callDetails": []}}), False),
    (lambda uuid: _body(uuid, 5), False),
]


def _leg_fields(leg) -> tuple:
    """What a leg says, comparable whether it was stored or just parsed."""
    return (
        leg.cdr_id, leg.callee_number, leg.did_number, leg.started_at, leg.ringing_at, leg.rang,
        leg.connected_at, leg.ended_at, leg.duration_ms, leg.hangup_cause, leg.remote_hangup,
        tuple((key.key, key.at, key.label) for key in leg.keys),
    )


def _stored_legs(call_id):
    return sorted(_leg_fields(leg) for leg in map(leg_of, CallLeg.objects.filter(call_id=call_id)))


def _parsed_legs(body):
    legs = {}
    for leg in parse_push(body.encode(), zone="Asia/Kolkata").legs:
        legs.setdefault(leg.cdr_id, leg)
    return sorted(_leg_fields(leg) for leg in legs.values())


def test_the_sql_reads_a_report_as_python_does_or_leaves_it_to_python(settings):
    settings.PHONON_TIMEZONE = "Asia/Kolkata"
    bodies = [_body("{uuid}", _entry(**fields)) for fields, _ in ENTRIES] + [make("{uuid}") for make, _ in BODIES]
    read_by_sql = [sql for _, sql in ENTRIES] + [sql for _, sql in BODIES]
    flow, _, calls = _calls(len(bodies))
    reports = OutcomeReport.objects.bulk_create(
        [
            OutcomeReport(flow=flow, phonon_uuid=call.phonon_uuid, body=body.replace("{uuid}", call.phonon_uuid))
            for call, body in zip(calls, bodies)
        ]
    )
    with transaction.atomic():
        left = set(applying_sql.reports_apply_sql([r.pk for r in reports], timezone.now(), Applied()))
    for report, call, sql in zip(reports, calls, read_by_sql):
        assert (report.pk not in left) == sql, report.body
        try:
            expected = _parsed_legs(report.body)
        except ReportMalformed:
            assert report.pk in left
            continue
        if report.pk not in left:
            assert _stored_legs(call.pk) == expected, report.body
    messages = CallMessage.objects.filter(call__in=calls).order_by("kind")
    assert [(m.kind, m.message_id, m.text, m.sender) for m in messages] == [
        ("email", "e1", "Thanks", "a@b"),
        ("sms", "s1", "Hi", ""),
    ]


def test_a_chunk_postgresql_cannot_read_is_left_whole_to_python():
    flow, _, calls = _calls(3)
    bodies = [_body(calls[0].phonon_uuid, _entry()), "{not json", _body(calls[2].phonon_uuid, _entry())]
    reports = OutcomeReport.objects.bulk_create(
        [OutcomeReport(flow=flow, phonon_uuid=call.phonon_uuid, body=body) for call, body in zip(calls, bodies)]
    )
    with transaction.atomic():
        left = applying_sql.reports_apply_sql([r.pk for r in reports], timezone.now(), Applied())
    assert left == [r.pk for r in reports]
    applying.reports_apply()
    statuses = list(OutcomeReport.objects.order_by("id").values_list("status", flat=True))
    assert statuses == ["applied", "malformed", "applied"]
    assert CallLeg.objects.count() == 2


def _apply_in_python():
    with transaction.atomic():
        reports = list(OutcomeReport.objects.filter(status="pending").order_by("id"))
        applying._apply(reports, Applied())


def _outcomes(campaign):
    return [
        (c.outcome, c.hangup_cause, c.answered_number, c.talk_ms, c.keys, c.connected_at)
        for c in Call.objects.filter(campaign=campaign).order_by("id")
    ]


def _mixed_stream(calls):
    """Reports of every kind: repeats, richer and poorer copies, out of order, shapes left to Python."""
    stream = []
    for i, call in enumerate(calls):
        cause = ["16", "17", "19", "21", "1", "34"][i % 6]
        silent = dict(
            hangupCause=cause, connectTime=..., duration=..., dtmfPressesd=[], ringingStartTime=..., is_ringing=...
        )
        first = _entry("a", **silent)
        stream.append(_body(call.phonon_uuid, first))
        if i % 4 == 1:  # a second leg that connected, sent with the first again
            stream.append(_body(call.phonon_uuid, _entry("b", startTime="2026-12-07T10:02:00+05:30"), first))
        if i % 3 == 1:  # a poorer copy of the second leg (no connect, no end), or a second leg that failed
            stream.append(
                _body(call.phonon_uuid, _entry("b", startTime="2026-12-07T10:02:00+05:30", endTime=..., **silent))
            )
        if i % 5 == 0:  # a leg with its duration as a number: left to Python
            stream.append(_body(call.phonon_uuid, _entry("c", duration=7)))
    return stream


def test_a_mixed_stream_applied_in_sql_gives_what_python_gives():
    # given two campaigns of 40 calls each, and the same stream of reports for each
    flow_a, campaign_a, calls_a = _calls(40, flow_id="SQLAAAAA")
    flow_b, campaign_b, calls_b = _calls(40, flow_id="PYTHONBB")
    stream_a, stream_b = _mixed_stream(calls_a), _mixed_stream(calls_b)

    # when one is applied by the set-based path, the other by Python alone, in two chunks each
    for part in (slice(0, 30), slice(30, None)):
        OutcomeReport.objects.bulk_create([OutcomeReport(flow=flow_a, body=body) for body in stream_a[part]])
        applied = applying.reports_apply(limit=1000)
        assert applied.reports == len(stream_a[part])
        OutcomeReport.objects.bulk_create([OutcomeReport(flow=flow_b, body=body) for body in stream_b[part]])
        _apply_in_python()

    # then the calls, the legs and the tallies are the same
    assert not OutcomeReport.objects.filter(status="pending").exists()
    outcomes = _outcomes(campaign_a)
    assert outcomes == _outcomes(campaign_b)
    assert {o[0] for o in outcomes} >= {"answered", "busy", "no_answer", "rejected", "unreachable", "failed"}
    assert [_stored_legs(call.pk) for call in calls_a] == [_stored_legs(call.pk) for call in calls_b]
    for campaign in (campaign_a, campaign_b):
        assert tallies.outcomes_stored(campaign_id=campaign.pk) == tallies.outcomes_counted(campaign_id=campaign.pk)
    summary_a, summary_b = tallies.summary_of(campaign_a.pk), tallies.summary_of(campaign_b.pk)
    assert summary_a.as_dict() == summary_b.as_dict()
