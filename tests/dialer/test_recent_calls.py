"""Planning skips the contacts the account called within the campaign's look-back, with the reason;
the review counts them first."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from dialer import campaign_actions
from dialer.models import Batch, Call
from dialer.planning import campaign_plan
from dialer.recent_calls import contact_list_called_summary
from dialer.tallies import calls_recount
from flows.models import Account
from tests.factories import make_contact_list, make_flow

pytestmark = pytest.mark.django_db


def _planned(contact_list, *, status=Campaign.Status.COMPLETED, **options):
    campaign = campaign_actions.campaign_create(
        contact_list=contact_list, window="00:00-24:00", batch_size=2, **options
    )
    campaign_plan(campaign_id=campaign.pk)
    Campaign.objects.filter(pk=campaign.pk).update(status=status)
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def flow():
    # A generous dialling cap, so that only the look-back rule under test decides (the cap has its own tests).
    flow = make_flow()
    Account.objects.filter(pk=flow.account_id).update(calls_per_number=100)
    return flow


def test_a_relaunch_skips_the_numbers_placed_within_the_look_back_with_the_campaign_and_date(flow):
    # given a list of five, three of whom an earlier campaign placed today
    contact_list = make_contact_list(flow, 5)
    earlier = _planned(contact_list, name="March reminders")
    Call.objects.filter(campaign=earlier, contact__line__in=[2, 3, 4]).update(state=Call.State.PLACED)
    calls_recount()

    # when the list is launched again with a 7-day look-back
    again = _planned(contact_list, status=Campaign.Status.SCHEDULED, skip_called_days=7)

    # then three are skipped outside any batch, with the reason; the batch left empty is gone
    skipped = Call.objects.filter(campaign=again, state=Call.State.SKIPPED)
    # The day as the campaign's zone reads it (past 18:30 UTC it is already tomorrow in Kolkata).
    today = timezone.localtime(timezone=ZoneInfo(again.timezone)).date()
    assert skipped.count() == 3 and not skipped.filter(batch__isnull=False).exists()
    assert set(skipped.values_list("provider_message", flat=True)) == {
        f"Called on {today.day} {today:%b %Y} in “March reminders”."
    }
    assert Call.objects.filter(campaign=again, state=Call.State.PENDING).count() == 2
    assert list(Batch.objects.filter(campaign=again).values_list("call_count", flat=True)) == [1, 1]


def test_numbers_of_another_list_of_the_account_count_and_rejected_calls_do_not(flow):
    # given one list placed (numbers 0-1) and one rejected (numbers 2-3), both of the account
    placed = _planned(make_contact_list(flow, 2, first=0, name="a"))
    Call.objects.filter(campaign=placed).update(state=Call.State.PLACED)
    calls_recount()
    rejected = _planned(make_contact_list(flow, 2, first=2, name="b"))
    Call.objects.filter(campaign=rejected).update(state=Call.State.REJECTED)
    calls_recount()

    # when a third list with numbers 0-3 is launched
    campaign = _planned(make_contact_list(flow, 4, first=0, name="c"), status=Campaign.Status.SCHEDULED,
                        skip_called_days=7)

    # then only the two placed numbers are skipped
    assert Call.objects.filter(campaign=campaign, state=Call.State.SKIPPED).count() == 2
    assert Call.objects.filter(campaign=campaign, state=Call.State.PENDING).count() == 2


def test_calls_older_than_the_look_back_and_other_accounts_do_not_count(flow):
    contact_list = make_contact_list(flow, 3)
    old = _planned(contact_list)
    Call.objects.filter(campaign=old).update(state=Call.State.PLACED,
                                             updated_at=timezone.now() - datetime.timedelta(days=8))
    calls_recount()
    other_flow = make_flow(flow_id="OtherAcc", client_id="C999")
    other = _planned(make_contact_list(other_flow, 3))
    Call.objects.filter(campaign=other).update(state=Call.State.PLACED)
    calls_recount()

    campaign = _planned(contact_list, status=Campaign.Status.SCHEDULED, skip_called_days=7)

    assert Call.objects.filter(campaign=campaign, state=Call.State.PENDING).count() == 3


def test_numbers_waiting_in_a_running_campaign_count_as_called(flow):
    contact_list = make_contact_list(flow, 3)
    _planned(contact_list, name="Still running", status=Campaign.Status.RUNNING)

    campaign = _planned(contact_list, status=Campaign.Status.SCHEDULED, skip_called_days=7)

    assert set(Call.objects.filter(campaign=campaign).values_list("state", "provider_message")) == {
        (Call.State.SKIPPED, "Also waiting to be called in “Still running”.")
    }
    assert not Batch.objects.filter(campaign=campaign).exists()


def test_without_a_look_back_everyone_is_called(flow):
    contact_list = make_contact_list(flow, 3)
    Call.objects.filter(campaign=_planned(contact_list)).update(state=Call.State.PLACED)
    calls_recount()

    campaign = _planned(contact_list, status=Campaign.Status.SCHEDULED, skip_called_days=None)

    assert Call.objects.filter(campaign=campaign, state=Call.State.PENDING).count() == 3


def test_the_summary_counts_the_lists_contacts_called_and_names_the_campaigns(flow):
    contact_list = make_contact_list(flow, 4)
    earlier = _planned(contact_list, name="Monday")
    Call.objects.filter(campaign=earlier, contact__line__in=[2, 3]).update(state=Call.State.ACCEPTED_UNKNOWN)
    calls_recount()

    summary = contact_list_called_summary(contact_list=contact_list, days=7)

    assert (summary.count, summary.campaigns) == (2, [("Monday", 2)])
