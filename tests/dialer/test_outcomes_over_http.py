"""Outcomes end to end over real HTTP: calls placed with the sandbox, whose reports it pushes to
the flow's report URL on a live server (or serves through its Pull API), applied as a worker does."""

import json
from collections import Counter

import pytest
import requests
from django.core.management import call_command

from dialer.models import Call, CallLeg, CallOutcome, OutcomeReport
from dialer.outcomes import applying, pulling, tallies
from flows.services import flow_report_url
from tests.dialer.outcome_reports import leg, report
from tests.dialer.test_dispatch import drain, running_campaign
from tests.factories import make_flow
from tests.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

EVERY_KIND = {"answered": 1, "busy": 1, "no_answer": 1, "rejected": 1, "unreachable": 1, "failed": 1}


@pytest.fixture(autouse=True)
def fast(settings, live_server):
    settings.PHONON_READ_TIMEOUT = 1.0
    settings.DISPATCH_GRANT_MAX_WAIT = 0.5
    settings.PHONON_REALTIME_RATE = "100000/60"
    settings.SITE_URL = live_server.url
    settings.SANDBOX_REPORT_URLS = False
    settings.PHONON_PULL_AFTER = 0
    settings.PHONON_PULL_RATE = "1000/60"


def placed_campaign(sandbox, flow, contacts, **outcomes):
    sandbox.provider.outcomes.configure({"delay_seconds": 0.2, "seed": 7, **outcomes})
    sandbox.provider.outcomes.set_report_urls({flow.flow_id: flow_report_url(flow)})
    campaign = running_campaign(flow, contacts)
    drain(campaign)
    return campaign


def apply_until(predicate, *, message):
    """What the worker does: apply stored reports, until the predicate holds."""

    def applied():
        applying.reports_apply()
        return predicate()

    return wait_until(applied, timeout=60, interval=0.2, message=message)


def outcomes_of(campaign) -> Counter:
    return Counter(Call.objects.filter(campaign=campaign).values_list("outcome", flat=True))


def assert_tallies_agree(campaign):
    assert tallies.outcomes_stored(campaign_id=campaign.pk) == tallies.outcomes_counted(campaign_id=campaign.pk)


def test_every_outcome_kind_pushed_by_the_sandbox_is_applied_to_its_call(sandbox):
    campaign = placed_campaign(sandbox, make_flow(), 60, odds=EVERY_KIND)
    apply_until(lambda: outcomes_of(campaign)[CallOutcome.UNKNOWN] == 0, message="every call's outcome")
    drawn = sandbox.provider.outcomes.stats()["by_outcome"]
    assert dict(outcomes_of(campaign)) == drawn
    assert set(drawn) == set(EVERY_KIND)
    summary = tallies.summary_of(campaign.pk)
    assert {kind: summary.counts.get(kind, 0) for kind in EVERY_KIND} == drawn
    answered = Call.objects.filter(campaign=campaign, outcome="answered").first()
    assert answered.talk_ms > 0 and answered.connected_at and answered.answered_number
    assert answered.messages.filter(kind="sms").exists()
    assert_tallies_agree(campaign)


def test_reports_pushed_twice_count_once(sandbox):
    campaign = placed_campaign(sandbox, make_flow(), 30, odds={"answered": 1, "busy": 1}, duplicate=1.0)
    apply_until(lambda: OutcomeReport.objects.filter(status="applied").count() == 60, message="both copies applied")
    assert sum(outcomes_of(campaign).values()) == 30 and outcomes_of(campaign)[CallOutcome.UNKNOWN] == 0
    assert (
        CallLeg.objects.filter(call__campaign=campaign).count()
        == sum(
            len(json.loads(body)["body"]["callDetails"])
            for body in OutcomeReport.objects.filter(status="applied").values_list("body", flat=True)
        )
        // 2
    )
    assert_tallies_agree(campaign)


def test_an_older_partial_report_arriving_last_never_moves_answered_back(sandbox):
    campaign = placed_campaign(sandbox, make_flow(), 20, odds={"answered": 1}, out_of_order=1.0)
    apply_until(lambda: OutcomeReport.objects.filter(status="applied").count() == 40, message="both reports")
    assert outcomes_of(campaign) == Counter({"answered": 20})
    assert_tallies_agree(campaign)


def test_a_push_that_never_comes_is_recovered_by_the_pull(sandbox, settings):
    settings.PHONON_PULL_URL = f"{sandbox.base_url}/pull"
    settings.PHONON_PULL_BACKOFF = 0
    campaign = placed_campaign(sandbox, make_flow(), 25, odds={"busy": 1, "answered": 1}, never_push=1.0)
    wait_until(lambda: sandbox.provider.outcomes.stats()["reports"] == 25, timeout=30, message="outcomes drawn")
    # the sandbox has none ready before its delay: the first pull may get 213, the next ones the data
    apply_until(
        lambda: pulling.outcomes_pull().requests >= 0 and outcomes_of(campaign)[CallOutcome.UNKNOWN] == 0,
        message="the pulled outcomes",
    )
    assert sandbox.provider.outcomes.stats()["pushed"] == 0
    assert OutcomeReport.objects.filter(source="pull", status="applied").count() == 25
    assert_tallies_agree(campaign)


def test_no_data_yet_is_asked_again_later_with_a_growing_wait(sandbox, settings):
    settings.PHONON_PULL_URL = f"{sandbox.base_url}/pull"
    campaign = placed_campaign(sandbox, make_flow(), 5, never_push=1.0, delay_seconds=3600)
    run = pulling.outcomes_pull()
    assert (run.requests, run.no_data, run.reports_stored) == (1, 5, 0)
    assert set(Call.objects.filter(campaign=campaign).values_list("pull_attempts", flat=True)) == {1}
    # asked again only after PHONON_PULL_BACKOFF
    assert pulling.outcomes_pull().requests == 0


def test_a_pull_api_that_takes_fewer_uuids_gets_smaller_requests(sandbox, settings):
    settings.PHONON_PULL_URL = f"{sandbox.base_url}/pull"
    settings.PHONON_PULL_MAX_UUIDS = 8
    campaign = placed_campaign(sandbox, make_flow(), 8, never_push=1.0, delay_seconds=0, pull_max_uuids=3)
    wait_until(lambda: sandbox.provider.outcomes.stats()["reports"] == 8, timeout=30, message="outcomes drawn")
    run = pulling.outcomes_pull()
    assert run.reports_stored == 8
    assert run.requests >= 4  # 8 refused with "Max Data List Size Exceeded", then halves
    applying.reports_apply()
    assert outcomes_of(campaign)[CallOutcome.UNKNOWN] == 0


def test_a_failing_pull_api_stops_the_round_in_words_and_loses_nothing(sandbox, settings):
    settings.PHONON_PULL_URL = f"{sandbox.base_url}/pull"
    campaign = placed_campaign(sandbox, make_flow(), 4, never_push=1.0, delay_seconds=0, pull_fail=1.0)
    run = pulling.outcomes_pull()
    assert "Pull API failed" in run.stopped
    sandbox.provider.outcomes.configure({"never_push": 1.0, "delay_seconds": 0})
    assert pulling.outcomes_pull().reports_stored == 4
    applying.reports_apply()
    assert outcomes_of(campaign)[CallOutcome.UNKNOWN] == 0


def test_a_call_with_no_report_by_the_give_up_age_stays_unknown_with_the_reason(sandbox, settings):
    settings.PHONON_PULL_URL = f"{sandbox.base_url}/pull"
    settings.PHONON_PULL_GIVE_UP = 0
    campaign = placed_campaign(sandbox, make_flow(), 3, never_push=1.0, delay_seconds=3600)
    assert pulling.outcomes_pull().given_up == 3
    notes = set(Call.objects.filter(campaign=campaign).values_list("outcome", "outcome_note"))
    assert len(notes) == 1 and next(iter(notes))[0] == "unknown" and "No report within" in next(iter(notes))[1]
    summary = tallies.summary_of(campaign.pk)
    assert (summary.given_up, summary.pending, summary.counts["unknown"]) == (3, 0, 3)
    assert_tallies_agree(campaign)


def test_a_uuid_of_another_flow_is_refused_over_http_and_kept(sandbox):
    ours = make_flow()
    campaign = placed_campaign(sandbox, ours, 2, enabled=False)
    theirs = make_flow(flow_id="THEIRS01", client_id="C777")
    call = Call.objects.filter(campaign=campaign).first()
    answer = requests.post(flow_report_url(theirs), data=report(call.phonon_uuid, leg("x", "91", connected=True)))
    assert answer.status_code == 422
    assert "not one of this flow's calls" in answer.json()["error"]
    kept = OutcomeReport.objects.get(pk=answer.json()["report"])
    assert (kept.status, kept.flow_id) == ("refused", theirs.pk)
    applying.reports_apply()
    assert Call.objects.get(pk=call.pk).outcome == "unknown"


def test_reports_for_uuids_the_sandbox_never_gave_are_refused_and_kept(sandbox):
    campaign = placed_campaign(sandbox, make_flow(), 5, odds={"busy": 1}, foreign=1.0)
    apply_until(lambda: OutcomeReport.objects.filter(status="unmatched").count() == 5, message="the strangers")
    apply_until(lambda: outcomes_of(campaign) == Counter({"busy": 5}), message="the real reports")
    assert sandbox.provider.outcomes.stats()["push_refused"] == 5


def test_a_call_accepted_with_its_uuid_unknown_is_matched_by_number(sandbox):
    flow = make_flow()
    sandbox.provider.outcomes.configure({"delay_seconds": 0.2, "odds": {"answered": 1}})
    sandbox.provider.outcomes.set_report_urls({flow.flow_id: flow_report_url(flow)})
    campaign = running_campaign(flow, 3)
    # the answer is lost after the provider took the calls; the resend gets 201: uuids unknown
    sandbox.provider.set_faults(slow=1.0, slow_seconds=2)
    assert drain(campaign, rounds=1) == ["uncertain"]
    sandbox.provider.set_faults(None)
    assert drain(campaign) == ["accepted_unknown"]
    apply_until(lambda: outcomes_of(campaign) == Counter({"answered": 3}), message="matched by number")
    ledger = {entry["client-identifier"]: entry["phonon-uuid"] for entry in sandbox.provider.ledger()}
    stored = dict(Call.objects.filter(campaign=campaign).values_list("client_identifier", "phonon_uuid"))
    assert stored == ledger
    assert_tallies_agree(campaign)


def test_a_malformed_or_oversized_body_gets_a_clear_4xx_and_is_kept(sandbox, settings):
    flow = make_flow()
    settings.OUTCOME_REPORT_MAX_BYTES = 1000
    bad = requests.post(flow_report_url(flow), data=b'{"body": {"callDetails": []}}')
    assert bad.status_code == 400 and "phonon-uuid" in bad.json()["error"]
    big = requests.post(flow_report_url(flow), data=b"x" * 5000)
    assert big.status_code == 413
    assert set(OutcomeReport.objects.values_list("status", flat=True)) == {"malformed", "oversized"}


def test_an_unknown_report_url_and_a_sender_off_the_allow_list_are_refused(sandbox, settings, live_server):
    flow = make_flow()
    assert requests.post(f"{live_server.url}/reports/not-a-secret/", data=b"{}").status_code == 404
    settings.OUTCOME_REPORT_ALLOWED_ADDRESSES = ["10.0.0.0/8"]
    assert requests.post(flow_report_url(flow), data=b"{}").status_code == 403
    settings.OUTCOME_REPORT_ALLOWED_ADDRESSES = ["127.0.0.0/8"]
    assert requests.post(flow_report_url(flow), data=b"{}").status_code == 400


def test_flow_report_url_prints_the_url_and_rotating_retires_the_old_one(sandbox, capsys):
    flow = make_flow()
    call_command("flow_report_url", "--flow-id", flow.flow_id)
    first = json.loads(capsys.readouterr().out)
    assert first == {"flow_id": flow.flow_id, "report_url": flow_report_url(flow)}
    call_command("flow_report_url", "--flow-id", flow.flow_id, "--rotate")
    second = json.loads(capsys.readouterr().out)
    assert second["report_url"] != first["report_url"]
    assert requests.post(first["report_url"], data=b"{}").status_code == 404
    assert requests.post(second["report_url"], data=b"{}").status_code == 400
