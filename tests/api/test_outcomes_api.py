"""Outcomes over the API and webhooks: calls carry their outcome and filter by it, a campaign its
outcome summary, and a `calls.outcomes` event batches the changes of a campaign."""

import io
import json

import pytest
from django.core.management import call_command

from api.webhooks.tasks import webhooks_tick_task
from dialer.models import OutcomeChange
from dialer.outcomes import applying, events
from flows.models import Flow
from flows.services import flow_report_url
from tests.api.conftest import rows
from tests.api.receiver import Receiver
from tests.processes import wait_until

pytestmark = pytest.mark.usefixtures("eager_tasks", "sandbox")


@pytest.fixture
def reported_campaign(acme_api, sandbox, settings, live_server):
    settings.SITE_URL = live_server.url
    flow = Flow.objects.get(flow_id="AcmeFlw1")
    sandbox.provider.outcomes.configure({"delay_seconds": 0.1, "seed": 3, "odds": {"answered": 1, "busy": 1}})
    sandbox.provider.outcomes.set_report_urls({flow.flow_id: flow_report_url(flow)})
    list_id = acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(6), "close": True}).json()["id"]
    campaign_id = acme_api.post("campaigns/", json={"list": list_id, "window": "00:00-24:00"}).json()["id"]

    def all_reported():
        applying.reports_apply()
        return acme_api.get(f"campaigns/{campaign_id}/").json()["outcomes"]["unknown"] == 0

    wait_until(all_reported, timeout=60, message="every call's report")
    return campaign_id


def test_calls_carry_their_outcome_and_filter_by_it(acme_api, reported_campaign):
    calls = acme_api.get(f"campaigns/{reported_campaign}/calls/").json()["results"]
    assert {call["outcome"] for call in calls} <= {"answered", "busy"} and len(calls) == 6
    answered = [call for call in calls if call["outcome"] == "answered"]
    assert answered and all(call["talk_seconds"] > 0 and call["connected_at"] for call in answered)
    assert all(call["hangup_cause_words"] == "16 normal call clearing" for call in answered)
    busy = acme_api.get(f"campaigns/{reported_campaign}/calls/", params={"outcome": "busy"}).json()["results"]
    assert [call["id"] for call in busy] == [call["id"] for call in calls if call["outcome"] == "busy"]
    bad = acme_api.get(f"campaigns/{reported_campaign}/calls/", params={"outcome": "maybe"})
    assert bad.status_code == 400


def test_a_campaign_carries_its_outcome_summary(acme_api, reported_campaign):
    outcomes = acme_api.get(f"campaigns/{reported_campaign}/").json()["outcomes"]
    assert outcomes["answered"] + outcomes["busy"] == 6
    assert outcomes["pending"] == 0 and outcomes["unknown"] == 0
    assert (outcomes["average_talk_seconds"] is None) == (outcomes["answered"] == 0)


def test_one_calls_outcomes_event_carries_every_change_of_a_campaign(acme_api, acme, reported_campaign, settings):
    receiver = Receiver().start()
    try:
        out = io.StringIO()
        call_command(
            "add_webhook", "--account", acme.client_id, "--url", receiver.url, "--event", "calls.outcomes", stdout=out
        )
        assert events.outcome_events_record() == 1
        assert not OutcomeChange.objects.exists()
        assert events.outcome_events_record() == 0  # nothing new: no event
        webhooks_tick_task()
        (request,) = receiver.received
        event = json.loads(request["body"])
        assert event["type"] == "calls.outcomes"
        data = event["data"]
        assert data["id"] == reported_campaign and len(data["calls"]) == 6 and data["more"] is False
        assert data["outcomes"]["answered"] == sum(call["outcome"] == "answered" for call in data["calls"])
    finally:
        receiver.stop()
