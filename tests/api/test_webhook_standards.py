"""Webhook receivers get an order they can rely on (a sequence number per object) and the Standard
Webhooks headers beside Phonon-Signature, verified here by the standardwebhooks and Svix libraries
on real deliveries to a receiver on 127.0.0.1."""

import io
import json

import pytest
import standardwebhooks
import svix.webhooks
from django.core.management import call_command

from api.webhooks.signing import signature_verify
from api.webhooks.tasks import webhooks_tick_task
from events.models import Event
from events.recording import event_record
from tests.api.conftest import rows
from tests.api.receiver import Receiver

pytestmark = pytest.mark.usefixtures("eager_tasks")


@pytest.fixture
def receiver():
    running = Receiver().start()
    yield running
    running.stop()


def add_webhook(account, url) -> str:
    out = io.StringIO()
    call_command("add_webhook", "--account", account.client_id, "--url", url, stdout=out)
    return json.loads(out.getvalue())["secret"]


def test_real_deliveries_verify_with_the_standard_webhooks_and_svix_libraries(acme_api, acme, receiver):
    # given an endpoint and two lists imported (two events, two deliveries)
    secret = add_webhook(acme, receiver.url)
    for _ in range(2):
        acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(2), "close": True})

    # when the outbox is sent
    webhooks_tick_task()

    # then each delivery verifies with both libraries, unchanged, and with Phonon-Signature
    assert len(receiver.received) == 2
    for request in receiver.received:
        body, headers = request["body"], request["headers"]
        assert standardwebhooks.Webhook(secret).verify(body, headers) == json.loads(body)
        svix.webhooks.Webhook(secret).verify(body, headers)
        assert signature_verify(secret=secret, body=body, header=headers["Phonon-Signature"])
        assert headers["webhook-id"] == json.loads(body)["id"] == headers["Phonon-Event-Id"]


def test_a_tampered_delivery_is_refused_by_both_libraries(acme_api, acme, receiver):
    secret = add_webhook(acme, receiver.url)
    acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(1), "close": True})
    webhooks_tick_task()
    [request] = receiver.received

    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(secret).verify(request["body"] + b" ", request["headers"])
    with pytest.raises(svix.webhooks.WebhookVerificationError):
        svix.webhooks.Webhook(add_webhook(acme, receiver.url + "/another")).verify(request["body"], request["headers"])


def test_each_object_numbers_its_events_in_the_order_they_happened(acme):
    # when two objects each have events
    first = [event_record(account=acme, type="campaign.started", payload={"object": "campaign", "id": 7})]
    other = event_record(account=acme, type="list.imported", payload={"object": "list", "id": 7})
    first += [
        event_record(account=acme, type=kind, payload={"object": "campaign", "id": 7})
        for kind in ("campaign.paused", "campaign.resumed")
    ]

    # then each counts on its own
    assert [event.sequence for event in first] == [1, 2, 3]
    assert other.sequence == 1


def test_a_delivery_carries_its_sequence_in_the_body_and_a_header(acme_api, acme, receiver):
    # given a campaign launched and cancelled (its events: cancelled after whatever came before)
    add_webhook(acme, receiver.url)
    list_id = acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(2), "close": True}).json()["id"]
    campaign_id = acme_api.post("campaigns/", json={"list": list_id, "window": "00:00-24:00"}).json()["id"]
    acme_api.post(f"campaigns/{campaign_id}/cancel/")

    # when
    webhooks_tick_task()

    # then the campaign's events arrive numbered 1, 2, ... and the list's on its own
    events = [json.loads(request["body"]) for request in receiver.received]
    by_object: dict = {}
    for event, request in zip(events, receiver.received, strict=True):
        assert request["headers"]["Phonon-Event-Sequence"] == str(event["sequence"])
        by_object.setdefault((event["data"]["object"], event["data"]["id"]), []).append(event["sequence"])
    assert by_object[("list", list_id)] == [1]
    campaign_sequences = by_object[("campaign", campaign_id)]
    assert sorted(campaign_sequences) == list(range(1, len(campaign_sequences) + 1))
    last = Event.objects.filter(object_type="campaign", object_id=campaign_id).order_by("sequence").last()
    assert last.type == "campaign.cancelled"
