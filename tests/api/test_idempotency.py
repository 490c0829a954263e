"""Idempotency-Key: the same key and body replay the first answer; another body is a 422."""

import pytest

from api.keys import api_key_create
from campaigns.models import ContactList
from tests.api.conftest import Api, phone, rows

pytestmark = pytest.mark.usefixtures("eager_tasks")


def test_a_repeated_post_with_the_same_key_and_body_returns_the_first_answer(acme_api):
    # given
    body = {"flow": "AcmeFlw1", "name": "Once", "rows": rows(2)}
    headers = {"Idempotency-Key": "crm-export-2026-12-01"}

    # when
    first = acme_api.post("lists/", json=body, headers=headers)
    second = acme_api.post("lists/", json=body, headers=headers)

    # then
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Location"] == first.headers["Location"]
    assert ContactList.objects.count() == 1


def test_a_replayed_append_adds_the_rows_once(acme_api):
    # given
    list_id = acme_api.post("lists/", json={"flow": "AcmeFlw1"}).json()["id"]
    headers = {"Idempotency-Key": "chunk-1"}

    # when the client retries a chunk whose answer it lost
    acme_api.post(f"lists/{list_id}/rows/", json={"rows": rows(3)}, headers=headers)
    acme_api.post(f"lists/{list_id}/rows/", json={"rows": rows(3)}, headers=headers)

    # then
    assert ContactList.objects.get(pk=list_id).open_list.rows_received == 3


def test_the_same_key_with_another_body_is_refused(acme_api):
    # given
    headers = {"Idempotency-Key": "k-1"}
    acme_api.post("lists/", json={"flow": "AcmeFlw1", "name": "A"}, headers=headers)

    # when
    response = acme_api.post("lists/", json={"flow": "AcmeFlw1", "name": "B"}, headers=headers)

    # then
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "idempotency_key_reused" and problem["errors"][0]["field"] == "Idempotency-Key"
    assert ContactList.objects.count() == 1


def test_a_multipart_upload_sent_again_with_another_boundary_is_the_same_request(acme_api):
    # given
    content = f"tel1\n{phone(1)}\n".encode()
    headers = {"Idempotency-Key": "upload-1"}

    # when (requests draws a new multipart boundary for every request)
    first = acme_api.post("lists/", data={"flow": "AcmeFlw1"}, files={"file": ("a.csv", content)}, headers=headers)
    second = acme_api.post("lists/", data={"flow": "AcmeFlw1"}, files={"file": ("a.csv", content)}, headers=headers)

    # then
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.json()["id"] == first.json()["id"]
    assert ContactList.objects.count() == 1


def test_keys_are_per_account(acme_api, globex_api):
    # given both accounts use the same key string
    headers = {"Idempotency-Key": "same"}

    # when
    acme = acme_api.post("lists/", json={"flow": "AcmeFlw1"}, headers=headers)
    globex = globex_api.post("lists/", json={"flow": "GlobFlw1"}, headers=headers)

    # then
    assert acme.status_code == globex.status_code == 201 and acme.json()["id"] != globex.json()["id"]


def test_a_second_api_key_of_the_same_account_gets_the_first_keys_answer(acme_api, acme, live_server):
    # given Acme's CRM sent a request with one of its keys
    second = Api(live_server.url, api_key_create(account=acme, name="Acme CRM, second host")[1])
    headers = {"Idempotency-Key": "crm-run-7"}
    first = acme_api.post("lists/", json={"flow": "AcmeFlw1"}, headers=headers)

    # when its other host retries with the account's other key
    again = second.post("lists/", json={"flow": "AcmeFlw1"}, headers=headers)

    # then the retry is the first answer, and one list exists
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert ContactList.objects.count() == 1


def test_a_blank_idempotency_key_is_refused_naming_the_header(acme_api):
    response = acme_api.post("lists/", json={"flow": "AcmeFlw1"}, headers={"Idempotency-Key": ""})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert not ContactList.objects.exists()


def test_an_error_answer_is_replayed_too(acme_api):
    # given
    headers = {"Idempotency-Key": "bad-1"}

    # when
    first = acme_api.post("lists/", json={"flow": "NoSuchFl"}, headers=headers)
    second = acme_api.post("lists/", json={"flow": "NoSuchFl"}, headers=headers)

    # then
    assert first.status_code == second.status_code == 422
    assert second.json() == first.json() and second.headers["Content-Type"].startswith("application/problem+json")
