"""Admin for API keys, webhooks, deliveries and events: pages load, a key made there is shown once."""

import re

import pytest
from django.contrib.auth.models import User

from api.models import AccountAPIKey

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    User.objects.create_superuser("root", password="pw-root-123")
    client.force_login(User.objects.get(username="root"))
    return client


@pytest.mark.parametrize("model", ["api/accountapikey", "api/webhookendpoint", "api/delivery", "events/event"])
def test_the_changelists_load(admin_client, model):
    assert admin_client.get(f"/admin/{model}/").status_code == 200


def test_an_admin_creates_a_key_and_sees_it_once(admin_client, acme):
    # when
    response = admin_client.post("/admin/api/accountapikey/add/", {"account": acme.pk, "name": "Ops script"},
                                 follow=True)

    # then
    page = response.content.decode()
    key = re.search(r"is ([A-Za-z0-9]{8}\.[A-Za-z0-9]+) — copy it now", page).group(1)
    stored = AccountAPIKey.objects.get()
    assert stored.prefix == key.split(".")[0] and stored.is_valid(key) and stored.account == acme


def test_an_admin_webhook_with_a_private_address_is_refused(admin_client, acme):
    # when
    response = admin_client.post("/admin/api/webhookendpoint/add/",
                                 {"account": acme.pk, "url": "https://10.1.2.3/x", "events": "[]", "active": "on"})

    # then
    assert response.status_code == 200
    assert "a private, loopback or link-local address" in response.content.decode()
