"""Issue 28, item 10: an Excel download beside the plain CSV (a byte-order mark, numbers kept as text),
the plain CSV unchanged, and the calls table showing and searching the contact's name."""

import csv
import html
import io

import pytest
from django.urls import reverse

from campaigns.models import Campaign, Contact, ContactList
from campaigns.reports import first_variable_name
from dialer import campaign_actions
from dialer.excel import excel_cell
from dialer.models import Batch, Call
from dialer.planning import campaign_plan
from dialer.results import export_results_csv
from dialer.tallies import calls_recount
from tests.factories import make_contact_list


@pytest.fixture
def campaign(acme_flow):
    contact_list = make_contact_list(acme_flow, 3, name="March")
    Contact.objects.filter(contact_list=contact_list, line=2).update(variables={"name": "Asha Rao", "ref": "00123"})
    Contact.objects.filter(contact_list=contact_list, line=3).update(variables={"name": "Ravi Kumar", "ref": "7"})
    campaign = campaign_actions.campaign_create(
        contact_list=contact_list, window="00:00-24:00", batch_size=2, name="March"
    )
    campaign_plan(campaign_id=campaign.pk)
    Batch.objects.filter(campaign=campaign).update(status=Batch.Status.PLACED, request_id="req-1", response_code=200)
    Call.objects.filter(campaign=campaign).update(state=Call.State.PLACED, phonon_uuid="uuid-1", provider_code=200)
    calls_recount()
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)
    campaign.refresh_from_db()
    return campaign


def _download(client, name, campaign) -> bytes:
    return b"".join(client.get(reverse(name, args=[campaign.pk])).streaming_content)


def test_the_excel_download_has_a_bom_and_keeps_numbers_as_text(client, alice, campaign):
    client.force_login(alice)

    response = client.get(reverse("campaign_export_excel", args=[campaign.pk]))
    body = b"".join(response.streaming_content)

    assert response["Content-Disposition"].endswith('_results_excel.csv"')
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) == 3
    first = rows[0]
    assert first["numbers"] == f'="{campaign.contact_list.contacts.order_by("id").first().primary_number}"'
    assert first["$flow.key.ref"] == '="00123"' and first["$flow.key.name"] == "Asha Rao"
    assert first["provider_code"] == "200" and first["line"] == "2"  # short numbers stay numbers


def test_the_plain_csv_is_byte_for_byte_what_export_results_writes(client, alice, campaign):
    client.force_login(alice)
    out = io.StringIO()
    export_results_csv(campaign, out)

    assert _download(client, "campaign_export", campaign) == out.getvalue().encode()
    assert not out.getvalue().startswith("\ufeff") and '="' not in out.getvalue()


@pytest.mark.parametrize(
    "cell, written",
    [
        ("919812345678", '="919812345678"'),
        ("0123", '="0123"'),
        ("200", "200"),
        ("Asha", "Asha"),
        ("'+919812345678", "'+919812345678"),
        ("=HYPERLINK(1)", "=HYPERLINK(1)"),
    ],
)
def test_only_digit_strings_become_text_formulas(cell, written):
    assert excel_cell(cell) == written


def test_the_campaign_page_offers_the_excel_download_beside_the_csv(client, alice, campaign):
    client.force_login(alice)

    page = client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()

    assert (
        reverse("campaign_export_excel", args=[campaign.pk]) in page
        and reverse("campaign_export", args=[campaign.pk]) in page
    )


def test_the_calls_table_shows_the_contacts_name(client, alice, campaign):
    client.force_login(alice)

    page = client.get(reverse("campaign_calls", args=[campaign.pk])).content.decode()

    assert '<th scope="col" class="text-col">name</th>' in page
    assert "Asha Rao" in page and "Ravi Kumar" in page


def test_the_calls_table_finds_a_contact_by_part_of_the_name_in_any_case(client, alice, campaign):
    client.force_login(alice)

    page = html.unescape(client.get(reverse("campaign_calls", args=[campaign.pk]), {"number": "asha"}).content.decode())

    assert "Asha Rao" in page and "Ravi Kumar" not in page
    assert "1 call to contacts whose name holds “asha”" in page


def test_the_calls_table_still_finds_a_number_by_its_end(client, alice, campaign):
    client.force_login(alice)
    contact = campaign.contact_list.contacts.order_by("id").last()

    page = client.get(reverse("campaign_calls", args=[campaign.pk]), {"number": contact.primary_number[-6:]})

    assert contact.variables["name"] in page.content.decode()
    assert "Asha Rao" not in page.content.decode()


def test_the_first_variable_is_read_from_the_uploaded_header_with_its_mapping(acme_flow):
    contact_list = ContactList.objects.create(
        flow=acme_flow, name="crm", header=["Mobile", "Customer Name", "Due"], column_map={"Due": "$flow.key.amount"}
    )

    assert first_variable_name(contact_list) == "Customer Name"
