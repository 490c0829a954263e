"""The review counts what planning then skips, reason by reason: the same checks, in the same order."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.donotcall.lists import dnc_entries_add, dnc_own_list
from campaigns.models import Campaign, Contact
from dialer import campaign_actions
from dialer.models import Call
from dialer.planning import campaign_plan
from dialer.progress import campaign_progress, skip_reasons
from dialer.review import launch_review, review_lines
from dialer.skip_forecast import contact_list_skips
from dialer.tallies import calls_recount
from tests.factories import make_contact_list, make_flow, phone

pytestmark = pytest.mark.django_db
IST = ZoneInfo("Asia/Kolkata")


def earlier_campaign(flow, name, *, count, first, placed_ago=None, status=Campaign.Status.COMPLETED):
    campaign = campaign_actions.campaign_create(
        contact_list=make_contact_list(flow, count, first=first, name=name), name=name, window="00:00-24:00"
    )
    campaign_plan(campaign_id=campaign.pk)
    finished = None
    if placed_ago is not None:
        finished = timezone.now() - placed_ago
        Call.objects.filter(campaign=campaign).update(state=Call.State.PLACED, updated_at=finished, batch=None)
    Campaign.objects.filter(pk=campaign.pk).update(status=status, finished_at=finished)
    return campaign


@pytest.fixture
def everything_in_play():
    """A list of 100 contacts: 11 on the do-not-call list (one of them also within the cap), 20 called
    two hours ago and 5 waiting in a running campaign (the cap: 1 call per 1 day), 30 called three
    days ago (the look-back: 7 days), and 5 whose own start time (06:00) is outside the window."""
    flow = make_flow()
    dnc_entries_add(dnc_list=dnc_own_list(account=flow.account), numbers=[phone(i) for i in [*range(10), 15]])
    earlier_campaign(flow, "Yesterday evening", count=20, first=10, placed_ago=datetime.timedelta(hours=2))
    earlier_campaign(flow, "Last week", count=30, first=30, placed_ago=datetime.timedelta(days=3))
    earlier_campaign(flow, "Running now", count=5, first=60, status=Campaign.Status.RUNNING)
    calls_recount()
    contact_list = make_contact_list(flow, 100, name="Today")
    early = datetime.datetime.combine(
        timezone.now().astimezone(IST).date() + datetime.timedelta(days=2), datetime.time(6, 0), tzinfo=IST
    )
    Contact.objects.filter(contact_list=contact_list, primary_number__in=[phone(i) for i in range(90, 95)]).update(
        start_at=early
    )
    return contact_list


def test_the_reviews_counts_equal_what_planning_then_skips_reason_by_reason(everything_in_play):
    contact_list = everything_in_play
    options = {"window": "09:00-21:00", "outside_window": Campaign.OutsideWindow.SKIP}

    review = launch_review(contact_list=contact_list, look_back_days=7, **options)
    campaign = campaign_actions.campaign_create(contact_list=contact_list, skip_called_days=7, **options)
    assert campaign_plan(campaign_id=campaign.pk) is True

    planned = dict(skip_reasons(campaign))
    assert {skip.reason: skip.count for skip in review.skips} == planned
    three_days_ago = (timezone.now() - datetime.timedelta(days=3)).astimezone(IST)
    own_list = dnc_own_list(account=contact_list.flow.account).name
    assert planned == {
        f"on the do-not-call list ({own_list})": 11,
        "over the dialling cap (1 call per 1 day)": 24,  # 19 called two hours ago + 5 waiting
        f"Called on {three_days_ago.day} {three_days_ago:%b %Y} in “Last week”.": 30,
        "start time outside the calling window": 5,
    }
    assert review.to_call == campaign_progress(campaign).pending == 100 - 11 - 24 - 30 - 5
    lines = review_lines(review)
    assert "Skipped:   24 over the dialling cap (1 call per 1 day)" in lines
    assert f"Skipped:   30 called on {three_days_ago.day} {three_days_ago:%b %Y} in “Last week”" in lines


def test_unticking_skip_the_already_called_still_counts_the_list_and_the_cap(everything_in_play):
    contact_list = everything_in_play

    review = launch_review(contact_list=contact_list, window="09:00-21:00", skip_called=False)
    campaign = campaign_actions.campaign_create(contact_list=contact_list, window="09:00-21:00")
    assert campaign_plan(campaign_id=campaign.pk) is True

    assert {skip.reason: skip.count for skip in review.skips} == dict(skip_reasons(campaign))
    assert review.skipped == 35 and review.to_call == 65 == campaign_progress(campaign).pending


@pytest.mark.django_db(transaction=True)  # a transaction of its own, not a savepoint: SET LOCAL ends with it
def test_the_forecasts_probes_run_without_jit_and_leave_the_session_as_it_was():
    if connection.vendor != "postgresql":
        pytest.skip("JIT compilation is PostgreSQL's")
    flow = make_flow()
    dnc_entries_add(dnc_list=dnc_own_list(account=flow.account), numbers=[phone(3)])
    contact_list = make_contact_list(flow, 10, name="Today")

    def jit() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('jit')")
            return cursor.fetchone()[0]

    seen = []

    def beside_the_probes(execute, sql, params, many, context):
        if "GROUP BY reason" in sql:
            seen.append(jit())  # the setting the do-not-call probes run with
        return execute(sql, params, many, context)

    before = jit()
    with connection.execute_wrapper(beside_the_probes):
        skips = contact_list_skips(contact_list=contact_list, skip_called_days=None, now=timezone.now(), zone="UTC")
    assert [(skip.reason.startswith("on the do-not-call list"), skip.count) for skip in skips] == [(True, 1)]
    assert seen == ["off"]  # compiling the per-contact probes cost more than running them
    assert jit() == before
