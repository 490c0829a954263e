"""The tasks around planning: a campaign starts after its first slice, sends while the rest is planned,
completes only once every contact is planned, and a lost planner is replaced by the tick."""

import datetime

import pytest
from django.db.models import Count
from django.utils import timezone

from campaigns.models import Campaign
from config.celery import app
from dialer import campaign_actions, campaign_states, dispatch, planning, pumping, settling
from dialer.models import Batch, Call
from dialer.status import campaign_status_explained
from dialer.tasks import dispatch_tick_task, plan_campaign_task
from tests.factories import make_contact_list, make_flow

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_dispatch(settings):
    # Long enough for the sandbox to answer 500 calls on a loaded machine: a read timeout here would
    # leave a batch uncertain, which these tests are not about (tests/e2e has the faults).
    settings.PHONON_READ_TIMEOUT = 15.0
    settings.DISPATCH_GRANT_MAX_WAIT = 0.5
    settings.PHONON_REALTIME_RATE = "100000/60"


@pytest.fixture
def eager():
    """Tasks run in the process that queues them: a planner's next slice runs at once."""
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def scheduled(contacts: int, *, batch_size=500) -> Campaign:
    campaign = campaign_actions.campaign_create(
        contact_list=make_contact_list(make_flow(), contacts), window="00:00-24:00", batch_size=batch_size
    )
    campaign_actions.campaign_schedule(campaign=campaign)
    campaign.refresh_from_db()
    return campaign


def send_what_is_planned(campaign) -> int:
    """What the workers do, in this process: pump and send until nothing is due. Returns the batches sent."""
    sent = 0
    for _ in range(100):
        pumping.campaign_pump(campaign_id=campaign.pk)  # the tick may have queued some already
        queued = list(Batch.objects.filter(campaign=campaign, status=Batch.Status.QUEUED).values_list("pk", flat=True))
        if not queued:
            break
        sent += sum(1 for batch_id in queued if dispatch.batch_send(batch_id=batch_id) == "placed")
    campaign.refresh_from_db()
    return sent


def test_the_first_slice_starts_the_campaign_and_it_sends_while_the_rest_is_planned(
    sandbox, django_capture_on_commit_callbacks
):
    campaign = scheduled(5_000)

    assert planning.campaign_plan(campaign_id=campaign.pk, slice_size=planning.FIRST_SLICE) is False
    with django_capture_on_commit_callbacks(execute=False):
        dispatch_tick_task()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING and campaign.planned_at is None

    assert send_what_is_planned(campaign) == planning.FIRST_SLICE // 500
    assert len(sandbox.provider.ledger()) == planning.FIRST_SLICE
    # Everything planned so far is sent, but the campaign is not done: most of its list is not planned.
    assert not settling.campaign_complete_if_done(campaign_id=campaign.pk)
    explained = campaign_status_explained(campaign)
    assert explained.state == "planning"
    assert explained.headline == f"Planning: {planning.FIRST_SLICE:,} of 5,000 contacts planned"

    while not planning.campaign_plan(campaign_id=campaign.pk, slice_size=planning.FIRST_SLICE):
        pass
    send_what_is_planned(campaign)  # the last answer completes it
    assert campaign.status == Campaign.Status.COMPLETED

    ledger = [entry["client-identifier"] for entry in sandbox.provider.ledger()]
    assert len(ledger) == len(set(ledger)) == 5_000
    states = dict(Call.objects.filter(campaign=campaign).values_list("state").annotate(n=Count("id")).order_by())
    assert states == {Call.State.PLACED: 5_000}
    assert Call.objects.filter(campaign=campaign).values("contact").distinct().count() == 5_000


def test_the_planner_task_plans_in_growing_slices_and_starts_the_campaign(eager, django_capture_on_commit_callbacks):
    campaign = scheduled(planning.FIRST_SLICE * (1 + planning.SLICE_GROWTH) + 700)

    with django_capture_on_commit_callbacks(execute=False):
        plan_campaign_task.delay(campaign.pk)
    campaign.refresh_from_db()

    assert campaign.status == Campaign.Status.RUNNING and campaign.planned_at is not None
    counts = list(campaign.batches.order_by("sequence").values_list("call_count", flat=True))
    # 2,000, then 10,000, then the 700 left: every batch full but the very last.
    assert counts == [500] * 25 + [200]
    assert Call.objects.filter(campaign=campaign, batch__isnull=False).count() == 12_700


def test_growing_slices_stop_at_the_largest_slice():
    sizes = [planning.FIRST_SLICE]
    while sizes[-1] < planning.PLAN_SLICE:
        sizes.append(planning.next_slice_size(sizes[-1]))
    assert sizes[0] < sizes[1] < sizes[-1] == planning.PLAN_SLICE
    assert planning.next_slice_size(planning.PLAN_SLICE) == planning.PLAN_SLICE


def test_a_cancel_while_planning_stops_the_planner_and_the_unplanned_contacts_get_no_calls(sandbox):
    campaign = scheduled(5_000)
    planning.campaign_plan(campaign_id=campaign.pk, slice_size=planning.FIRST_SLICE)
    assert campaign_states.campaign_start(campaign_id=campaign.pk)

    campaign_actions.campaign_cancel(campaign=campaign)

    assert planning.campaign_plan(campaign_id=campaign.pk, slice_size=planning.FIRST_SLICE) is True
    campaign.refresh_from_db()
    assert campaign.planned_at is None
    calls = Call.objects.filter(campaign=campaign)
    assert calls.count() == planning.FIRST_SLICE
    assert set(calls.values_list("state", flat=True)) == {Call.State.SKIPPED}
    assert not Batch.objects.filter(campaign=campaign).exclude(status=Batch.Status.CANCELLED).exists()
    assert send_what_is_planned(campaign) == 0 and sandbox.provider.ledger() == []
    explained = campaign_status_explained(campaign)
    assert explained.state == "cancelled"
    # the 2,000 planned and the 3,000 never planned alike were never sent
    assert explained.headline == "Cancelled: 0 placed, 5,000 not sent (cancelled)"


def test_a_paused_campaign_goes_on_being_planned_and_completes_only_after_its_last_slice(sandbox):
    campaign = scheduled(3_000)
    planning.campaign_plan(campaign_id=campaign.pk, slice_size=planning.FIRST_SLICE)
    assert campaign_states.campaign_start(campaign_id=campaign.pk)
    send_what_is_planned(campaign)
    campaign_actions.campaign_pause(campaign=campaign)

    assert planning.campaign_plan(campaign_id=campaign.pk, slice_size=planning.FIRST_SLICE) is True
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED and campaign.planned_at is not None
    campaign_actions.campaign_resume(campaign=campaign)
    send_what_is_planned(campaign)  # the last answer completes it
    assert campaign.status == Campaign.Status.COMPLETED
    assert len(sandbox.provider.ledger()) == 3_000


def test_the_tick_replaces_a_lost_planner_of_a_running_campaign(eager, django_capture_on_commit_callbacks):
    campaign = scheduled(3_000)
    planning.campaign_plan(campaign_id=campaign.pk, slice_size=planning.FIRST_SLICE)
    assert campaign_states.campaign_start(campaign_id=campaign.pk)

    with django_capture_on_commit_callbacks(execute=False):
        dispatch_tick_task()  # the planner worked a moment ago: left alone
    assert Call.objects.filter(campaign=campaign).count() == planning.FIRST_SLICE

    lost = timezone.now() - datetime.timedelta(seconds=60)
    Campaign.objects.filter(pk=campaign.pk).update(updated_at=lost)
    with django_capture_on_commit_callbacks(execute=False):
        dispatch_tick_task()
    campaign.refresh_from_db()
    assert campaign.planned_at is not None
    assert Call.objects.filter(campaign=campaign).values("contact").distinct().count() == 3_000
