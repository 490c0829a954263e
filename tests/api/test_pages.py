"""The manager pages for API keys and webhooks: a key and a secret shown once, revoke, the delivery
log, "send again", and nothing of another account."""

import json
import re

import pytest
from django.contrib.auth.models import User

from api.models import AccountAPIKey
from api.webhooks.models import Delivery, WebhookEndpoint
from api.webhooks.tasks import webhooks_tick_task
from tests.api.conftest import Api, rows
from tests.api.receiver import Receiver

pytestmark = pytest.mark.usefixtures("eager_tasks")


@pytest.fixture
def alice(acme):
    user = User.objects.create_user("alice", password="pw-alice-123")
    acme.managers.add(user)
    return user


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def test_a_manager_creates_a_key_sees_it_once_and_revokes_it(alice_client, acme, live_server):
    # when
    page = alice_client.post("/settings/api-keys/", {"account": acme.pk, "name": "CRM"}).content.decode()

    # then the whole key is on this answer only
    key = re.search(r'data-testid="new-key">([^<]+)<', page).group(1)
    assert Api(live_server.url, key).get("flows/").status_code == 200
    assert key not in alice_client.get("/settings/api-keys/").content.decode()

    # and when it is revoked
    prefix = key.split(".")[0]
    alice_client.post(f"/settings/api-keys/{prefix}/revoke/")
    assert AccountAPIKey.objects.get(prefix=prefix).revoked
    assert Api(live_server.url, key).get("flows/").status_code == 401


def test_a_manager_cannot_revoke_another_accounts_key(alice_client, globex_key):
    # when
    response = alice_client.post(f"/settings/api-keys/{globex_key.split('.')[0]}/revoke/")

    # then
    assert response.status_code == 404 and not AccountAPIKey.objects.get().revoked


def test_a_manager_adds_a_webhook_and_sees_its_secret_once(alice_client, acme):
    # when
    page = alice_client.post(
        "/settings/webhooks/", {"account": acme.pk, "url": "https://hooks.example.com/x", "events": ["list.imported"]}
    ).content.decode()

    # then
    secret = re.search(r'data-testid="new-secret">([^<]+)<', page).group(1)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret == secret and endpoint.events == ["list.imported"]
    assert secret not in alice_client.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()


def test_a_refused_webhook_url_is_shown_on_the_form(alice_client, acme, settings):
    # given
    settings.WEBHOOK_ALLOW_LOCAL = False

    # when
    response = alice_client.post("/settings/webhooks/", {"account": acme.pk, "url": "http://hooks.example.com/"})

    # then
    assert response.status_code == 400
    assert "A webhook URL must start with https://." in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_the_delivery_log_shows_codes_and_times_and_sends_again(alice_client, acme, acme_api):
    # given a delivered event
    receiver = Receiver([503]).start()
    try:
        alice_client.post("/settings/webhooks/", {"account": acme.pk, "url": receiver.url})
        endpoint = WebhookEndpoint.objects.get()
        acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(1), "close": True})
        webhooks_tick_task()

        # when the log is read, and the delivery sent again
        log = alice_client.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
        delivery = Delivery.objects.get()
        alice_client.post(f"/settings/webhooks/deliveries/{delivery.pk}/send-again/")
        webhooks_tick_task()
    finally:
        receiver.stop()

    # then
    assert "list.imported" in log and "<strong>503</strong>" in log and " ms" in log
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 2
    assert len({json.loads(request["body"])["id"] for request in receiver.received}) == 1


def test_another_accounts_webhook_is_not_found(alice_client, globex):
    # given
    endpoint = WebhookEndpoint.objects.create(account=globex, url="https://globex.example.com/", secret="s")

    # when / then
    assert alice_client.get(f"/settings/webhooks/{endpoint.pk}/").status_code == 404
    assert alice_client.post(f"/settings/webhooks/{endpoint.pk}/delete/").status_code == 404
    assert "globex.example.com" not in alice_client.get("/settings/webhooks/").content.decode()


def test_the_footer_links_the_api_docs(alice_client):
    # when
    page = alice_client.get("/").content.decode()

    # then
    assert 'href="/api/v1/docs/"' in page and 'href="/settings/webhooks/"' in page
