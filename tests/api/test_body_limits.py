"""Large bodies over the API: the list endpoints take JSON rows up to API_JSON_MAX_BYTES and a CSV up
to UPLOAD_MAX_BYTES from a valid key, past the 1 MB every other request is held to; every refusal is
a problem+json with its sentence, never the browser's page."""

import pytest
from django.conf import settings as django_settings

from campaigns.models import ContactList
from tests.api.conftest import Api, phone

PROBLEM = "application/problem+json"
pytestmark = pytest.mark.usefixtures("eager_tasks")

PADDING = "x" * 120  # a long variable: 10,000 rows come to about 1.7 MB of JSON


def long_rows(count: int, first: int = 0) -> list[dict]:
    return [{"tel1": phone(first + i), "note": f"{first + i} {PADDING}"} for i in range(count)]


def over_forms_limit(body_size: int) -> bool:
    return body_size > django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def test_json_rows_over_the_forms_limit_are_taken_from_a_valid_key(acme_api):
    # given as many rows as a request may carry, more than 1 MB of JSON
    rows = long_rows(10_000)

    # when they open a list, and as many again are appended, closing it
    created = acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows})
    assert over_forms_limit(len(created.request.body))
    assert created.status_code == 201, created.text[:300]
    closed = acme_api.post(f"lists/{created.json()['id']}/rows/", json={"rows": long_rows(10_000, 10_000),
                                                                         "close": True})

    # then every row went through the importer
    assert closed.status_code == 200, closed.text[:300]
    listed = acme_api.get(f"lists/{created.json()['id']}/").json()
    assert (listed["status"], listed["rows_received"], listed["imported"]) == ("imported", 20_000, 20_000)


def test_a_csv_over_the_forms_limit_is_taken_from_a_valid_key(acme_api):
    # given a CSV of about 1.5 MB
    content = ("tel1,$flow.key.note\n" + "".join(f"{phone(i)},{i} {PADDING}\n" for i in range(11_000))).encode()
    assert over_forms_limit(len(content))

    # when it is uploaded over the API
    created = acme_api.post("lists/", data={"flow": "AcmeFlw1"}, files={"file": ("big.csv", content, "text/csv")})

    # then it is imported whole
    assert created.status_code == 201, created.text[:300]
    listed = acme_api.get(f"lists/{created.json()['id']}/").json()
    assert (listed["status"], listed["imported"]) == ("imported", 11_000)


@pytest.mark.parametrize("key", [None, "pfx.not-a-key"], ids=["no key", "an unknown key"])
def test_a_large_body_without_a_valid_key_is_refused_unread_as_a_problem(live_server, acme_flow, key):
    # given a caller without a valid key
    api = Api(live_server.url, key)

    # when it sends more than 1 MB of rows
    response = api.post("lists/", json={"flow": "AcmeFlw1", "rows": long_rows(10_000)})

    # then the body is refused as a problem that says what would be taken
    assert response.status_code == 413
    assert response.headers["Content-Type"] == PROBLEM
    problem = response.json()
    assert (problem["status"], problem["code"], problem["instance"]) == (413, "too_large", "/api/v1/lists/")
    assert problem["detail"] == (
        "The request is larger than 1.0 MB; a larger one needs a valid API key (Authorization: Api-Key <key>)."
    )
    assert not ContactList.objects.exists()


def test_a_json_body_over_the_api_limit_is_refused_as_a_problem(acme_api, settings):
    # given a JSON limit of 1.2 MB
    settings.API_JSON_MAX_BYTES = 1_200_000

    # when a key sends 1.7 MB of rows
    response = acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": long_rows(10_000)})

    # then it is refused, saying the limit and what to do
    assert response.status_code == 413
    assert response.headers["Content-Type"] == PROBLEM
    assert response.json()["detail"] == "A JSON body is at most 1,200,000 bytes; send fewer rows a request."
    assert not ContactList.objects.exists()


def test_a_large_body_to_an_endpoint_that_takes_small_ones_is_a_problem_too(acme_api):
    # when a key sends more than 1 MB to the campaigns endpoint
    response = acme_api.post("campaigns/", json={"name": PADDING * 10_000})

    # then the refusal is the API's problem, not the browser's page
    assert response.status_code == 413
    assert response.headers["Content-Type"] == PROBLEM
    assert response.json()["detail"] == "The request is larger than 1.0 MB, the most this endpoint accepts."
