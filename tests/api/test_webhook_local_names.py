"""Issue 24: `https://localhost…` was accepted when a webhook was registered (and refused only at send
time). Now this machine's names, and loopback written in any shorthand, are refused at registration, on
the settings page, in admin and by `add_webhook`; a public URL beside them is still taken."""

import io
import json

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from api.webhooks.models import WebhookEndpoint

LOCAL_URLS = [
    "https://localhost/hook",
    "https://LOCALHOST./hook",
    "https://hooks.localhost:8443/hook",
    "https://127.1/hook",
    "https://0x7f000001/hook",
]


@pytest.fixture(autouse=True)
def _production_setting(settings):
    settings.WEBHOOK_ALLOW_LOCAL = False


@pytest.fixture
def alice_client(client, acme):
    alice = User.objects.create_user("alice", password="pw-alice-123")
    acme.managers.add(alice)
    client.force_login(alice)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("url", LOCAL_URLS)
def test_a_manager_cannot_register_a_webhook_to_this_machine(alice_client, acme, url):
    response = alice_client.post("/settings/webhooks/", {"account": acme.pk, "url": url, "events": []})

    assert response.status_code == 400 and not WebhookEndpoint.objects.exists()
    if "localhost/" in url or "localhost:" in url:
        assert "a private, loopback or link-local address" in response.content.decode()


@pytest.mark.django_db
def test_a_public_webhook_beside_them_is_registered(alice_client, acme):
    response = alice_client.post("/settings/webhooks/", {"account": acme.pk, "url": "https://hooks.example.com/x"})

    assert response.status_code == 200
    assert WebhookEndpoint.objects.get().url == "https://hooks.example.com/x"


@pytest.mark.django_db
def test_add_webhook_and_admin_refuse_localhost(acme, client):
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("add_webhook", "--account", acme.client_id, "--url", "https://localhost/hook", stdout=out)
    assert json.loads(out.getvalue()) == {
        "error": "The webhook URL leads to localhost, a private, loopback or link-local address."
    }

    client.force_login(User.objects.create_superuser("root", password="pw-root-123"))
    response = client.post(
        "/admin/api/webhookendpoint/add/",
        {"account": acme.pk, "url": "https://localhost/hook", "events": "[]", "active": "on"},
    )
    assert response.status_code == 200 and "a private, loopback or link-local address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()
