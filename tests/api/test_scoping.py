"""A key sees its own account only: every object of another account is a 404, never a 403."""

import pytest

from campaigns.models import ContactList
from tests.api.conftest import rows

pytestmark = pytest.mark.usefixtures("eager_tasks", "sandbox")


@pytest.fixture
def acme_objects(acme_api):
    list_id = acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(2), "close": True}).json()["id"]
    open_id = acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(1)}).json()["id"]
    campaign_id = acme_api.post("campaigns/", json={"list": list_id, "window": "00:00-24:00"}).json()["id"]
    return {"list": list_id, "open": open_id, "campaign": campaign_id}


READS = [
    "flows/AcmeFlw1/", "lists/{list}/", "lists/{list}/rejected.csv", "campaigns/{campaign}/",
    "campaigns/{campaign}/calls/", "campaigns/{campaign}/results.csv",
]
WRITES = [
    "lists/{open}/rows/", "lists/{open}/close/", "campaigns/{campaign}/pause/", "campaigns/{campaign}/resume/",
    "campaigns/{campaign}/cancel/",
]


@pytest.mark.parametrize("path", READS)
def test_another_accounts_object_is_not_found(globex_api, acme_objects, path):
    # when
    response = globex_api.get(path.format(**acme_objects))

    # then
    assert response.status_code == 404
    assert response.json()["detail"] == "There is no such object for this API key's account."


@pytest.mark.parametrize("path", WRITES)
def test_another_accounts_object_cannot_be_changed(globex_api, acme_objects, path):
    # when
    response = globex_api.post(path.format(**acme_objects), json={"rows": rows(1)})

    # then
    assert response.status_code == 404
    assert ContactList.objects.get(pk=acme_objects["open"]).open_list.rows_received == 1


def test_lists_of_other_accounts_are_neither_listed_nor_launchable(globex_api, acme_objects):
    # when
    listed = globex_api.get("lists/").json()["results"]
    flows = globex_api.get("flows/").json()["results"]
    launched = globex_api.post("campaigns/", json={"list": acme_objects["list"]})
    uploaded = globex_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(1)})

    # then
    assert listed == [] and [flow["flow_id"] for flow in flows] == ["GlobFlw1"]
    assert globex_api.get("campaigns/").json()["results"] == []
    assert launched.status_code == 422 and launched.json()["errors"][0]["field"] == "list"
    assert uploaded.status_code == 422 and uploaded.json()["errors"][0]["field"] == "flow"


def test_a_flow_is_read_without_its_secrets(acme_api):
    # when
    flow = acme_api.get("flows/AcmeFlw1/").json()

    # then
    assert flow["flow_id"] == "AcmeFlw1" and flow["name"] == "Reminders"
    assert "security_id" not in flow and "acme-secret-id" not in str(flow)


def test_an_unknown_api_path_is_a_problem_not_a_page(acme_api):
    # when
    response = acme_api.get("nothing-here/")

    # then
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/problem+json")
