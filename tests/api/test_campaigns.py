"""Campaigns over the API: launch with the launch form's options, steer, read counts, calls, results."""

import csv
import datetime
import io
from zoneinfo import ZoneInfo

import pytest

from flows.models import Account
from tests.api.conftest import phone, rows

pytestmark = pytest.mark.usefixtures("eager_tasks", "sandbox")
ZONE = "Asia/Kolkata"


def imported_list(api, count=3) -> int:
    created = api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(count), "close": True})
    assert created.json()["status"] == "imported", created.text
    return created.json()["id"]


def closed_today() -> list[int]:
    """Weekdays that exclude today in the campaign's zone: the window stays shut during the test."""
    today = datetime.datetime.now(ZoneInfo(ZONE)).weekday()
    return [(today + 1) % 7]


def test_a_campaign_launched_round_the_clock_places_every_call(acme_api):
    # given
    list_id = imported_list(acme_api, count=3)

    # when
    launched = acme_api.post("campaigns/", json={"list": list_id, "name": "Now", "window": "00:00-24:00",
                                                 "batch_size": 2, "timezone": ZONE})

    # then (the workers ran in-process) every call is placed
    assert launched.status_code == 201, launched.text
    campaign = acme_api.get(f"campaigns/{launched.json()['id']}/").json()
    assert campaign["status"] == "completed" and campaign["window"] == "00:00-24:00"
    assert campaign["counts"] == {"contacts": 3, "pending": 0, "placed": 3, "accepted_unknown": 0, "rejected": 0,
                                  "skipped": 0, "maybe_placed": 0}
    assert campaign["batches"] == 2 and campaign["list"] == list_id and campaign["flow"] == "AcmeFlw1"


def test_a_relaunch_skips_the_contacts_just_called_unless_include_called(acme_api, acme):
    # given a list whose three contacts were just called (on an account whose dialling cap allows more)
    Account.objects.filter(pk=acme.pk).update(calls_per_number=100)
    list_id = imported_list(acme_api, count=3)
    first = acme_api.post("campaigns/", json={"list": list_id, "window": "00:00-24:00", "timezone": ZONE})
    assert acme_api.get(f"campaigns/{first.json()['id']}/").json()["counts"]["placed"] == 3

    # when it is launched again, with the default look-back, and then with include_called
    again = acme_api.post("campaigns/", json={"list": list_id, "window": "00:00-24:00", "timezone": ZONE})
    forced = acme_api.post("campaigns/", json={"list": list_id, "window": "00:00-24:00", "timezone": ZONE,
                                               "include_called": True})

    # then the relaunch skips all three with the reason, and include_called calls them again
    skipped = acme_api.get(f"campaigns/{again.json()['id']}/").json()
    assert skipped["skip_called_days"] == 7 and skipped["counts"]["skipped"] == 3 and skipped["batches"] == 0
    calls = acme_api.get(f"campaigns/{again.json()['id']}/calls/").json()["results"]
    assert all(call["provider_message"].startswith("Called on ") for call in calls)
    called = acme_api.get(f"campaigns/{forced.json()['id']}/").json()
    assert called["skip_called_days"] is None and called["counts"]["placed"] == 3


def test_a_campaign_is_paused_resumed_and_cancelled(acme_api):
    # given a running campaign whose window is shut today
    list_id = imported_list(acme_api)
    campaign_id = acme_api.post("campaigns/", json={"list": list_id, "window_days": closed_today()}).json()["id"]
    assert acme_api.get(f"campaigns/{campaign_id}/").json()["status"] == "running"

    # when / then
    paused = acme_api.post(f"campaigns/{campaign_id}/pause/", json={"reason": "Holiday"})
    assert paused.status_code == 200
    assert (paused.json()["status"], paused.json()["status_reason"]) == ("paused", "Holiday")
    assert paused.json()["provider_code"] is None

    again = acme_api.post(f"campaigns/{campaign_id}/pause/")
    assert again.status_code == 409
    assert again.json()["detail"] == "Only a running campaign can be paused; this one is paused."

    assert acme_api.post(f"campaigns/{campaign_id}/resume/").json()["status"] == "running"
    cancelled = acme_api.post(f"campaigns/{campaign_id}/cancel/")
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["counts"]["skipped"] == 3


def test_launch_options_are_checked_and_name_their_fields(acme_api):
    # given
    list_id = imported_list(acme_api)

    # when
    response = acme_api.post("campaigns/", json={"list": list_id, "window": "9 to 5", "batch_size": 501,
                                                 "timezone": "Mars/Olympus", "window_days": [7]})

    # then
    assert response.status_code == 400
    fields = {error["field"]: error["detail"] for error in response.json()["errors"]}
    assert set(fields) == {"window", "batch_size", "timezone", "window_days[0]"}
    assert fields["window"] == "A calling window is written HH:MM-HH:MM, e.g. 09:00-21:00; got '9 to 5'."


def test_a_list_that_is_not_imported_cannot_be_launched(acme_api):
    # given an open list
    list_id = acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(2)}).json()["id"]

    # when
    response = acme_api.post("campaigns/", json={"list": list_id})

    # then the lifecycle's sentence
    assert response.status_code == 422
    assert response.json()["detail"].endswith("is waiting to import, not imported.")


def test_a_start_time_without_offset_is_read_in_the_campaigns_zone(acme_api):
    # given
    list_id = imported_list(acme_api)
    start = (datetime.datetime.now(ZoneInfo("Europe/London")) + datetime.timedelta(days=2)).replace(microsecond=0)

    # when
    launched = acme_api.post("campaigns/", json={"list": list_id, "timezone": "Europe/London",
                                                 "start_at": start.replace(tzinfo=None).isoformat()})

    # then
    campaign = launched.json()
    assert campaign["status"] == "scheduled" and campaign["timezone"] == "Europe/London"
    assert datetime.datetime.fromisoformat(campaign["start_at"]) == start


def test_calls_are_paginated_by_cursor_and_filtered_by_state_and_number(acme_api):
    # given a completed campaign of five calls
    list_id = imported_list(acme_api, count=5)
    campaign_id = acme_api.post("campaigns/", json={"list": list_id, "window": "00:00-24:00"}).json()["id"]

    # when
    first = acme_api.get(f"campaigns/{campaign_id}/calls/", params={"limit": 2}).json()
    pages = [first]
    while pages[-1]["next"]:
        pages.append(acme_api.get(pages[-1]["next"]).json())

    # then
    calls = [call for page in pages for call in page["results"]]
    assert len(pages) == 3 and [call["primary_number"] for call in calls] == [phone(i) for i in range(5)]
    assert all(call["state"] == "placed" and call["phonon_uuid"] and call["request_id"] for call in calls)
    assert calls[0]["variables"] == {"name": "Customer 0"} and calls[0]["line"] == 2

    by_number = acme_api.get(f"campaigns/{campaign_id}/calls/", params={"number": phone(3)[-6:]}).json()
    assert [call["primary_number"] for call in by_number["results"]] == [phone(3)]
    assert acme_api.get(f"campaigns/{campaign_id}/calls/", params={"state": "rejected"}).json()["results"] == []
    bad = acme_api.get(f"campaigns/{campaign_id}/calls/", params={"number": "12"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "number"


def test_the_results_export_is_the_commands_csv(acme_api):
    # given
    list_id = imported_list(acme_api, count=2)
    campaign_id = acme_api.post("campaigns/", json={"list": list_id, "window": "00:00-24:00"}).json()["id"]

    # when
    response = acme_api.get(f"campaigns/{campaign_id}/results.csv")

    # then
    exported = list(csv.DictReader(io.StringIO(response.text)))
    assert response.headers["Content-Type"].startswith("text/csv")
    assert list(exported[0])[:7] == ["client_identifier", "numbers", "request_id", "phonon_uuid", "state",
                                     "provider_code", "provider_message"]
    assert [row["state"] for row in exported] == ["placed", "placed"]


def test_campaigns_are_listed_newest_first(acme_api):
    # given
    list_id = imported_list(acme_api)
    ids = [acme_api.post("campaigns/", json={"list": list_id, "window_days": closed_today()}).json()["id"]
           for _ in range(2)]

    # when
    listed = acme_api.get("campaigns/").json()

    # then
    assert [campaign["id"] for campaign in listed["results"]] == ids[::-1]
