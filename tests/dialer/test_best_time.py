"""The best time to call: answer rate by hour and weekday in the campaign's zone, the redial delay that
reached most people, and the window the launch form suggests (dialer.redials.best_time); computed by a
worker, never inside a page, and read by every process from Redis (dialer.redials.best_time_results)."""

import datetime
import json
from zoneinfo import ZoneInfo

import pytest
import redis
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from dialer import campaign_actions
from dialer.models import Call
from dialer.outcomes.tallies import outcomes_recount
from dialer.planning import campaign_plan
from dialer.redials.best_time import best_time_read
from dialer.redials.best_time_results import REFRESH_SECONDS
from dialer.redials.best_time_store import best_time_compute
from dialer.redials.tasks import best_time_compute_task
from dialer.tallies import calls_recount
from tests.factories import make_contact_list
from tests.processes import Processes, wait_until

pytestmark = pytest.mark.django_db
ZONE = ZoneInfo("Asia/Kolkata")
WORKING = "Working out the best time to call from the last 28 days of calls"


def queued_computations() -> list[list]:
    """The best-time computations waiting in the broker's queue for a worker, as [account, zone, days]."""
    found = []
    for message in redis.Redis.from_url(settings.REDIS_URL).lrange("celery", 0, -1):
        headers = json.loads(message)["headers"]
        if headers["task"] == best_time_compute_task.name:
            found.append(headers["argsrepr"])
    return found


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
    account = history.flow.account_id
    for zone in ("Asia/Kolkata", settings.PHONON_TIMEZONE):  # the campaign's, the dashboard's
        best_time_compute_task(account, zone, 28)
    client.force_login(alice)
    page = client.get(reverse("campaign_detail", args=[history.pk])).content.decode()
    assert "Best time to call" in page and 'id="best-hours"' in page and WORKING not in page
    assert "Answered most often: 10:00-14:00" in page and "30 min to 2 h" in page
    assert "Best time to call · " in client.get(reverse("dashboard")).content.decode()
    form = client.get(reverse("list_launch", args=[acme_list.pk])).content.decode()
    assert 'id="suggested-window"' in form and "10:00-14:00" in form
    assert queued_computations() == []  # fresh results: nothing asked of a worker


def test_a_page_without_a_result_says_it_is_worked_out_and_asks_one_computation(client, alice, history, acme_flow):
    acme_list = make_contact_list(acme_flow, 3, name="Next list")
    client.force_login(alice)
    for _ in range(5):
        page = client.get(reverse("campaign_detail", args=[history.pk])).content.decode()
        assert WORKING in page and 'id="best-hours"' not in page
        form = client.get(reverse("list_launch", args=[acme_list.pk]))
        assert form.status_code == 200 and 'id="campaign-form"' in form.content.decode()
        assert 'id="suggested-window"' not in form.content.decode()
    # the campaign page and the launch form (zone Asia/Kolkata, the form's default) ask once between them
    assert queued_computations() == [f"({history.flow.account_id}, 'Asia/Kolkata', 28)"]


def test_a_stale_result_is_shown_with_its_time_while_a_fresh_one_is_asked(client, alice, history):
    earlier = timezone.now() - datetime.timedelta(seconds=REFRESH_SECONDS + 60)
    best_time_compute(account_id=history.flow.account_id, zone="Asia/Kolkata", now=earlier)
    client.force_login(alice)
    for _ in range(3):
        page = client.get(reverse("campaign_detail", args=[history.pk])).content.decode()
        assert 'id="best-hours"' in page and WORKING not in page
        assert f"from calls up to <span class=\"best-when\">{earlier.astimezone(ZONE):%H:%M}" in page
    assert queued_computations() == [f"({history.flow.account_id}, 'Asia/Kolkata', 28)"]
    # once the worker has computed it, the page shows the fresh one and asks nothing more
    best_time_compute_task(history.flow.account_id, "Asia/Kolkata", 28)
    client.get(reverse("campaign_detail", args=[history.pk]))
    assert len(queued_computations()) == 1


@pytest.mark.django_db(transaction=True)
def test_a_worker_computes_what_the_page_asked_for(client, alice, history, artifacts_dir, request):
    client.force_login(alice)
    url = reverse("campaign_detail", args=[history.pk])
    assert WORKING in client.get(url).content.decode()
    workers = Processes(workers=1, beat=False, log_dir=artifacts_dir / "e2e-logs" / request.node.name).start()
    try:
        wait_until(lambda: 'id="best-hours"' in client.get(url).content.decode(), timeout=60,
                   message="the worker's best time on the campaign page")
    finally:
        workers.stop()
    page = client.get(url).content.decode()
    assert "Answered most often: 10:00-14:00" in page and WORKING not in page
