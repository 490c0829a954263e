"""Webhooks to a real receiver on 127.0.0.1: signed events, retries until the receiver recovers,
filters by type, addresses refused after DNS, "send again", and the add_webhook command."""

import io
import json
import socket
import time

import pytest
from django.core.management import call_command

from api.webhooks.models import Delivery
from api.webhooks.signing import signature_verify
from api.webhooks.tasks import webhooks_tick_task
from events.models import Event
from tests.api.conftest import rows
from tests.api.receiver import Receiver

pytestmark = pytest.mark.usefixtures("eager_tasks")


@pytest.fixture
def receiver():
    running = Receiver().start()
    yield running
    running.stop()


def add_webhook(account, url, *events) -> dict:
    out = io.StringIO()
    call_command("add_webhook", "--account", account.client_id, "--url", url,
                 *[arg for event in events for arg in ("--event", event)], stdout=out)
    return json.loads(out.getvalue())


def test_add_webhook_prints_the_endpoint_and_its_secret_once(acme):
    # when
    printed = add_webhook(acme, "https://hooks.example.com/phonon", "campaign.completed")

    # then
    assert set(printed) == {"webhook_id", "secret"} and printed["secret"].startswith("whsec_")
    endpoint = acme.webhook_endpoints.get(pk=printed["webhook_id"])
    assert endpoint.events == ["campaign.completed"] and endpoint.secret == printed["secret"]


@pytest.mark.parametrize("url, error", [
    ("ftp://hooks.example.com/", "'ftp://hooks.example.com/' is not a web address (https://...)."),
    ("http://10.20.30.40/hook", "The webhook URL leads to 10.20.30.40, a private, loopback or link-local address."),
])
def test_add_webhook_refuses_what_cannot_receive_events(acme, url, error):
    # when
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("add_webhook", "--account", acme.client_id, "--url", url, stdout=out)

    # then
    assert exit_.value.code == 1 and json.loads(out.getvalue()) == {"error": error}


def test_add_webhook_refuses_plain_http_unless_local_delivery_is_allowed(acme, settings):
    # given production's setting
    settings.WEBHOOK_ALLOW_LOCAL = False

    # when
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("add_webhook", "--account", acme.client_id, "--url", "http://hooks.example.com/", stdout=out)

    # then
    assert json.loads(out.getvalue()) == {"error": "A webhook URL must start with https://."}


def test_an_imported_list_is_delivered_signed_with_the_list_as_the_api_returns_it(acme_api, acme, receiver):
    # given
    secret = add_webhook(acme, receiver.url)["secret"]
    list_id = acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(2), "close": True}).json()["id"]

    # when
    webhooks_tick_task()

    # then
    assert len(receiver.received) == 1
    request = receiver.received[0]
    assert signature_verify(secret=secret, body=request["body"], header=request["headers"]["Phonon-Signature"])
    assert not signature_verify(secret="whsec_other", body=request["body"],
                                header=request["headers"]["Phonon-Signature"])
    event = json.loads(request["body"])
    assert event["type"] == "list.imported" and event["account"] == acme.client_id
    assert request["headers"]["Phonon-Event-Id"] == event["id"] == str(Event.objects.get().event_id)
    assert event["data"] == {"object": "list", **acme_api.get(f"lists/{list_id}/").json()}
    delivery = Delivery.objects.get()
    assert delivery.status == "delivered"
    attempt = delivery.attempt_log.get()
    assert attempt.status_code == 200 and attempt.duration_ms is not None


def test_a_receiver_answering_500_gets_the_event_once_it_recovers(acme_api, acme, settings):
    # given a receiver that fails once, and short backoff
    settings.WEBHOOK_BACKOFF_BASE = 0.05
    receiver = Receiver([500]).start()
    try:
        add_webhook(acme, receiver.url)
        acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(1), "close": True})

        # when
        webhooks_tick_task()
        delivery = Delivery.objects.get()
        assert (delivery.status, delivery.last_status_code, delivery.attempts) == ("pending", 500, 1)
        time.sleep(0.2)
        webhooks_tick_task()
    finally:
        receiver.stop()

    # then
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert [attempt.status_code for attempt in delivery.attempt_log.all()] == [500, 200]
    ids = {json.loads(request["body"])["id"] for request in receiver.received}
    assert len(receiver.received) == 2 and len(ids) == 1


def test_only_the_chosen_event_types_are_sent(acme_api, acme, receiver):
    # given
    add_webhook(acme, receiver.url, "campaign.completed")
    acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(1), "close": True})

    # when
    webhooks_tick_task()

    # then
    assert receiver.received == [] and not Delivery.objects.exists()
    assert Event.objects.get().fanned_out_at is not None


def test_a_campaign_paused_by_the_provider_says_why_and_with_which_code(acme_api, acme, receiver, sandbox):
    # given the provider refuses every request with 211
    add_webhook(acme, receiver.url, "campaign.started", "campaign.paused")
    sandbox.provider.set_faults(force_code=211)
    list_id = acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(2), "close": True}).json()["id"]
    campaign_id = acme_api.post("campaigns/", json={"list": list_id, "window": "00:00-24:00"}).json()["id"]

    # when
    webhooks_tick_task()

    # then
    events = [json.loads(request["body"]) for request in receiver.received]
    assert [event["type"] for event in events] == ["campaign.started", "campaign.paused"]
    paused = events[1]["data"]
    assert paused["id"] == campaign_id and paused["status"] == "paused" and paused["provider_code"] == 211
    assert paused["status_reason"].startswith("The provider answered")
    assert events[0]["data"]["status"] == "running"


def test_a_host_that_resolves_to_a_private_address_is_refused_at_send_time(acme_api, acme, monkeypatch, settings):
    # given a name that DNS points at the private network
    add_webhook(acme, "https://hooks.example.com/phonon")
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "hooks.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(1), "close": True})

    # when
    webhooks_tick_task()

    # then
    attempt = Delivery.objects.get().attempt_log.get()
    assert attempt.status_code is None
    assert attempt.error == "The webhook URL leads to 10.0.0.7, a private, loopback or link-local address."


def test_loopback_is_refused_after_dns_when_local_delivery_is_not_allowed(acme_api, acme, receiver, settings):
    # given an endpoint named localhost, and production's setting
    add_webhook(acme, receiver.url.replace("http://127.0.0.1", "https://localhost"))
    settings.WEBHOOK_ALLOW_LOCAL = False
    acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(1), "close": True})

    # when
    webhooks_tick_task()

    # then
    assert receiver.received == []
    assert "a private, loopback or link-local address" in Delivery.objects.get().attempt_log.get().error


def test_a_failed_tls_handshake_is_recorded_and_retried(acme_api, acme, receiver):
    # given an https:// endpoint whose server speaks plain HTTP
    add_webhook(acme, receiver.url.replace("http://127.0.0.1", "https://localhost"))
    acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(1), "close": True})

    # when
    webhooks_tick_task()

    # then
    delivery = Delivery.objects.get()
    assert delivery.status == "pending" and delivery.next_attempt_at > delivery.attempt_log.get().started_at
    assert "SSL" in delivery.attempt_log.get().error
