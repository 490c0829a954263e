"""Retry: a finished campaign's rejected and skipped calls become a new list to launch."""

import pytest

from campaigns.models import Campaign, ContactList
from dialer import campaign_actions
from dialer.campaign_actions import ActionRefused, campaign_retry_list
from dialer.models import Call
from dialer.planning import campaign_plan
from dialer.tallies import calls_recount
from tests.factories import make_contact_list, make_flow

pytestmark = pytest.mark.django_db


def _finished(states):
    contact_list = make_contact_list(make_flow(), len(states))
    campaign = campaign_actions.campaign_create(contact_list=contact_list, name="June")
    campaign_plan(campaign_id=campaign.pk)
    for call, state in zip(Call.objects.filter(campaign=campaign).order_by("id"), states, strict=True):
        Call.objects.filter(pk=call.pk).update(state=state)
    calls_recount()
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.COMPLETED)
    campaign.refresh_from_db()
    return campaign


def test_the_rejected_and_skipped_contacts_become_a_new_imported_list():
    campaign = _finished([Call.State.PLACED, Call.State.REJECTED, Call.State.SKIPPED, Call.State.ACCEPTED_UNKNOWN])

    retry = campaign_retry_list(campaign=campaign)

    assert (retry.name, retry.source, retry.status, retry.imported_count) == (
        "Retry of June", ContactList.Source.RETRY, ContactList.Status.IMPORTED, 2)
    retried = sorted(retry.contacts.values_list("primary_number", "variables"))
    expected = sorted(Call.objects.filter(campaign=campaign, state__in=["rejected", "skipped"]).values_list(
        "contact__primary_number", "contact__variables"))
    assert retried == expected


def test_nothing_to_retry_and_a_running_campaign_are_refused_in_words():
    campaign = _finished([Call.State.PLACED])

    with pytest.raises(ActionRefused, match="nothing to retry"):
        campaign_retry_list(campaign=campaign)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)
    campaign.refresh_from_db()
    with pytest.raises(ActionRefused, match="Retry once the campaign is completed"):
        campaign_retry_list(campaign=campaign)
