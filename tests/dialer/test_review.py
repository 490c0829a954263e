"""The launch review: who, when (with zones), how long at the account's share of the limit."""

import datetime

import pytest

from campaigns.models import Campaign
from dialer import campaign_actions, ratelimit
from dialer.models import Call
from dialer.planning import campaign_plan
from dialer.review import launch_review, review_lines
from dialer.tallies import calls_recount
from tests.factories import make_contact_list, make_flow

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 2, 4, 0, tzinfo=datetime.UTC)  # 09:30 IST, a Wednesday


@pytest.fixture
def contact_list(settings):
    settings.PHONON_REALTIME_RATE = "3000/60"
    return make_contact_list(make_flow(name="Reminders"), 6000)


def test_the_review_says_who_when_and_how_long(contact_list):
    start = datetime.datetime(2026, 12, 2, 5, 0, tzinfo=datetime.UTC)
    review = launch_review(contact_list=contact_list, start_at=start, window="09:00-21:00",
                           window_days=[0, 1, 2, 3, 4], timezone_name="Asia/Kolkata", now=NOW)

    assert (review.contacts, review.to_call, review.called.count) == (6000, 6000, 0)
    assert review.start_text == "2 Dec 2026, 10:30 IST (05:00 UTC)"
    assert review.window_text == "09:00–21:00 IST (03:30–15:30 UTC)"
    assert review.days_text == "Mon, Tue, Wed, Thu, Fri"
    assert review.duration_text == "about 2 minutes"  # 6,000 calls at 3,000 a minute
    assert review.rate_text == "allowed up to 3,000 calls a minute, the account's limit"
    assert review.window_open_now


def test_the_estimate_uses_the_accounts_share_while_another_campaign_sends(contact_list):
    other = campaign_actions.campaign_create(contact_list=contact_list, name="Big renewal campaign")
    Campaign.objects.filter(pk=other.pk).update(status=Campaign.Status.RUNNING)
    ratelimit.campaign_asking(endpoint="realtime", account_client_id=contact_list.flow.account.client_id,
                              campaign=str(other.pk), weight=other.weight, calls=500)

    review = launch_review(contact_list=contact_list, window="00:00-24:00", now=NOW)

    assert review.window_text == "Around the clock"
    assert review.duration_text == "about 4 minutes"
    assert review.rate_text == ("allowed up to 1,500 calls a minute, its share (1/2 of the account's limit) while "
                                "“Big renewal campaign” also send")


def test_skipping_the_called_contacts_lowers_the_count_and_the_lines_say_so(contact_list):
    earlier = campaign_actions.campaign_create(contact_list=contact_list, name="Earlier")
    campaign_plan(campaign_id=earlier.pk)
    Campaign.objects.filter(pk=earlier.pk).update(status=Campaign.Status.COMPLETED)
    Call.objects.filter(campaign=earlier, contact__line__lte=1001).update(state=Call.State.PLACED)
    Call.objects.filter(campaign=earlier, contact__line__gt=1001).update(state=Call.State.SKIPPED)
    calls_recount()

    skip = launch_review(contact_list=contact_list, window="00:00-24:00")
    call_all = launch_review(contact_list=contact_list, window="00:00-24:00", skip_called=False)

    # called within the account's cap (1 call per 1 day): skipped over the cap, whatever the box says
    assert (skip.called.count, skip.to_call, call_all.to_call) == (1000, 5000, 5000)
    assert "Skipped:   1,000 over the dialling cap (1 call per 1 day)" in review_lines(skip)
    assert "Will call: 5,000 contacts" in review_lines(skip)
    assert "CALLED AGAIN" in "\n".join(review_lines(call_all))


def test_the_review_says_when_the_shares_cannot_hold_within_each_window_and_why(settings):
    # given a limit of 1,000 calls per 5 s, and a high campaign sending on the account
    settings.PHONON_REALTIME_RATE = "1000/5"
    flow = make_flow(client_id=f"few-requests-{datetime.datetime.now().timestamp()}")
    contact_list = make_contact_list(flow, 100)
    other = campaign_actions.campaign_create(contact_list=contact_list, name="Payment reminders", priority="high")
    Campaign.objects.filter(pk=other.pk).update(status=Campaign.Status.RUNNING)
    ratelimit.campaign_asking(endpoint="realtime", account_client_id=flow.account.client_id,
                              campaign=str(other.pk), weight=other.weight, calls=500)

    # when a low one is reviewed in requests of 500 calls (two a window), and in requests of 200
    review = launch_review(contact_list=contact_list, window="00:00-24:00", priority="low", batch_size=500, now=NOW)
    small = launch_review(contact_list=contact_list, window="00:00-24:00", priority="low", batch_size=200, now=NOW)

    # then the first says that the four-to-one turns take five requests, three windows, and why
    assert review.share_note == (
        "The shares hold over every 3 windows of the limit, not within each one: a window (1,000 calls per 5 s) "
        "holds 2 requests of 500 calls, and one round of the turns between these campaigns takes 5 requests, so "
        "the one of lowest priority sends nothing in some windows. Batches of 200 calls or fewer would share "
        "every window."
    )
    assert f"Shares:    {review.share_note}" in review_lines(review)
    # and five requests of 200 fit a window: nothing to say
    assert small.share_note == ""
