"""Issue 28, item 9: the smaller untruths and traps, each shown where the manager meets it."""

import csv
import html
import io

import pytest
from django.urls import reverse

from campaigns.importing import contact_list_create, contact_list_import
from campaigns.models import Campaign, Contact, ContactList
from dialer import campaign_actions
from dialer.planning import campaign_plan
from tests.factories import make_contact_list

DUPLICATES = b"tel1,name\n919812345678,Asha\n919812345678,Asha again\n98123,Typo\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _imported(flow, data: bytes) -> ContactList:
    contact_list = contact_list_create(flow=flow, fileobj=io.BytesIO(data), filename="march.csv", source="upload")
    return contact_list_import(contact_list_id=contact_list.pk)


def test_the_rows_to_fix_leave_out_duplicates_so_a_reupload_never_imports_them(client, alice, acme_flow):
    contact_list = _imported(acme_flow, DUPLICATES)
    client.force_login(alice)

    report = client.get(reverse("list_rejected_csv", args=[contact_list.pk])).content.decode()
    page = html.unescape(client.get(reverse("list_detail", args=[contact_list.pk])).content.decode())

    rows = list(csv.DictReader(io.StringIO(report)))
    assert [row["tel1"] for row in rows] == ["98123"]  # the typo to fix; not the duplicate
    assert "upload the report as a new list" in page and "upload the file again as it is" not in page
    assert "The 1 row whose number was already in this list is left out" in page


def test_the_list_page_and_the_review_say_how_many_numbers_are_outside_india(client, alice, acme_flow):
    contact_list = make_contact_list(acme_flow, 3, name="Mixed")
    Contact.objects.filter(contact_list=contact_list, line__in=[2, 3]).update(primary_number="442079460958")
    client.force_login(alice)
    launch = {
        "timezone": "Asia/Kolkata",
        "window_start": "00:00",
        "window_end": "24:00",
        "window_days": list(range(7)),
        "batch_size": 500,
        "api_version": "1.0",
        "priority": "normal",
    }

    detail = html.unescape(client.get(reverse("list_detail", args=[contact_list.pk])).content.decode())
    review = html.unescape(client.post(reverse("list_launch", args=[contact_list.pk]), launch).content.decode())

    assert "2 numbers are outside +91" in detail
    assert "Review the launch" in review and "2 numbers are outside +91" in review


def test_duplicate_preselects_the_campaigns_own_list_not_the_newest(client, alice, acme_flow):
    own = make_contact_list(acme_flow, 2, name="The campaign's own")
    campaign = campaign_actions.campaign_create(contact_list=own, window="00:00-24:00", name="March")
    make_contact_list(acme_flow, 2, first=10, name="Newer list")
    client.force_login(alice)

    page = client.get(reverse("campaign_duplicate", args=[campaign.pk])).content.decode()

    assert f'<option value="{own.pk}" selected>' in page


def test_the_skipped_explanation_names_do_not_call_and_the_cap(client, alice, acme_flow):
    contact_list = make_contact_list(acme_flow, 2)
    campaign = campaign_actions.campaign_create(contact_list=contact_list, window="00:00-24:00", name="March")
    campaign_plan(campaign_id=campaign.pk)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)
    client.force_login(alice)

    live = client.get(reverse("campaign_live", args=[campaign.pk])).content.decode()

    assert "on a do-not-call list, over the dialling cap (1 call per 1 day)" in live
