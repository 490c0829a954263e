"""Call lists over the API: CSV upload and JSON rows through the same importer, progress, report."""

import pytest

from campaigns.models import ContactList
from tests.api.conftest import phone, rows

PROBLEM = "application/problem+json"
pytestmark = pytest.mark.usefixtures("eager_tasks")


def upload(api, content: bytes, filename="calls.csv", **fields):
    return api.post("lists/", data={"flow": "AcmeFlw1", **fields}, files={"file": (filename, content, "text/csv")})


def test_an_uploaded_csv_is_imported_with_its_rejected_rows_reported(acme_api):
    # given a CSV with two good rows and one bad number
    content = f"tel1,$flow.key.name\n{phone(1)},Asha\n12345,Bad\n{phone(2)},Ravi\n".encode()

    # when
    created = upload(acme_api, content, name="Monday")

    # then the list was created, and (the import ran after commit) it is imported
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == f"/api/v1/lists/{created.json()['id']}/"
    listed = acme_api.get(f"lists/{created.json()['id']}/").json()
    assert listed["status"] == "imported" and listed["name"] == "Monday" and listed["flow"] == "AcmeFlw1"
    assert (listed["imported"], listed["rejected"], listed["rows_done"]) == (2, 1, 3)
    report = acme_api.get(f"lists/{listed['id']}/rejected.csv")
    assert report.headers["Content-Type"].startswith("text/csv")
    assert report.text.splitlines()[0] == "line,column,value,reason"
    assert report.text.splitlines()[1].startswith("3,tel1,12345,")


def test_a_file_refused_whole_is_a_problem_with_the_importers_sentence(acme_api):
    # when
    response = upload(acme_api, b"%PDF-1.4 not a list", filename="calls.xlsx")

    # then
    assert response.status_code == 422
    assert response.headers["Content-Type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["detail"].startswith("Only .csv and .zip files are accepted")
    assert problem["errors"] == [{"field": "file", "detail": problem["detail"]}]
    assert ContactList.objects.get().status == ContactList.Status.REFUSED


def test_a_csv_refused_by_the_import_shows_refused_with_the_sentence(acme_api):
    # when
    created = upload(acme_api, b"name,city\nAsha,Pune\n")

    # then
    listed = acme_api.get(f"lists/{created.json()['id']}/").json()
    assert listed["status"] == "refused"
    assert "has no tel1 column" in listed["error"]


def test_a_missing_file_and_an_unknown_flow_name_their_fields(acme_api):
    # when
    response = acme_api.post("lists/", data={"flow": "NoSuchFl"}, files={"other": ("x.csv", b"x")})

    # then
    problem = response.json()
    assert response.status_code == 400
    assert [error["field"] for error in problem["errors"]] == ["file"]

    # and when the file is there but the flow is not the account's
    response = acme_api.post("lists/", data={"flow": "NoSuchFl"}, files={"file": ("x.csv", b"tel1\n")})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "flow", "detail": "There is no flow 'NoSuchFl' in this account."}]


def test_json_rows_are_appended_in_chunks_until_the_list_is_closed_then_imported(acme_api):
    # given an open list with a first chunk
    created = acme_api.post("lists/", json={"flow": "AcmeFlw1", "name": "From the CRM", "rows": rows(3)})
    assert created.status_code == 201, created.text
    list_id = created.json()["id"]
    assert created.json()["status"] == "open" and created.json()["rows_received"] == 3

    # when two more chunks come, the last one closing the list
    acme_api.post(f"lists/{list_id}/rows/", json={"rows": rows(2, first=3) + [{"tel1": "12345", "name": "Bad"}]})
    closed = acme_api.post(f"lists/{list_id}/rows/", json={"rows": [{"tel1": phone(9), "city": "Pune"}],
                                                           "close": True})

    # then the rows went through the importer: good ones imported, the bad one reported at its line
    assert closed.status_code == 200, closed.text
    listed = acme_api.get(f"lists/{list_id}/").json()
    assert listed["status"] == "imported" and listed["rows_received"] == 7
    assert (listed["imported"], listed["rejected"]) == (6, 1)
    report = acme_api.get(f"lists/{list_id}/rejected.csv").text.splitlines()
    assert report[1].startswith("7,tel1,12345,")
    contact = ContactList.objects.get(pk=list_id).contacts.get(primary_number=phone(9))
    assert contact.variables == {"name": "", "city": "Pune"}


def test_close_alone_imports_the_rows_sent_so_far_and_later_rows_are_refused(acme_api):
    # given
    list_id = acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(2)}).json()["id"]

    # when
    closed = acme_api.post(f"lists/{list_id}/close/")
    late = acme_api.post(f"lists/{list_id}/rows/", json={"rows": rows(1, first=5)})

    # then
    assert closed.json()["status"] == "imported" and closed.json()["imported"] == 2
    assert late.status_code == 409
    assert "is closed; create a new list for more rows" in late.json()["detail"]


def test_rows_cannot_be_added_to_an_uploaded_list(acme_api):
    # given
    list_id = upload(acme_api, f"tel1\n{phone(1)}\n".encode()).json()["id"]

    # when
    response = acme_api.post(f"lists/{list_id}/rows/", json={"rows": rows(1)})

    # then
    assert response.status_code == 409
    assert "was uploaded as a file" in response.json()["detail"]


def test_more_rows_than_a_request_may_carry_is_refused_naming_the_field(acme_api, settings):
    # given
    settings.API_ROWS_PER_REQUEST = 5

    # when
    response = acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(6)})

    # then
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "rows", "detail": "At most 5 rows a request; send the rest in further requests."}
    ]
    assert not ContactList.objects.exists()


def test_a_row_with_a_nested_value_is_refused_naming_the_row_and_the_key(acme_api):
    # when
    response = acme_api.post(
        "lists/", json={"flow": "AcmeFlw1", "rows": [{"tel1": phone(1)}, {"tel1": phone(2), "name": {"x": 1}}]}
    )

    # then
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "rows[1].name", "detail": "A value is a string, a number or null."}]


def test_lists_are_paginated_newest_first(acme_api):
    # given
    ids = [acme_api.post("lists/", json={"flow": "AcmeFlw1", "name": f"L{i}"}).json()["id"] for i in range(3)]

    # when
    first = acme_api.get("lists/", params={"limit": 2}).json()
    second = acme_api.get(first["next"]).json()

    # then
    assert [item["id"] for item in first["results"] + second["results"]] == ids[::-1]
    assert second["next"] is None
