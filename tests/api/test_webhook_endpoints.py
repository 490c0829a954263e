"""Webhook endpoints managed over the API (create, list, read, delete, rotate the secret with an
overlap during which both secrets sign real deliveries), and calls filtered by external_id and time."""

import datetime
import json

import pytest
import standardwebhooks
from django.utils import timezone

from api.webhooks.models import WebhookEndpoint
from api.webhooks.signing import signature_verify
from api.webhooks.tasks import webhooks_tick_task
from dialer.models import Call
from tests.api.conftest import rows
from tests.api.receiver import Receiver

pytestmark = pytest.mark.usefixtures("eager_tasks")


@pytest.fixture
def receiver():
    running = Receiver().start()
    yield running
    running.stop()


def test_an_endpoint_is_created_listed_read_and_deleted_with_its_secret_shown_once(acme_api, globex_api, receiver):
    # when
    created = acme_api.post("webhooks/", json={"url": receiver.url, "events": ["list.imported"]})

    # then the secret is in the creation's answer only
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert endpoint["secret"].startswith("whsec_") and endpoint["events"] == ["list.imported"]
    location = acme_api.base_url + created.headers["Location"]
    read = acme_api.get(location).json()
    assert "secret" not in read and read["url"] == receiver.url
    assert [item["id"] for item in acme_api.get("webhooks/").json()["results"]] == [endpoint["id"]]
    assert globex_api.get(location).status_code == 404 and globex_api.get("webhooks/").json()["results"] == []

    # when deleted, nothing is left
    assert acme_api.session.delete(location).status_code == 204
    assert acme_api.get(location).status_code == 404
    assert not WebhookEndpoint.objects.exists()


def test_an_endpoint_the_pages_would_refuse_is_refused_with_their_sentence(acme_api):
    response = acme_api.post("webhooks/", json={"url": "ftp://hooks.example.com/"})
    assert response.status_code == 422
    assert response.json()["detail"] == "'ftp://hooks.example.com/' is not a web address (https://...)."


def test_during_a_rotations_overlap_deliveries_verify_with_the_old_and_the_new_secret(acme_api, receiver):
    # given an endpoint whose secret is rotated with an hour's overlap
    old = acme_api.post("webhooks/", json={"url": receiver.url}).json()
    rotated = acme_api.post(f"webhooks/{old['id']}/rotate-secret/", json={"overlap_hours": 1})
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old["secret"] and rotated.json()["previous_secret_expires_at"] is not None

    # when an event is delivered
    acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(1), "close": True})
    webhooks_tick_task()

    # then both secrets verify it, by both signatures
    [request] = receiver.received
    body, headers = request["body"], request["headers"]
    for secret in (old["secret"], new):
        assert signature_verify(secret=secret, body=body, header=headers["Phonon-Signature"])
        assert standardwebhooks.Webhook(secret).verify(body, headers) == json.loads(body)


def test_after_the_overlap_only_the_new_secret_signs(acme_api, receiver):
    # given a rotation whose overlap has run out
    old = acme_api.post("webhooks/", json={"url": receiver.url}).json()
    new = acme_api.post(f"webhooks/{old['id']}/rotate-secret/", json={"overlap_hours": 1}).json()["secret"]
    WebhookEndpoint.objects.filter(pk=old["id"]).update(
        previous_secret_expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )

    # when
    acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(1), "close": True})
    webhooks_tick_task()

    # then
    [request] = receiver.received
    body, header = request["body"], request["headers"]["Phonon-Signature"]
    assert signature_verify(secret=new, body=body, header=header)
    assert not signature_verify(secret=old["secret"], body=body, header=header)
    assert acme_api.get(f"webhooks/{old['id']}/").json()["previous_secret_expires_at"] is None


def test_an_overlap_longer_than_a_week_is_refused(acme_api, receiver):
    endpoint = acme_api.post("webhooks/", json={"url": receiver.url}).json()
    response = acme_api.post(f"webhooks/{endpoint['id']}/rotate-secret/", json={"overlap_hours": 169})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "overlap_hours"


def test_calls_are_filtered_by_external_id_and_by_when_they_changed(acme_api):
    # given a campaign of three contacts with client-identifiers, one of its calls changed later
    contacts = [{"tel1": f"9198{index:08d}", "client-identifier": f"crm-{index}"} for index in range(3)]
    list_id = acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": contacts, "close": True}).json()["id"]
    campaign_id = acme_api.post("campaigns/", json={"list": list_id, "window": "00:00-24:00"}).json()["id"]
    later = timezone.now() + datetime.timedelta(hours=1)
    Call.objects.filter(campaign_id=campaign_id, contact__external_id="crm-2").update(updated_at=later)

    # when / then
    by_id = acme_api.get(f"campaigns/{campaign_id}/calls/?external_id=crm-1").json()["results"]
    assert [call["external_id"] for call in by_id] == ["crm-1"]
    since = (later - datetime.timedelta(minutes=1)).isoformat()
    changed = acme_api.get(f"campaigns/{campaign_id}/calls/", params={"updated_after": since}).json()["results"]
    assert [call["external_id"] for call in changed] == ["crm-2"]
    before = acme_api.get(f"campaigns/{campaign_id}/calls/", params={"updated_before": since}).json()["results"]
    assert sorted(call["external_id"] for call in before) == ["crm-0", "crm-1"]
    bad = acme_api.get(f"campaigns/{campaign_id}/calls/?updated_after=yesterday")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "updated_after"
