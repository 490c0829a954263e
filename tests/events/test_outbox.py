"""The outbox: every list and campaign change of interest writes its event in its own transaction."""

import pytest
from django.db import transaction

from campaigns.models import Campaign
from dialer import campaign_actions, campaign_states
from events.models import Event
from events.recording import event_record
from tests.factories import make_contact_list, make_flow

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    contact_list = make_contact_list(make_flow(), 2)
    created = campaign_actions.campaign_create(contact_list=contact_list, window="00:00-24:00")
    Campaign.objects.filter(pk=created.pk).update(status=Campaign.Status.SCHEDULED)
    return created


def types() -> list[str]:
    return list(Event.objects.order_by("id").values_list("type", flat=True))


def test_each_transition_records_its_event_with_the_facts_of_the_moment(campaign):
    # when
    campaign_states.campaign_start(campaign_id=campaign.pk)
    campaign_states.campaign_pause_by_system(
        campaign_id=campaign.pk, reason="The provider answered 211", provider_code=211
    )
    campaign_actions.campaign_resume(campaign=campaign)
    campaign_actions.campaign_cancel(campaign=campaign)

    # then
    assert types() == ["campaign.started", "campaign.paused", "campaign.resumed", "campaign.cancelled"]
    paused = Event.objects.get(type="campaign.paused")
    assert paused.account_id == campaign.flow.account_id
    assert paused.payload == {"object": "campaign", "id": campaign.pk, "status": "paused",
                              "status_reason": "The provider answered 211", "provider_code": 211}


def test_a_refused_transition_records_nothing(campaign):
    # when
    with pytest.raises(campaign_actions.ActionRefused):
        campaign_actions.campaign_resume(campaign=campaign)

    # then
    assert types() == []


def test_a_change_rolled_back_takes_its_event_with_it(campaign):
    # when
    with pytest.raises(RuntimeError), transaction.atomic():
        campaign_states.campaign_start(campaign_id=campaign.pk)
        raise RuntimeError("the surrounding work failed")

    # then
    assert types() == [] and Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.SCHEDULED


def test_an_unknown_event_type_is_refused(campaign):
    with pytest.raises(ValueError, match="Unknown event type"):
        event_record(account=campaign.flow.account, type="campaign.exploded", payload={})
