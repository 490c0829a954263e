"""What an integrator's tools expect of any HTTP API: problems always as JSON, the auth scheme in any
case, a bad cursor or an unknown filter as a 400 that says what is allowed, a path without its slash
redirected, and refusals that say what they mean."""

import pytest

from tests.api.conftest import rows

pytestmark = pytest.mark.usefixtures("eager_tasks")
PROBLEM = "application/problem+json"


def test_the_schema_without_a_key_is_a_json_problem(anonymous_api):
    response = anonymous_api.get("schema/")
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith(PROBLEM)
    assert response.json()["status"] == 401


@pytest.mark.parametrize("scheme", ["api-key", "API-KEY", "Api-Key"])
def test_the_api_key_scheme_is_case_insensitive(acme_api, acme_key, scheme):
    response = acme_api.session.get(acme_api.url("flows/"), headers={"Authorization": f"{scheme} {acme_key}"})
    assert response.status_code == 200


def test_a_cursor_the_api_did_not_give_is_a_400_naming_the_cursor(acme_api):
    response = acme_api.get("lists/?cursor=not-a-cursor")
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith(PROBLEM)
    assert response.json()["errors"] == [
        {"field": "cursor", "detail": "This cursor is not one the API gave; follow the `next` link as it is."}
    ]


def test_a_limit_that_is_not_a_page_size_is_a_400(acme_api):
    response = acme_api.get("lists/?limit=0")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "limit", "detail": "A limit is a whole number from 1 to 500."}]


def test_an_unknown_filter_is_a_400_naming_the_filters_that_exist(acme_api):
    # given a campaign
    list_id = acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(2), "close": True}).json()["id"]
    campaign_id = acme_api.post("campaigns/", json={"list": list_id}).json()["id"]

    # when its calls are filtered by a parameter that does not exist
    response = acme_api.get(f"campaigns/{campaign_id}/calls/?status=placed")

    # then the 400 names it and lists the ones that do
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "status"
    assert error["detail"].startswith(
        "'status' is not a parameter of this operation; it takes: state, outcome, pressed, question, number"
    )
    assert "cursor, limit" in error["detail"]


def test_an_empty_filter_value_is_refused_not_ignored(acme_api):
    list_id = acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(2), "close": True}).json()["id"]
    campaign_id = acme_api.post("campaigns/", json={"list": list_id}).json()["id"]
    assert acme_api.get(f"campaigns/{campaign_id}/calls/?state=").status_code == 400


def test_a_path_without_its_slash_is_redirected_with_the_method_kept(acme_api):
    # when
    listed = acme_api.session.get(acme_api.url("lists"), allow_redirects=False)
    created = acme_api.session.post(acme_api.url("lists"), json={"flow": "AcmeFlw1", "rows": rows(1)})

    # then a 308 to the path with its slash, which a client follows with its POST and body
    assert listed.status_code == 308 and listed.headers["Location"] == "/api/v1/lists/"
    assert listed.json()["detail"] == "The API's paths end with a slash: /api/v1/lists/"
    assert created.status_code == 201 and created.json()["rows_received"] == 1


def test_a_path_that_is_not_the_apis_is_still_a_404(acme_api):
    assert acme_api.get("nothing-here").status_code == 404


def test_closing_a_list_with_no_rows_says_so(acme_api):
    # given a list opened without rows
    list_id = acme_api.post("lists/", json={"flow": "AcmeFlw1"}).json()["id"]

    # when it is closed
    response = acme_api.post(f"lists/{list_id}/close/")

    # then the refusal is about the rows, not about a file
    assert response.status_code == 422
    assert response.json()["detail"].endswith(
        f"has no rows yet; append rows to it (POST /api/v1/lists/{list_id}/rows/) before closing it."
    )
    assert acme_api.get(f"lists/{list_id}/").json()["status"] == "open"


def test_opening_and_closing_an_empty_list_at_once_is_refused_and_nothing_kept(acme_api):
    response = acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": [], "close": True})
    assert response.status_code == 422 and "has no rows yet" in response.json()["detail"]
    assert acme_api.get("lists/").json()["results"] == []
