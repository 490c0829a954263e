"""Contacts added to a running campaign (as Amazon Connect's PutDialRequestBatch): each row answered,
the accepted ones planned and dialled under the campaign's rules, the rejected ones in the list's
report at their lines."""

import datetime
from zoneinfo import ZoneInfo

import pytest

from campaigns.donotcall.lists import dnc_entries_add, dnc_own_list
from campaigns.models import Campaign
from dialer.tasks import dispatch_tick_task
from tests.api.conftest import phone, rows

pytestmark = pytest.mark.usefixtures("eager_tasks", "sandbox")
ZONE = "Asia/Kolkata"


def running_campaign_with_its_window_shut(api, count=2) -> int:
    list_id = api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(count), "close": True}).json()["id"]
    tomorrow = (datetime.datetime.now(ZoneInfo(ZONE)).weekday() + 1) % 7
    campaign = api.post("campaigns/", json={"list": list_id, "window_days": [tomorrow], "timezone": ZONE}).json()
    assert campaign["status"] == "running"
    return campaign["id"]


def test_rows_added_to_a_running_campaign_are_answered_row_by_row_and_dialled_by_its_rules(acme_api, acme):
    # given a running campaign of two contacts, waiting for its window, and a number on the do-not-call list
    campaign_id = running_campaign_with_its_window_shut(acme_api)
    dnc_entries_add(dnc_list=dnc_own_list(account=acme), numbers=[phone(20)])

    # when four rows are added: a new contact, a bad number, a contact already in the list, a do-not-call number
    answer = acme_api.post(
        f"campaigns/{campaign_id}/contacts/",
        json={
            "rows": [
                {"tel1": phone(10), "name": "Meera"},
                {"tel1": "12345"},
                {"tel1": phone(1)},
                {"tel1": phone(20), "name": "Opted out"},
            ]
        },
    )

    # then each row has its answer, at the lines after the list's last
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (2, 2)
    assert [(row["row"], row["accepted"], row["line"]) for row in body["rows"]] == [
        (0, True, 4),
        (1, False, 5),
        (2, False, 6),
        (3, True, 7),
    ]
    assert body["rows"][1]["column"] == "tel1" and "is not a valid phone number" in body["rows"][1]["reason"]
    assert body["rows"][2]["reason"] == f"{phone(1)} is already in this list at line 3."
    report = acme_api.get(f"lists/{Campaign.objects.get(pk=campaign_id).contact_list_id}/rejected.csv").text
    assert report.splitlines()[1].startswith("5,tel1,12345,")

    # and the accepted ones are planned with the campaign's rules: the do-not-call number skipped
    calls = {call["primary_number"]: call for call in acme_api.get(f"campaigns/{campaign_id}/calls/").json()["results"]}
    assert calls[phone(10)]["state"] == "pending" and calls[phone(10)]["variables"] == {"name": "Meera"}
    assert calls[phone(20)]["state"] == "skipped"
    assert calls[phone(20)]["provider_message"].startswith("on the do-not-call list")

    # when its window opens, everyone callable is dialled and the campaign completes
    Campaign.objects.filter(pk=campaign_id).update(window_days=list(range(7)), window_end=None)
    Campaign.objects.filter(pk=campaign_id).update(window_start=datetime.time(0, 0))
    dispatch_tick_task()
    dispatch_tick_task()
    campaign = acme_api.get(f"campaigns/{campaign_id}/").json()
    assert campaign["status"] == "completed"
    assert campaign["counts"] == {
        "contacts": 4,
        "pending": 0,
        "placed": 3,
        "accepted_unknown": 0,
        "rejected": 0,
        "skipped": 1,
        "maybe_placed": 0,
    }


def test_contacts_cannot_be_added_to_a_finished_campaign(acme_api):
    campaign_id = running_campaign_with_its_window_shut(acme_api)
    acme_api.post(f"campaigns/{campaign_id}/cancel/")

    answer = acme_api.post(f"campaigns/{campaign_id}/contacts/", json={"rows": [{"tel1": phone(10)}]})

    assert answer.status_code == 409
    assert answer.json()["detail"] == (
        "Contacts are added to a scheduled, running or paused campaign; this one is cancelled."
    )


def test_rows_without_a_tel1_key_are_refused_whole(acme_api):
    campaign_id = running_campaign_with_its_window_shut(acme_api)
    answer = acme_api.post(f"campaigns/{campaign_id}/contacts/", json={"rows": [{"name": "No number"}]})
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "rows"


def test_another_accounts_campaign_is_not_found(acme_api, globex_api):
    campaign_id = running_campaign_with_its_window_shut(acme_api)
    answer = globex_api.post(f"campaigns/{campaign_id}/contacts/", json={"rows": [{"tel1": phone(10)}]})
    assert answer.status_code == 404
