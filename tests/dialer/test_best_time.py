"""The best time to call: answer rate by hour and weekday in the campaign's zone, the redial delay that
reached most people, and the window the launch form suggests (dialer.redials.best_time)."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from dialer import campaign_actions
from dialer.models import Call
from dialer.outcomes.tallies import outcomes_recount
from dialer.planning import campaign_plan
from dialer.redials.best_time import best_time_read
from dialer.tallies import calls_recount
from tests.factories import make_contact_list

pytestmark = pytest.mark.django_db
ZONE = ZoneInfo("Asia/Kolkata")


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


@pytest.fixture
def history(acme_flow):
    """120 contacts called yesterday: 10:00-13:59 local answered 2 in 3, other hours 1 in 5; 40 of
    those of the other hours not reached redialled an hour later, 30 of them answered."""
    contact_list = make_contact_list(acme_flow, 120, name="History")
    campaign = campaign_actions.campaign_create(contact_list=contact_list, window="00:00-24:00")
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SCHEDULED)
    while not campaign_plan(campaign_id=campaign.pk):
        pass
    day = (timezone.now().astimezone(ZONE) - datetime.timedelta(days=1)).date()
    calls = list(Call.objects.filter(campaign=campaign).order_by("contact_id"))
    redials = []
    for index, call in enumerate(calls):
        hour = 10 + index % 4 if index < 60 else (16 + index % 6)
        at = datetime.datetime.combine(day, datetime.time(hour, 15), tzinfo=ZONE)
        good = index % 3 != 0 if index < 60 else index % 5 == 0
        Call.objects.filter(pk=call.pk).update(
            state=Call.State.PLACED, outcome="answered" if good else "busy", outcome_at=at
        )
        if not good and index >= 60 and len(redials) < 40:
            redials.append(
                Call(
                    campaign=campaign,
                    contact_id=call.contact_id,
                    attempt=2,
                    client_identifier=f"{call.pk}-2",
                    state=Call.State.PLACED,
                    outcome="answered" if len(redials) < 30 else "no_answer",
                    outcome_at=at + datetime.timedelta(hours=1),
                )
            )
    Call.objects.bulk_create(redials)
    calls_recount(campaign_id=campaign.pk)
    outcomes_recount(campaign_id=campaign.pk)  # written behind the product's back, as above
    return campaign


def test_the_hours_answered_most_are_suggested_as_the_window(history):
    best = best_time_read(account_id=history.flow.account_id, zone="Asia/Kolkata")
    assert best.calls == 160
    assert all(bar.rate >= 60 for bar in best.hours[10:14])
    assert all(bar.rate <= 50 for bar in best.hours[:10] + best.hours[14:] if bar.calls >= 10)
    assert best.suggested_window[0] == "10:00-14:00"
    assert "10:00-14:00 (Asia/Kolkata)" in best.suggestion_text
    assert sum(bar.calls for bar in best.weekdays) == 160


def test_the_redial_delay_that_reached_most_people_is_named(history):
    best = best_time_read(account_id=history.flow.account_id, zone="Asia/Kolkata")
    delay = best.best_delay
    assert delay.label == "30 min to 2 h" and (delay.calls, delay.answered) == (40, 30)


def test_the_hours_follow_the_zone_asked_for(history):
    london = best_time_read(account_id=history.flow.account_id, zone="Europe/London")
    assert london.suggested_window[0] != "10:00-14:00"


def test_an_account_without_outcomes_suggests_nothing(acme_flow):
    best = best_time_read(account_id=acme_flow.account_id, zone="Asia/Kolkata")
    assert best.calls == 0 and best.suggested_window is None and best.suggestion_text == ""


def test_the_pages_draw_the_chart_and_the_launch_form_suggests_the_window(client, alice, history, acme_flow):
    acme_list = make_contact_list(acme_flow, 3, name="Next list")
    client.force_login(alice)
    page = client.get(reverse("campaign_detail", args=[history.pk])).content.decode()
    assert "Best time to call" in page and 'id="best-hours"' in page
    assert "Answered most often: 10:00-14:00" in page and "30 min to 2 h" in page
    assert "Best time to call · " in client.get(reverse("dashboard")).content.decode()
    form = client.get(reverse("list_launch", args=[acme_list.pk])).content.decode()
    assert 'id="suggested-window"' in form and "10:00-14:00" in form
