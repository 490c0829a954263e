"""Issue 28, item 8: a CRM export's header is read by its common names (Mobile, Phone No, MSISDN),
and the manager maps any column in the preview to tel1..tel10, starttime or a flow key; the mapping
goes with the upload into the import and is remembered for the flow's next upload."""

import html
import io
from unittest import mock

import pytest
from django.urls import reverse

from campaigns.donotcall import loading
from campaigns.importing import Limits, contact_list_create, contact_list_import, parse_header, preview_rows
from campaigns.importing.header import NUMBER_WORDS, number_synonym_rank, parse_header_mapped
from campaigns.models import ContactList

CRM = b"Mobile,Customer Name,Due Amount\n9812345678,Asha,1500\n+91 98123 45679,Ravi,200\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def limits():
    return Limits.from_settings()


@pytest.mark.parametrize(
    "cell",
    ["Mobile", "mobile number", "Phone No.", "MSISDN", "Contact Number", "Number", "Customer Mobile", "contact", "Tel"],
)
def test_it_reads_a_common_name_for_the_number_column_as_tel1(cell):
    header = parse_header([cell, "Customer Name"], limits())

    assert header.columns == ["tel1", "$flow.key.Customer Name"]


@pytest.mark.parametrize("cell", ["Account Number", "Contact Name", "Loan No", "Name"])
def test_it_does_not_take_other_columns_for_the_number(cell):
    assert number_synonym_rank(cell) is None


def test_an_alternate_number_column_becomes_tel2_after_the_primary():
    header = parse_header(["Alt Mobile", "Name", "Mobile"], limits())

    assert header.columns == ["tel2", "$flow.key.Name", "tel1"]


def test_a_header_with_tel1_keeps_phone_as_a_flow_variable_as_before():
    header = parse_header(["tel1", "phone"], limits())

    assert header.columns == ["tel1", "$flow.key.phone"]


def test_the_do_not_call_upload_reads_the_same_words():
    assert loading.NUMBER_COLUMNS is NUMBER_WORDS


def test_a_mapping_names_columns_by_their_header_cell_in_any_case():
    header = parse_header_mapped(
        ["Cust Ph", "Due Amount", "Notes"],
        limits(),
        mapping={"cust ph": "tel1", "Due Amount": "$flow.key.amount", "NOTES": ""},
    )

    assert header.columns == ["tel1", "$flow.key.amount", ""]  # an ignored last column is still a column


def test_the_preview_of_an_unmappable_header_still_shows_its_cells_and_rows_to_map():
    preview = preview_rows(fileobj=io.BytesIO(b"Cust Ph,Name\n9812345678,Asha\n"), filename="x.csv")

    assert "no tel1 column" in preview["error"]
    assert preview["header_cells"] == ["Cust Ph", "Name"] and preview["rows"] == [["9812345678", "Asha"]]


def test_the_preview_reads_the_mapping():
    preview = preview_rows(
        fileobj=io.BytesIO(b"Cust Ph,Name\n9812345678,Asha\n"), filename="x.csv", mapping={"Cust Ph": "tel1"}
    )

    assert preview["error"] is None and preview["columns"] == ["tel1", "$flow.key.Name"]


def test_a_crm_export_previews_with_mobile_as_tel1_and_a_choice_per_column(client, alice, acme_flow):
    client.force_login(alice)

    page = html.unescape(
        client.post(
            reverse("list_preview"), {"file": io.BytesIO(CRM), "filename": "crm.csv", "flow": acme_flow.pk}
        ).content.decode()
    )

    assert "data-fatal" not in page
    assert '<th scope="col">tel1</th>' in page
    assert 'name="map-0"' in page and 'form="upload-form"' in page and "tel1 (as written)" in page


def test_the_manager_maps_a_column_and_the_preview_reads_it(client, alice, acme_flow):
    client.force_login(alice)

    page = html.unescape(
        client.post(
            reverse("list_preview"),
            {
                "file": io.BytesIO(b"Cust Ph,Name\n9812345678,Asha\n"),
                "filename": "x.csv",
                "flow": acme_flow.pk,
                "mapped": "1",
                "map-0": "tel1",
                "mapcell-0": "Cust Ph",
                "map-1": "auto",
                "mapcell-1": "Name",
            },
        ).content.decode()
    )

    assert "data-fatal" not in page and '<th scope="col">tel1</th>' in page
    assert '<option value="tel1" selected>' in page


def test_the_mapping_travels_with_the_upload_into_the_import_and_is_remembered_for_the_flow(client, alice, acme_flow):
    client.force_login(alice)
    data = b"Cust Ph,Due Amount,Notes\n9812345678,1500,call after 6\n"
    upload = io.BytesIO(data)
    upload.name = "crm.csv"

    with mock.patch("campaigns.tasks.import_contact_list_task"):
        client.post(
            reverse("list_upload"),
            {
                "flow": acme_flow.pk,
                "file": upload,
                "map-0": "tel1",
                "mapcell-0": "Cust Ph",
                "map-1": "$flow.key.amount",
                "mapcell-1": "Due Amount",
                "map-2": "ignore",
                "mapcell-2": "Notes",
            },
        )
    contact_list = ContactList.objects.get()
    contact_list_import(contact_list_id=contact_list.pk)

    contact_list.refresh_from_db()
    assert contact_list.status == ContactList.Status.IMPORTED and contact_list.imported_count == 1
    contact = contact_list.contacts.get()
    assert contact.primary_number == "919812345678" and contact.variables == {"amount": "1500"}
    # the next upload of the same export on this flow is read the same way, before any choice
    page = html.unescape(
        client.post(
            reverse("list_preview"), {"file": io.BytesIO(data), "filename": "next.csv", "flow": acme_flow.pk}
        ).content.decode()
    )
    assert "data-fatal" not in page and '<th scope="col">$flow.key.amount</th>' in page


def test_preview_counts_the_numbers_outside_india(client, alice, acme_flow):
    client.force_login(alice)
    data = b"tel1,name\n919812345678,A\n+44 20 7946 0958,B\n+1 212 555 0100,C\n"

    page = html.unescape(
        client.post(
            reverse("list_preview"), {"file": io.BytesIO(data), "filename": "x.csv", "flow": acme_flow.pk}
        ).content.decode()
    )

    assert "2 of the first 3 numbers are outside +91" in page


def test_the_encoding_error_points_to_the_encoding_choice_instead_of_refusing_the_file(client, alice):
    client.force_login(alice)

    page = html.unescape(
        client.post(
            reverse("list_preview"),
            {"file": io.BytesIO("tel1,name\n919812345678,Zoë\n".encode("cp1252")), "filename": "x.csv"},
        ).content.decode()
    )

    assert "choose its encoding (for example Windows-1252) under Encoding" in page
    assert "cannot be uploaded" not in page and "Fix the file" not in page


def test_a_list_from_another_channel_is_read_as_the_flows_last_mapped_upload(acme_flow):
    ContactList.objects.create(flow=acme_flow, name="mapped in the browser", column_map={"Cust Ph": "tel1"})

    by_sftp = contact_list_create(
        flow=acme_flow,
        fileobj=io.BytesIO(b"Cust Ph,Name\n9812345678,Asha\n"),
        filename="C129113_x.csv",
        source=ContactList.Source.SFTP,
    )
    contact_list_import(contact_list_id=by_sftp.pk)

    by_sftp.refresh_from_db()
    assert by_sftp.column_map == {"Cust Ph": "tel1"} and by_sftp.imported_count == 1
