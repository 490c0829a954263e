"""Redial rules over the API: set at launch, shown with what waits; bad rules name their field."""

import pytest

from dialer.models import Call
from tests.api.test_campaign_priority import imported_list

pytestmark = pytest.mark.usefixtures("eager_tasks", "sandbox")


def test_a_campaign_launched_with_redial_rules_shows_them_and_its_key_words(acme_api):
    launched = acme_api.post(
        "campaigns/",
        json={
            "list": imported_list(acme_api),
            "start_at": "2099-01-01T10:00:00+05:30",
            "redial": {"outcomes": ["busy", "no_answer"], "after": "30m", "max_attempts": 3},
            "key_labels": "1=confirmed,2=cancel",
        },
    )
    assert launched.status_code == 201, launched.text
    body = launched.json()
    assert body["redial"] == {
        "outcomes": ["busy", "no_answer"],
        "after": "30m",
        "after_seconds": 1800,
        "max_attempts": 3,
        "in_words": "Busy or no answer: called again 30m after, up to 3 attempts in all",
        "waiting": 0,
        "next_at": None,
        "awaiting_outcome": 0,
    }
    assert body["key_labels"] == "1=confirmed, 2=cancel"


def test_a_campaign_without_rules_has_no_redials(acme_api):
    launched = acme_api.post("campaigns/", json={"list": imported_list(acme_api), "window": "00:00-24:00"}).json()
    assert launched["redial"] is None
    calls = acme_api.get(f"campaigns/{launched['id']}/calls/").json()
    assert {call["attempt"] for call in calls["results"]} == {1}


def test_bad_rules_are_refused_naming_the_field(acme_api):
    response = acme_api.post(
        "campaigns/",
        json={
            "list": imported_list(acme_api),
            "redial": {"outcomes": ["answered"], "after": "soon", "max_attempts": 11},
            "key_labels": "1 yes",
        },
    )
    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"redial.outcomes[0]", "redial.max_attempts", "key_labels"} <= fields


def test_a_delay_written_wrong_is_refused_in_words(acme_api):
    response = acme_api.post("campaigns/", json={"list": imported_list(acme_api), "redial": {"after": "soon"}})
    assert response.status_code == 400
    assert "90s, 30m, 2h or 1d" in response.text


def test_what_people_pressed_is_read_per_question_in_words_and_calls_filter_by_it(acme_api):
    launched = acme_api.post(
        "campaigns/",
        json={"list": imported_list(acme_api, 3), "window": "00:00-24:00", "key_labels": "1=confirmed, 2=cancel"},
    ).json()
    calls = list(Call.objects.filter(campaign_id=launched["id"]).order_by("contact_id"))
    for call, keys in zip(calls, ["12", "1", ""], strict=True):
        Call.objects.filter(pk=call.pk).update(keys=keys, outcome="answered" if keys else "busy")

    survey = acme_api.get(f"campaigns/{launched['id']}/survey/")
    assert survey.status_code == 200, survey.text
    body = survey.json()
    assert body["pressed"] == 2 and body["labels"] == {"1": "confirmed", "2": "cancel"}
    assert body["questions"][0]["answers"] == [{"key": "1", "words": "confirmed", "contacts": 2, "percent": 100}]
    assert body["questions"][1]["answers"][0]["words"] == "cancel"
    pressed = acme_api.get(f"campaigns/{launched['id']}/calls/", params={"pressed": "2", "question": "2"}).json()
    assert [call["client_identifier"] for call in pressed["results"]] == [calls[0].client_identifier]
    assert acme_api.get(f"campaigns/{launched['id']}/calls/", params={"pressed": "x"}).status_code == 400
