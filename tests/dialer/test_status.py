"""One status that explains itself: the wait, its reason, the next step, the times."""

import datetime

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from dialer import campaign_actions, campaign_states, ratelimit
from dialer.models import Batch, BatchAttempt, Call
from dialer.planning import campaign_plan
from dialer.status import campaign_status_explained
from dialer.tallies import calls_recount
from tests.factories import make_contact_list, make_flow

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 2, 5, 0, tzinfo=datetime.UTC)  # Wednesday 10:30 IST


def _campaign(contact_list, *, status, name="Spring", **options):
    options.setdefault("window", "00:00-24:00")
    campaign = campaign_actions.campaign_create(contact_list=contact_list, name=name, batch_size=100, **options)
    campaign_plan(campaign_id=campaign.pk)
    Campaign.objects.filter(pk=campaign.pk).update(status=status, started_at=NOW - datetime.timedelta(minutes=5))
    campaign.refresh_from_db()
    return campaign


def _sent(campaign, calls_ago):
    for batch in Batch.objects.filter(campaign=campaign)[:calls_ago]:
        attempt = BatchAttempt.objects.create(batch=batch, number=1, outcome="answered", response_code=200)
        BatchAttempt.objects.filter(pk=attempt.pk).update(created_at=NOW - datetime.timedelta(seconds=20))


@pytest.fixture
def flow(settings):
    settings.PHONON_REALTIME_RATE = "600/60"
    return make_flow()


def test_outside_its_window_it_says_when_the_window_opens_in_both_zones(flow):
    campaign = _campaign(make_contact_list(flow, 10), status=Campaign.Status.RUNNING, window="02:00-06:00",
                         timezone_name="Asia/Kolkata")

    explained = campaign_status_explained(campaign, now=NOW)

    assert explained.headline == "Waiting for the window: starts 3 Dec 02:00 IST (in 16 h)"
    assert explained.detail.startswith("It opens 3 Dec 2026, 02:00 IST (2 Dec, 20:30 UTC).")
    assert explained.state == "waiting_window" and ("Started", "2 Dec 2026, 10:25 IST") in explained.times


def test_a_campaign_starved_by_another_of_the_account_waits_for_the_shared_limit(flow):
    big = _campaign(make_contact_list(flow, 1000, name="big"), status=Campaign.Status.RUNNING,
                    name="Big renewal campaign")
    _sent(big, 6)  # 600 calls in the last minute: the whole limit
    small = _campaign(make_contact_list(flow, 200, first=5000, name="small"), status=Campaign.Status.RUNNING)
    for campaign in (big, small):  # both want to send: the limiter shares between them
        ratelimit.campaign_asking(endpoint=flow.endpoint, account_client_id=flow.account.client_id,
                                  campaign=str(campaign.pk), weight=campaign.weight, calls=100)

    explained = campaign_status_explained(small, now=NOW)

    assert explained.state == "waiting_limit"
    assert explained.headline == (
        "Waiting for the provider's limit (shared with “Big renewal campaign”; about 2 minutes)")


def test_a_sending_campaign_says_how_long_is_left_at_its_pace(flow):
    campaign = _campaign(make_contact_list(flow, 1000), status=Campaign.Status.RUNNING)
    _sent(campaign, 2)  # 200 calls in the last minute
    Call.objects.filter(campaign=campaign, batch__in=Batch.objects.filter(campaign=campaign)[:2]).update(
        state=Call.State.PLACED)
    calls_recount()
    calls_recount()

    explained = campaign_status_explained(campaign, now=NOW)

    # 800 left at the pace measured over the last three minutes (200 calls: 67 a minute)
    assert explained.headline == "Sending (about 12 minutes left)"
    assert explained.primary_action == "pause" and explained.detail == (
        "67 calls a minute accepted by the provider lately; allowed up to 600 calls/min, the whole of the "
        "account's limit.")


def test_a_campaign_sending_while_it_is_still_planned_counts_the_unplanned_contacts_as_left(flow):
    campaign = campaign_actions.campaign_create(contact_list=make_contact_list(flow, 1000), name="Spring",
                                                batch_size=100, window="00:00-24:00")
    campaign_plan(campaign_id=campaign.pk, slice_size=300)  # the first slice only
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING, started_at=NOW)
    campaign.refresh_from_db()
    _sent(campaign, 2)  # 200 calls in the last minute
    Call.objects.filter(campaign=campaign, batch__in=Batch.objects.filter(campaign=campaign)[:2]).update(
        state=Call.State.PLACED)
    calls_recount()

    explained = campaign_status_explained(campaign, now=NOW)

    # 100 planned and 700 not yet planned are left, at 200 a minute
    assert explained.headline == "Sending (about 4 minutes left; planning: 300 of 1,000 contacts planned)"
    assert explained.state == "sending" and explained.primary_action == "pause"

    Call.objects.filter(campaign=campaign).update(state=Call.State.PLACED)
    calls_recount()
    explained = campaign_status_explained(campaign, now=NOW)

    assert explained.state == "planning" and explained.headline == "Planning: 300 of 1,000 contacts planned"
    assert explained.primary_action == "pause"


def test_a_provider_pause_names_who_fixes_it_and_does_not_lead_with_resume(flow):
    campaign = _campaign(make_contact_list(flow, 10), status=Campaign.Status.RUNNING)
    Batch.objects.filter(campaign=campaign).update(status=Batch.Status.HELD, response_code=202)
    campaign_states.campaign_pause_by_system(
        campaign_id=campaign.pk, reason="202 Invalid Security ID", provider_code=202
    )
    campaign.refresh_from_db()

    explained = campaign_status_explained(campaign, now=NOW)

    assert explained.headline == "Paused by the provider: 202 Invalid Security ID"
    assert explained.fixed_by == "an admin"
    assert explained.next_step.startswith("Ask an admin to update the flow's security-id")
    assert explained.primary_action == ""


def test_a_completed_campaign_keeps_its_times_and_outcome(flow):
    campaign = _campaign(make_contact_list(flow, 3), status=Campaign.Status.COMPLETED)
    Call.objects.filter(campaign=campaign).update(state=Call.State.PLACED)
    calls_recount()
    Campaign.objects.filter(pk=campaign.pk).update(finished_at=NOW)
    campaign.refresh_from_db()

    explained = campaign_status_explained(campaign, now=timezone.now())

    assert explained.headline == "Completed" and explained.detail == "3 of 3 calls accepted by the provider."
    assert ("Took", "5 minutes") in explained.times and ("Finished", "2 Dec 2026, 10:30 IST") in explained.times
