"""Edit a campaign not sending now; archive a list without losing what its campaigns used."""

import datetime

import pytest

from campaigns.in_use import contact_lists_in_use
from campaigns.models import Campaign, ContactList
from dialer import campaign_actions
from dialer.campaign_actions import campaign_edit, contact_list_archive
from tests.factories import make_contact_list, make_flow

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact_list():
    return make_contact_list(make_flow(), 3)


def _campaign(contact_list, status):
    campaign = campaign_actions.campaign_create(contact_list=contact_list, name="Old name")
    Campaign.objects.filter(pk=campaign.pk).update(status=status)
    campaign.refresh_from_db()
    return campaign


@pytest.mark.parametrize("status", [Campaign.Status.SCHEDULED, Campaign.Status.PAUSED])
def test_a_scheduled_or_paused_campaign_takes_a_new_name_window_and_start(contact_list, status):
    campaign = _campaign(contact_list, status)
    start = datetime.datetime(2030, 1, 2, 9, 0, tzinfo=datetime.UTC)

    campaign_edit(campaign=campaign, name="New name", start_at=start, window="10:00-18:00", window_days=[0, 1],
                  timezone_name="Europe/London")

    campaign.refresh_from_db()
    assert (campaign.name, campaign.start_at, campaign.timezone) == ("New name", start, "Europe/London")
    assert (campaign.window_start, campaign.window_end, campaign.window_days) == (
        datetime.time(10), datetime.time(18), [0, 1])
    assert campaign.status == status


@pytest.mark.parametrize("status", [Campaign.Status.RUNNING, Campaign.Status.COMPLETED])
def test_a_running_or_finished_campaign_is_not_changed_and_says_why(contact_list, status):
    campaign = _campaign(contact_list, status)

    with pytest.raises(campaign_actions.ActionRefused, match="Only a scheduled or paused campaign can be edited"):
        campaign_edit(campaign=campaign, name="New", start_at=None, window="10:00-18:00", window_days=[0],
                      timezone_name="UTC")

    campaign.refresh_from_db()
    assert campaign.name == "Old name"


def test_an_archived_list_leaves_the_pickers_but_keeps_its_contacts_and_campaigns(contact_list):
    finished = _campaign(contact_list, Campaign.Status.COMPLETED)

    contact_list_archive(contact_list=contact_list)

    contact_list.refresh_from_db()
    assert contact_list.archived_at is not None
    assert contact_list not in contact_lists_in_use(ContactList.objects.all())
    assert contact_list.contacts.count() == 3 and Campaign.objects.filter(pk=finished.pk).exists()


def test_a_list_with_a_running_campaign_cannot_be_archived(contact_list):
    _campaign(contact_list, Campaign.Status.RUNNING)

    with pytest.raises(campaign_actions.ActionRefused, match="cannot be archived"):
        contact_list_archive(contact_list=contact_list)
