"""The API and its webhooks with real worker and beat processes, the live server and the sandbox:
an integrator's whole path through the API only, and a worker killed in the middle of a delivery."""

import io
import json

import pytest
from django.core.management import call_command

from api.webhooks.delivery import NO_OUTCOME
from api.webhooks.models import Delivery
from api.webhooks.signing import signature_verify
from tests.api.conftest import Api, phone
from tests.api.receiver import Receiver
from tests.factories import make_flow
from tests.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def command(*args) -> dict:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def receiver():
    running = Receiver().start()
    yield running
    running.stop()


def test_an_integrator_creates_launches_hears_completed_and_reads_calls_through_the_api_only(
    sandbox, start_processes, live_server, receiver, settings, tmp_path
):
    # given an admin's set-up through the commands: a flow, a key, a webhook
    settings.MEDIA_ROOT = tmp_path
    start_processes(workers=1, MEDIA_ROOT=tmp_path, WEBHOOK_TICK_SECONDS=0.5)
    flow = make_flow(flow_id="ApiE2e01", client_id="C777001")
    key = command("create_api_key", "--account", "C777001", "--name", "CRM")["key"]
    secret = command("add_webhook", "--account", "C777001", "--url", receiver.url)["secret"]
    api = Api(live_server.url, key)

    # when the integrator sends 1,200 rows in two chunks, launches round the clock, and waits
    rows = [{"tel1": phone(i), "name": f"Customer {i}"} for i in range(1200)]
    list_id = api.post("lists/", json={"flow": flow.flow_id, "rows": rows[:700]}).json()["id"]
    api.post(f"lists/{list_id}/rows/", json={"rows": rows[700:], "close": True})
    wait_until(lambda: api.get(f"lists/{list_id}/").json()["status"] == "imported", timeout=60, message="the import")
    campaign = api.post("campaigns/", json={"list": list_id, "window": "00:00-24:00"}, headers={"Idempotency-Key": "x"})
    assert campaign.status_code == 201, campaign.text

    def completed():
        for request in receiver.received:
            event = json.loads(request["body"])
            if event["type"] == "campaign.completed":
                return request, event
        return None

    request, event = wait_until(completed, timeout=120, message="the campaign.completed webhook")

    # then the webhook is signed and carries the campaign with its counts
    assert signature_verify(secret=secret, body=request["body"], header=request["headers"]["Phonon-Signature"])
    assert event["data"]["id"] == campaign.json()["id"] and event["data"]["status"] == "completed"
    assert event["data"]["counts"]["placed"] == 1200
    types = [json.loads(r["body"])["type"] for r in receiver.received]
    assert types.index("list.imported") < types.index("campaign.started") < types.index("campaign.completed")
    # and every call, read page by page, carries the provider's UUID from the ledger
    ledger = {entry["client-identifier"]: entry["phonon-uuid"] for entry in sandbox.provider.ledger()}
    page = api.get(f"campaigns/{campaign.json()['id']}/calls/", params={"limit": 500}).json()
    calls = page["results"]
    while page["next"]:
        page = api.get(page["next"]).json()
        calls += page["results"]
    assert len(calls) == 1200 == len(ledger)
    assert {call["client_identifier"]: call["phonon_uuid"] for call in calls} == ledger


def test_a_worker_killed_in_the_middle_of_a_delivery_loses_no_event(
    start_processes, live_server, settings, tmp_path
):
    # given a receiver that holds its first request, and short leases
    settings.MEDIA_ROOT = tmp_path
    receiver = Receiver(hang_first_seconds=30).start()
    processes = start_processes(
        workers=1, MEDIA_ROOT=tmp_path, WEBHOOK_TICK_SECONDS=0.5, WEBHOOK_TIMEOUT=8, WEBHOOK_LEASE_SECONDS=10
    )
    make_flow(flow_id="ApiE2e02", client_id="C777002")
    key = command("create_api_key", "--account", "C777002", "--name", "CRM")["key"]
    command("add_webhook", "--account", "C777002", "--url", receiver.url, "--event", "list.imported")
    api = Api(live_server.url, key)
    try:
        api.post("lists/", json={"flow": "ApiE2e02", "rows": [{"tel1": phone(1)}], "close": True})
        wait_until(lambda: receiver.received, timeout=60, message="the first delivery to arrive")

        # when the worker is killed while the receiver holds the request
        processes.kill_worker(0)

        # then the delivery is tried again once its lease runs out, and arrives
        delivery = wait_until(
            lambda: (d := Delivery.objects.filter(status="delivered").first()) and d, timeout=60,
            message="the delivery after the worker was killed",
        )
    finally:
        receiver.stop()
    attempts = list(delivery.attempt_log.all())
    assert [attempt.status_code for attempt in attempts] == [None, 200]
    assert attempts[0].error == NO_OUTCOME
    assert len({json.loads(r["body"])["id"] for r in receiver.received}) == 1 and len(receiver.received) == 2
