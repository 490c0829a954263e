"""Priority over the API: set at launch, changed while the campaign runs, its share in the answer."""

import pytest

from tests.api.conftest import rows

pytestmark = pytest.mark.usefixtures("eager_tasks", "sandbox")


def imported_list(api, count=3) -> int:
    created = api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(count), "close": True})
    assert created.json()["status"] == "imported", created.text
    return created.json()["id"]


def test_a_campaign_launched_with_a_priority_keeps_it_and_it_can_change(acme_api):
    # given a campaign launched at low priority (the workers run in-process and finish it)
    launched = acme_api.post("campaigns/", json={"list": imported_list(acme_api), "window": "00:00-24:00",
                                                 "priority": "low"})
    assert launched.status_code == 201, launched.text
    assert launched.json()["priority"] == "low"

    # when its priority is changed once it is completed, and a nonsense priority is given
    refused = acme_api.post(f"campaigns/{launched.json()['id']}/priority/", json={"priority": "high"})
    nonsense = acme_api.post("campaigns/", json={"list": imported_list(acme_api), "priority": "urgent"})

    # then
    assert refused.status_code == 409 and "priority cannot change" in refused.json()["detail"]
    assert nonsense.status_code == 400


def test_a_scheduled_campaigns_priority_changes_and_it_has_no_share_yet(acme_api):
    # given a campaign scheduled for later (nothing is sent yet)
    launched = acme_api.post("campaigns/", json={"list": imported_list(acme_api), "window": "00:00-24:00",
                                                 "start_at": "2099-01-01T10:00:00+05:30"}).json()
    assert launched["priority"] == "normal" and launched["share"] is None

    # when its priority is raised
    changed = acme_api.post(f"campaigns/{launched['id']}/priority/", json={"priority": "high"})

    # then
    assert changed.status_code == 200, changed.text
    assert changed.json()["priority"] == "high"
