"""Reports stored and applied to calls placed through the sandbox: idempotent by cdrId, never
backwards, tallies in step with the calls (dialer.outcomes)."""

import pytest
from django.utils import timezone

from dialer.models import Call, CallLeg, CallMessage, OutcomeReport
from dialer.outcomes import applying, tallies
from dialer.outcomes.receiving import report_receive
from dialer.tallies import calls_recount
from tests.dialer.outcome_reports import leg, report
from tests.dialer.test_dispatch import drain, running_campaign
from tests.factories import make_flow

pytestmark = pytest.mark.django_db


@pytest.fixture
def placed(sandbox):
    flow = make_flow()
    campaign = running_campaign(flow, 6)
    drain(campaign)
    calls = list(Call.objects.filter(campaign=campaign).select_related("contact").order_by("id"))
    assert all(call.phonon_uuid for call in calls)
    return flow, campaign, calls


def receive_and_apply(flow, body):
    received = report_receive(flow=flow, body=body, remote_addr="127.0.0.1")
    applying.reports_apply()
    return received


def assert_tallies_agree(campaign):
    assert tallies.outcomes_stored(campaign_id=campaign.pk) == tallies.outcomes_counted(campaign_id=campaign.pk)


def test_each_outcome_kind_is_applied_and_tallied(placed):
    flow, campaign, calls = placed
    numbers = [call.contact.primary_number for call in calls]
    receive_and_apply(
        flow, report(calls[0].phonon_uuid, leg("c0", numbers[0], connected=True, duration=42000, keys="1"))
    )
    receive_and_apply(flow, report(calls[1].phonon_uuid, leg("c1", numbers[1], cause="17", rang=False)))
    receive_and_apply(flow, report(calls[2].phonon_uuid, leg("c2", numbers[2], cause="19")))
    receive_and_apply(flow, report(calls[3].phonon_uuid, leg("c3", numbers[3], cause="21")))
    receive_and_apply(flow, report(calls[4].phonon_uuid, leg("c4", numbers[4], cause="1", rang=False)))
    outcomes = dict(Call.objects.filter(campaign=campaign).values_list("id", "outcome"))
    assert [outcomes[call.pk] for call in calls] == [
        "answered",
        "busy",
        "no_answer",
        "rejected",
        "unreachable",
        "unknown",
    ]
    answered = Call.objects.get(pk=calls[0].pk)
    assert (answered.talk_ms, answered.keys, answered.answered_number) == (42000, "1", numbers[0])
    summary = tallies.summary_of(campaign.pk)
    assert summary.counts["answered"] == 1 and summary.counts["unknown"] == 1
    assert summary.average_talk_seconds == 42.0
    assert summary.keys == [("1", 1, 100)]
    assert_tallies_agree(campaign)


def test_the_same_report_twice_counts_once(placed):
    flow, campaign, calls = placed
    body = report(calls[0].phonon_uuid, leg("c0", calls[0].contact.primary_number, connected=True, keys="12"))
    receive_and_apply(flow, body)
    receive_and_apply(flow, body)
    assert CallLeg.objects.filter(call_id=calls[0].pk).count() == 1
    assert OutcomeReport.objects.filter(status="applied").count() == 2
    assert tallies.summary_of(campaign.pk).counts["answered"] == 1
    assert_tallies_agree(campaign)


def test_a_late_report_without_the_connect_never_moves_answered_back(placed):
    flow, campaign, calls = placed
    number = calls[0].contact.primary_number
    receive_and_apply(flow, report(calls[0].phonon_uuid, leg("b", number, minute=1, connected=True)))
    receive_and_apply(flow, report(calls[0].phonon_uuid, leg("a", number, minute=0, cause="17", rang=False)))
    receive_and_apply(flow, report(calls[0].phonon_uuid, leg("b", number, minute=1, cause="19")))
    call = Call.objects.get(pk=calls[0].pk)
    assert call.outcome == "answered"
    assert CallLeg.objects.get(call=call, cdr_id="b").connected_at is not None
    assert_tallies_agree(campaign)


def test_a_busy_first_leg_then_an_answered_second_moves_forward(placed):
    flow, campaign, calls = placed
    number = calls[0].contact.primary_number
    receive_and_apply(flow, report(calls[0].phonon_uuid, leg("a", number, cause="17", rang=False)))
    assert Call.objects.get(pk=calls[0].pk).outcome == "busy"
    receive_and_apply(
        flow,
        report(
            calls[0].phonon_uuid,
            leg("a", number, cause="17", rang=False),
            leg("b", "919999999999", minute=1, connected=True),
        ),
    )
    call = Call.objects.get(pk=calls[0].pk)
    assert (call.outcome, call.answered_number) == ("answered", "919999999999")
    assert tallies.summary_of(campaign.pk).counts.get("busy", 0) == 0
    assert_tallies_agree(campaign)


def test_sms_details_are_kept(placed):
    flow, _, calls = placed
    receive_and_apply(
        flow,
        report(
            calls[0].phonon_uuid,
            leg("a", "91980", connected=True),
            sms=[{"id": "s1", "to": "918238217798", "text": "Thanks", "deliveryStatus": "SENT_TO_QUEUE"}],
        ),
    )
    message = CallMessage.objects.get(call_id=calls[0].pk)
    assert (message.kind, message.text, message.status) == ("sms", "Thanks", "SENT_TO_QUEUE")


def test_a_uuid_of_another_flow_is_refused_and_kept(placed):
    _, campaign, calls = placed
    other = make_flow(flow_id="OTHER001", client_id="C2")
    received = report_receive(
        flow=other, body=report(calls[0].phonon_uuid, leg("a", "91", connected=True)), remote_addr="127.0.0.1"
    )
    assert received.http_status == 422
    assert OutcomeReport.objects.get(pk=received.report_id).status == "refused"
    applying.reports_apply()
    assert Call.objects.get(pk=calls[0].pk).outcome == "unknown"


def test_an_unknown_uuid_is_refused_and_kept(placed):
    flow, _, _ = placed
    received = report_receive(flow=flow, body=report("never-given", leg("a", "91")), remote_addr=None)
    assert received.http_status == 422
    assert OutcomeReport.objects.get(pk=received.report_id).status == "unmatched"


def test_a_malformed_body_is_refused_and_kept(placed):
    flow, _, _ = placed
    received = report_receive(flow=flow, body=b"{not json", remote_addr=None)
    assert received.http_status == 400
    kept = OutcomeReport.objects.get(pk=received.report_id)
    assert (kept.status, kept.body) == ("malformed", "{not json")


def test_an_oversized_body_is_refused_and_kept_cut(placed, settings):
    flow, _, _ = placed
    settings.OUTCOME_REPORT_MAX_BYTES = 100
    received = report_receive(flow=flow, body=b"x" * 500, remote_addr=None)
    assert received.http_status == 413
    assert len(OutcomeReport.objects.get(pk=received.report_id).body) == 100


def test_a_call_held_as_accepted_unknown_is_matched_by_its_number(placed):
    flow, campaign, calls = placed
    held = calls[5]
    Call.objects.filter(pk=held.pk).update(state=Call.State.ACCEPTED_UNKNOWN, phonon_uuid="")
    calls_recount(campaign_id=campaign.pk)
    # The call was sent (its batch completed) a moment before the provider dialled the number.
    body = report("uuid-from-provider", leg("x", held.contact.primary_number, cause="17", at=timezone.now(), minute=1))
    received = report_receive(flow=flow, body=body, remote_addr=None)
    assert received.http_status == 200
    applying.reports_apply()
    call = Call.objects.get(pk=held.pk)
    assert (call.phonon_uuid, call.outcome) == ("uuid-from-provider", "busy")
    assert_tallies_agree(campaign)


def test_a_report_for_a_held_call_with_no_number_of_ours_stays_unmatched(placed):
    flow, campaign, calls = placed
    Call.objects.filter(pk=calls[5].pk).update(state=Call.State.ACCEPTED_UNKNOWN, phonon_uuid="")
    calls_recount(campaign_id=campaign.pk)
    body = report("uuid-x", leg("x", "911111111111", cause="17", at=timezone.now(), minute=1))
    assert report_receive(flow=flow, body=body, remote_addr=None).http_status == 200
    applying.reports_apply()
    assert OutcomeReport.objects.get(phonon_uuid="uuid-x").status == "unmatched"
    assert Call.objects.get(pk=calls[5].pk).outcome == "unknown"
