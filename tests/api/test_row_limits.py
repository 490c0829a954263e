"""A list filled with JSON rows is held to its row limit at the append that crosses it, never refused
at the close for the size of the CSV the server writes from its rows (CALL_LIST_MAX_BYTES is an
upload's limit): every accepted row is imported, up to CALL_LIST_MAX_ROWS."""

import pytest

from api import rows as open_lists
from campaigns.importing import contact_list_import
from campaigns.models import ContactList
from flows.models import Flow
from tests.api.conftest import rows

pytestmark = pytest.mark.usefixtures("eager_tasks")


def test_a_json_list_larger_than_the_csv_cap_is_imported_whole(acme_api, settings):
    # given lists of at most 400 rows and CSV files of at most 2 KB (the rows make ~10 KB of CSV)
    settings.CALL_LIST_MAX_ROWS = 400
    settings.CALL_LIST_MAX_BYTES = 2048
    settings.API_ROWS_PER_REQUEST = 100
    list_id = acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(100)}).json()["id"]

    # when the rest of the 400 rows come in three more appends and the list is closed
    for first in (100, 200, 300):
        assert acme_api.post(f"lists/{list_id}/rows/", json={"rows": rows(100, first=first)}).status_code == 200
    closed = acme_api.post(f"lists/{list_id}/close/")

    # then every row is imported
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["imported"], closed.json()["error"]) == ("imported", 400, "")


def test_the_append_that_crosses_the_row_limit_is_refused_and_the_rows_before_it_kept(acme_api, settings):
    # given a list holding 399 of at most 400 rows
    settings.CALL_LIST_MAX_ROWS = 400
    settings.API_ROWS_PER_REQUEST = 400
    list_id = acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": rows(399)}).json()["id"]

    # when two more rows come
    refused = acme_api.post(f"lists/{list_id}/rows/", json={"rows": rows(2, first=399)})

    # then that append is refused naming the limit, and the list still closes with the 399
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "A list holds at most 400 rows and this one has 399; send the rest as another list."
    )
    assert refused.json()["errors"][0]["field"] == "rows"
    closed = acme_api.post(f"lists/{list_id}/close/").json()
    assert (closed["status"], closed["imported"]) == ("imported", 399)


def test_a_row_the_importer_would_refuse_the_list_for_is_refused_at_its_append(acme_api, settings):
    settings.CALL_LIST_MAX_LINE_BYTES = 100
    response = acme_api.post("lists/", json={"flow": "AcmeFlw1", "rows": [{"tel1": "919812345678", "note": "x" * 200}]})
    assert response.status_code == 422
    assert response.json()["detail"] == "Row 0 is longer than 100 characters as a CSV line."
    assert not ContactList.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db
def test_the_documented_maximum_of_a_million_json_rows_is_imported(acme, settings, tmp_path):
    # given the default limits (1,000,000 rows; 5 MB a CSV) and a list filled in 10,000-row appends
    assert settings.CALL_LIST_MAX_ROWS == 1_000_000
    flow = Flow.objects.create(account=acme, flow_id="AcmeFlw1", security_id="acme-secret-id")
    contact_list = open_lists.open_list_create(flow=flow, name="A million")
    for first in range(0, 1_000_000, 10_000):
        open_lists.open_list_append(
            contact_list=contact_list,
            rows=[{"tel1": f"91{7_000_000_000 + first + i}", "name": f"Customer {first + i}"} for i in range(10_000)],
        )

    # when it is closed and imported as the close queues it
    open_lists.open_list_close(contact_list=contact_list)
    imported = contact_list_import(contact_list_id=contact_list.pk, from_rows=True)

    # then every row is a contact, though the CSV is far over 5 MB
    assert (imported.status, imported.error, imported.imported_count) == (ContactList.Status.IMPORTED, "", 1_000_000)
