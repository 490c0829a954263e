"""One read model: the page, its live fragment, the dashboard and the API say the same thing."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from api.keys import api_key_create
from campaigns.clock import zoned_time
from campaigns.models import Campaign
from dialer import campaign_actions, ratelimit
from dialer.models import Batch, BatchAttempt, Call
from dialer.planning import campaign_plan
from dialer.read_model import campaign_reading
from dialer.tallies import calls_recount
from pages.selectors import campaign_chart
from tests.conftest import make_user
from tests.factories import make_contact_list, make_flow

pytestmark = pytest.mark.django_db


@pytest.fixture
def flow(settings):
    settings.PHONON_REALTIME_RATE = "600/60"
    settings.PHONON_RATE_MARGIN = 0
    settings.PHONON_SHARE_IDLE_SECONDS = 600  # the campaigns stay among the asking while the test reads
    return make_flow(client_id="C-read-model")


def running(flow, name, *, priority="normal", contacts=3000, first=0, accepted_batches=0, minutes_ago=1):
    contact_list = make_contact_list(flow, contacts, first=first, name=name)
    campaign = campaign_actions.campaign_create(
        contact_list=contact_list, name=name, window="00:00-24:00", priority=priority, batch_size=100
    )
    campaign_plan(campaign_id=campaign.pk)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.RUNNING, started_at=timezone.now() - datetime.timedelta(minutes=5)
    )
    campaign.refresh_from_db()
    for batch in Batch.objects.filter(campaign=campaign).order_by("sequence")[:accepted_batches]:
        attempt = BatchAttempt.objects.create(batch=batch, number=1, outcome="answered", response_code=200)
        BatchAttempt.objects.filter(pk=attempt.pk).update(
            created_at=timezone.now() - datetime.timedelta(minutes=minutes_ago)
        )
        Call.objects.filter(batch=batch).update(state=Call.State.PLACED)
        Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.PLACED)
    calls_recount()
    ratelimit.campaign_asking(
        endpoint=flow.endpoint,
        account_client_id=flow.account.client_id,
        campaign=str(campaign.pk),
        weight=campaign.weight,
        calls=100,
    )
    return campaign


def test_two_campaigns_of_different_priorities_show_one_finishing_time_on_page_fragment_and_api(client, flow):
    # given a high and a low campaign of one account sharing 600 calls a minute (4:1), each measured
    high = running(flow, "Renewals", priority="high", accepted_batches=9)  # 900 accepted in 3 min: 300/min
    low = running(flow, "Surveys", priority="low", first=10_000, accepted_batches=6)  # 200/min, share 120
    alice = make_user("alice-read", accounts=[flow.account])
    client.force_login(alice)
    key = api_key_create(account=flow.account, name="CRM")[1]

    for campaign, share in ((high, 480), (low, 120)):
        # when the page, its live fragment and the API are read
        page = client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
        fragment = client.get(reverse("campaign_live", args=[campaign.pk])).content.decode()
        api = client.get(f"/api/v1/campaigns/{campaign.pk}/", HTTP_AUTHORIZATION=f"Api-Key {key}").json()

        # then all three give the same finishing time, from the pace measured, bounded by the share
        finish = datetime.datetime.fromisoformat(api["share"]["estimated_finish"])
        words = zoned_time(finish, campaign.timezone)
        assert f"Estimated finish {words}" in page and f"Estimated finish {words}" in fragment
        assert api["share"]["calls_per_minute"] == share
        reading = campaign_reading(campaign)
        assert reading.finish_at == finish
        assert f"allowed up to {share:,} calls/min" in api["share"]["in_words"]
    # the high one goes at its measured 300 a minute; the low one at its share, 120, not its measured 200
    assert campaign_reading(high).estimate.per_minute == 300
    assert campaign_reading(low).estimate.per_minute == 120


def test_a_failing_provider_says_retrying_and_counts_no_call_as_sent(flow, settings):
    settings.DISPATCH_MAX_ATTEMPTS = 8
    campaign = running(flow, "Reminders", contacts=1000)
    next_try = timezone.now() + datetime.timedelta(minutes=2)
    for batch in Batch.objects.filter(campaign=campaign).order_by("sequence")[:3]:
        for number in (1, 2):
            BatchAttempt.objects.create(batch=batch, number=number, outcome="http_error", http_status=500)
        Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.RETRY_WAIT, attempts=2, next_attempt_at=next_try)

    reading = campaign_reading(campaign)

    assert reading.explained.state == "retrying"
    assert reading.explained.headline == (
        f"Retrying: the provider answered 500 to the last 6 requests (attempt 2 of 8), next try at "
        f"{zoned_time(next_try, 'Asia/Kolkata', date=False)}"
    )
    # and six failed requests of 100 calls draw nothing: the chart and the pace count accepted calls only
    assert campaign_chart(campaign, 600)["summary"] == "No call has been accepted yet."
    assert reading.estimate.measured is False and reading.finish_at is None  # no honest finishing time


def test_the_dashboard_lists_a_failing_provider_under_needs_your_attention(client, flow):
    campaign = running(flow, "Reminders", contacts=500)
    batch = Batch.objects.filter(campaign=campaign).first()
    BatchAttempt.objects.create(batch=batch, number=1, outcome="answered", response_code=500)
    Batch.objects.filter(pk=batch.pk).update(
        status=Batch.Status.RETRY_WAIT, attempts=1, next_attempt_at=timezone.now() + datetime.timedelta(seconds=30)
    )
    client.force_login(make_user("alice-dash", accounts=[flow.account]))

    page = client.get(reverse("dashboard")).content.decode()

    assert "Needs your attention (1)" in page
    assert "Retrying: the provider answered 500 to the last request (attempt 1 of" in page


def test_a_campaign_waiting_for_its_window_says_when_it_starts_everywhere(client, flow):
    now = timezone.now()
    closed_days = [day for day in range(7) if day != now.astimezone(datetime.UTC).weekday()]
    contact_list = make_contact_list(flow, 50)
    campaign = campaign_actions.campaign_create(
        contact_list=contact_list, name="Tomorrow", window="00:00-24:00", window_days=closed_days, timezone_name="UTC"
    )
    campaign_plan(campaign_id=campaign.pk)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)
    client.force_login(make_user("alice-wait", accounts=[flow.account]))
    opening = (now.astimezone(datetime.UTC) + datetime.timedelta(days=1)).date()
    expected = f"Waiting for the window: starts {opening.day} {opening:%b} 00:00 UTC (in "

    live = client.get(reverse("campaign_live", args=[campaign.pk])).content.decode()
    dashboard = client.get(reverse("dashboard")).content.decode()

    assert expected in live and expected in dashboard
    assert f"{opening.day} {opening:%b} 00:00 UTC (in " in dashboard.split("Starts")[-1]
    assert "0 of 50 calls to send sent" in live


def test_a_cancelled_campaign_says_what_was_placed_and_what_was_never_sent(client, flow):
    campaign = running(flow, "Reminders", contacts=400, accepted_batches=1)
    campaign_actions.campaign_cancel(campaign=campaign)
    campaign.refresh_from_db()
    client.force_login(make_user("alice-cancel", accounts=[flow.account]))

    live = client.get(reverse("campaign_live", args=[campaign.pk])).content.decode()

    assert "Cancelled: 100 placed, 300 not sent (cancelled)" in live
    assert "100%" not in live
