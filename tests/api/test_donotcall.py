"""Do-not-call over the API: add, remove, look up and bulk-load numbers on the account's own list,
with the pages' and import_dnc's checks and sentences; a key sees its own account's only."""

import pytest

from campaigns.donotcall.forms import MAX_TYPED_NUMBERS
from campaigns.models import DoNotCallEntry, DoNotCallList

pytestmark = pytest.mark.usefixtures("eager_tasks")


def test_numbers_added_are_found_by_a_look_up_and_removed(acme_api, acme):
    # when two numbers are added, one of them typed twice
    added = acme_api.post(
        "do-not-call/add/", json={"numbers": ["919812345678", "+91 98123 45679", "919812345678"], "reason": "Asked"}
    )

    # then both are on the account's own list, from the API, and a look-up finds one of them
    assert added.status_code == 200, added.text
    assert added.json() == {"added": 2, "already_listed": 0}
    assert set(DoNotCallEntry.objects.values_list("number", "source")) == {(919812345678, "api"), (919812345679, "api")}
    found = acme_api.get("do-not-call/lookup/?number=919812345679").json()
    assert found["listed"] is True
    [entry] = found["entries"]
    assert entry["list"]["scope"] == "own" and entry["reason"] == "Asked" and entry["source"] == "api"

    # when one is removed, it is no longer found
    assert acme_api.post("do-not-call/remove/", json={"numbers": ["919812345679"]}).json() == {"removed": 1}
    assert acme_api.get("do-not-call/lookup/?number=919812345679").json() == {
        "number": "919812345679",
        "listed": False,
        "entries": [],
    }


def test_a_number_that_is_not_a_phone_number_refuses_the_whole_request(acme_api):
    response = acme_api.post("do-not-call/add/", json={"numbers": ["919812345678", "hello"]})
    assert response.status_code == 422
    assert response.json()["detail"] == (
        'Not valid phone numbers: "hello". Write each with its country code, e.g. 919812345678; nothing was changed.'
    )
    assert response.json()["errors"][0]["field"] == "numbers"
    assert not DoNotCallEntry.objects.exists()


def test_more_numbers_than_the_page_takes_are_refused_pointing_to_a_file(acme_api):
    numbers = [f"9198{index:08d}" for index in range(MAX_TYPED_NUMBERS + 1)]
    response = acme_api.post("do-not-call/add/", json={"numbers": numbers})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "numbers"


def test_a_global_list_attached_to_the_account_is_found_by_the_look_up(acme_api, acme, globex_api):
    # given a registry an admin attached to Acme only
    registry = DoNotCallList.objects.create(name="National registry")
    registry.attached_accounts.add(acme)
    DoNotCallEntry.objects.create(dnc_list=registry, number=919800000001)

    # then Acme's look-up finds it, Globex's does not
    acme_found = acme_api.get("do-not-call/lookup/?number=919800000001").json()
    assert [entry["list"] for entry in acme_found["entries"]] == [
        {"id": registry.pk, "name": "National registry", "scope": "global"}
    ]
    assert globex_api.get("do-not-call/lookup/?number=919800000001").json()["listed"] is False
    assert acme_api.get("do-not-call/").json()["lists"] == [
        {"id": registry.pk, "name": "National registry", "scope": "global"}
    ]


def test_a_file_bulk_loads_the_own_list_as_the_page_and_import_dnc_do(acme_api, globex_api):
    # when a file of numbers (one not a number) is uploaded
    content = b"number\n919812345678\n919812345679\nnot-a-number\n"
    response = acme_api.post(
        "do-not-call/uploads/", files={"file": ("optouts.csv", content, "text/csv")}, data={"reason": "CRM opt-outs"}
    )

    # then it is loaded by the worker, with its counts, and the numbers are listed
    assert response.status_code == 202, response.text
    location = acme_api.base_url + response.headers["Location"]
    upload = acme_api.get(location).json()
    assert (upload["status"], upload["added_count"], upload["rejected_count"]) == ("done", 2, 1)
    assert acme_api.get("do-not-call/").json()["own_count"] == 2
    assert globex_api.get(location).status_code == 404


def test_a_file_of_another_kind_is_refused_with_the_pages_sentence(acme_api):
    response = acme_api.post("do-not-call/uploads/", files={"file": ("optouts.pdf", b"%PDF", "application/pdf")})
    assert response.status_code == 422
    assert (
        response.json()["detail"] == 'Only .csv, .txt and .zip files are accepted, and "optouts.pdf" is none of them.'
    )
