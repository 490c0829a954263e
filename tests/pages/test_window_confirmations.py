"""A calling window that crosses midnight, or runs outside Indian calling hours, is said in words
and must be confirmed before the launch."""

import datetime
import io

import pytest
from django.urls import reverse

from campaigns.models import Campaign
from campaigns.windows import Window
from flows.models import Account
from tests.factories import make_contact_list

pytestmark = pytest.mark.django_db

LAUNCH = {
    "name": "Evening",
    "start_at": "",
    "timezone": "Asia/Kolkata",
    "window_days": ["0", "1", "2", "3", "4", "5", "6"],
    "batch_size": "500",
    "api_version": "1.0",
    "confirm_listener": "on",
}
CONFIRM = {"reviewed": "1", "skip_called": "on", "look_back_days": "7", "confirm": "1"}


@pytest.fixture
def indian_list(acme_flow):
    return make_contact_list(acme_flow, 5, name="Indian numbers")


def test_a_window_across_midnight_is_said_in_words():
    window = Window.parse("21:30-21:00", zone="Asia/Kolkata")
    assert window.crosses_midnight and window.minutes == 23 * 60 + 30
    assert window.hours_in_words() == "from 21:30 until 21:00 the next day, 23 h 30 min"
    assert Window.parse("09:00-21:00", zone="UTC").hours_in_words() == "from 09:00 until 21:00, 12 h"
    assert Window(datetime.time(9), None, (0,), "UTC").hours_in_words() == "from 09:00 until 24:00, 15 h"


def test_the_review_asks_to_confirm_a_window_across_midnight_and_refuses_without_it(client, alice, indian_list):
    client.force_login(alice)
    url = reverse("list_launch", args=[indian_list.pk])
    overnight = {**LAUNCH, "window_start": "21:30", "window_end": "21:00", "confirm_indian_hours": "on"}

    review = client.post(url, overnight).content.decode()
    refused = client.post(url, {**overnight, **CONFIRM})
    assert refused.status_code == 400 and not Campaign.objects.exists()
    launched = client.post(url, {**overnight, **CONFIRM, "confirm_overnight": "on"})

    assert "from 21:30 until 21:00 the next day, 23 h 30 min" in review and 'name="confirm_overnight"' in review
    assert launched.status_code == 302 and Campaign.objects.get().window_end == datetime.time(21, 0)


def test_hours_outside_nine_to_nine_for_indian_numbers_must_be_confirmed(client, alice, indian_list):
    client.force_login(alice)
    url = reverse("list_launch", args=[indian_list.pk])
    early = {**LAUNCH, "window_start": "07:00", "window_end": "21:00"}

    review = client.post(url, early).content.decode()
    refused = client.post(url, {**early, **CONFIRM})

    assert 'name="confirm_indian_hours"' in review and "from 09:00 to 21:00 Indian time" in review
    assert refused.status_code == 400 and not Campaign.objects.exists()


def test_an_account_may_turn_the_indian_hours_warning_off(client, alice, indian_list):
    Account.objects.filter(pk=indian_list.flow.account_id).update(warn_outside_indian_hours=False)
    client.force_login(alice)

    review = client.post(
        reverse("list_launch", args=[indian_list.pk]), {**LAUNCH, "window_start": "07:00", "window_end": "21:00"}
    ).content.decode()

    assert 'name="confirm_indian_hours"' not in review


def test_hours_inside_nine_to_nine_or_numbers_outside_india_ask_nothing(client, alice, acme_flow):
    foreign = make_contact_list(acme_flow, 2, name="UK numbers")
    foreign.contacts.update(primary_number="447700900123")
    client.force_login(alice)
    url = reverse("list_launch", args=[foreign.pk])

    early = client.post(url, {**LAUNCH, "window_start": "07:00", "window_end": "21:00"}).content.decode()

    assert 'name="confirm_indian_hours"' not in early


def test_editing_a_campaign_to_a_window_across_midnight_asks_to_confirm_it(client, alice, indian_list):
    campaign = Campaign.objects.create(
        name="Evening",
        contact_list=indian_list,
        flow=indian_list.flow,
        token="EDIT000001",
        status=Campaign.Status.SCHEDULED,
        window_start=datetime.time(9),
        window_end=datetime.time(21),
    )
    client.force_login(alice)
    url = reverse("campaign_edit", args=[campaign.pk])
    edit = {
        "name": "Evening",
        "start_at": "",
        "timezone": "Asia/Kolkata",
        "window_start": "21:30",
        "window_end": "21:00",
        "window_days": ["0", "1", "2", "3", "4", "5", "6"],
    }

    refused = client.post(url, edit)
    saved = client.post(url, {**edit, "confirm_overnight": "on", "confirm_indian_hours": "on"})

    assert refused.status_code == 400
    assert "from 21:30 until 21:00 the next day, 23 h 30 min" in refused.content.decode()
    assert saved.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.window_start, campaign.window_end) == (datetime.time(21, 30), datetime.time(21, 0))


def test_the_preview_says_how_many_rows_have_their_own_start_time_and_how_many_fall_outside(client, alice):
    client.force_login(alice)
    upload = io.BytesIO(
        b"tel1,starttime\r\n919812345678,2030-01-02T06:00:00+05:30\r\n919812345679,2030-01-02T11:00:00+05:30\r\n"
        b"919812345670,\r\n"
    )
    upload.name = "own times.csv"

    page = client.post(reverse("list_preview"), {"file": upload}).content.decode()

    assert "2 of the first 3 rows have their own start time; 1 falls outside 09:00–21:00 IST" in page
