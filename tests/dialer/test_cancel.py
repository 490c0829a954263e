"""Cancel: every call ends final, none the provider may hold is recorded as not sent, and a cancel
never fails for a lock (issue 25). In-process against the sandbox over real HTTP; the lock tests
hold the locks from two threads on PostgreSQL."""

import csv
import datetime
import threading
import time
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from dialer import campaign_actions, campaign_states, claims, dispatch, planning, pumping, settling, tallies
from dialer.models import Batch, Call
from dialer.progress import campaign_summary
from dialer.tasks import dispatch_tick_task, send_batch_task
from phonon import client
from tests.dialer.test_dispatch import drain, running_campaign
from tests.factories import make_contact_list, make_flow
from tests.processes import wait_until

only_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite serialises every writer: no lock to wait for"
)


@pytest.fixture(autouse=True)
def fast_dispatch(settings):
    settings.PHONON_READ_TIMEOUT = 1.0
    settings.DISPATCH_GRANT_MAX_WAIT = 0.5
    settings.PHONON_REALTIME_RATE = "100000/60"


def states(campaign) -> dict[str, int]:
    return dict(Call.objects.filter(campaign=campaign).values_list("state").annotate(n=Count("id")).order_by())


def assert_settled(campaign, ledger):
    """No call pending, no batch open, and every call the provider holds recorded as sent or maybe sent."""
    assert not Call.objects.filter(campaign=campaign, state=Call.State.PENDING).exists()
    assert not Batch.objects.filter(campaign=campaign).exclude(status__in=Batch.FINAL_STATUSES).exists()
    accepted = {entry["client-identifier"] for entry in ledger}
    not_sent = set(
        Call.objects.filter(campaign=campaign, state__in=(Call.State.SKIPPED, Call.State.REJECTED)).values_list(
            "client_identifier", flat=True
        )
    )
    assert not accepted & not_sent, "a call the provider accepted is recorded as not sent"


@pytest.mark.django_db
def test_a_batch_handed_back_after_a_cancel_is_settled_by_the_next_tick(sandbox):
    # given a worker that took a batch and waits for a rate-limit grant when the campaign is cancelled
    campaign = running_campaign(make_flow(), 1000)
    _, second = pumping.campaign_pump(campaign_id=campaign.pk)
    prepared = dispatch.batch_prepare(batch_id=second)
    campaign_actions.campaign_cancel(campaign=campaign)

    # when the worker hands the batch back unsent (its grant never came) and then dies
    assert claims.batch_release(batch_id=second, token=prepared.token, unsent_delivered_before=False)
    dispatch_tick_task()

    # then the tick settles it: nothing pending, every call skipped as never sent
    assert states(campaign) == {Call.State.SKIPPED: 1000}
    assert Batch.objects.get(pk=second).status == Batch.Status.CANCELLED
    assert_settled(campaign, sandbox.provider.ledger())


@pytest.mark.django_db(transaction=True)
def test_a_cancel_while_a_worker_waits_for_a_grant_leaves_no_call_pending(sandbox, settings):
    # given a limit the first batch used up, and a worker waiting for the second batch's grant
    settings.PHONON_REALTIME_RATE = "500/60"
    settings.DISPATCH_GRANT_MAX_WAIT = 300  # longer than the window: the worker waits rather than hands back
    campaign = running_campaign(make_flow(client_id=f"waits-{time.monotonic_ns()}"), 1000)
    first, second = pumping.campaign_pump(campaign_id=campaign.pk)
    assert dispatch.batch_send(batch_id=first) == "placed"

    def cancel_once_waiting():
        try:
            wait_until(
                lambda: Batch.objects.filter(pk=second, status=Batch.Status.SENDING, attempts=1).exists(),
                timeout=30,
                interval=0.05,
                message="the worker to wait for its grant",
            )
            campaign_actions.campaign_cancel(campaign=Campaign.objects.get(pk=campaign.pk))
        finally:
            connection.close()

    canceller = threading.Thread(target=cancel_once_waiting)
    canceller.start()

    # when the worker's task runs on through the cancel
    send_batch_task(second)
    canceller.join(timeout=60)

    # then the batch it held ends cancelled with its calls skipped, and nothing else left open
    assert states(campaign) == {Call.State.PLACED: 500, Call.State.SKIPPED: 500}
    assert Batch.objects.get(pk=second).status == Batch.Status.CANCELLED
    assert_settled(campaign, sandbox.provider.ledger())
    assert len(sandbox.provider.ledger()) == 500


@pytest.mark.django_db
def test_a_cancel_records_a_batch_whose_answer_was_lost_as_maybe_placed(sandbox):
    # given a batch whose request the provider accepted but answered too late (read timeout)
    campaign = running_campaign(make_flow(), 800)
    sandbox.provider.set_faults(slow=1.0, slow_seconds=2)
    assert drain(campaign, rounds=1) == ["uncertain", "uncertain"]
    sandbox.provider.set_faults(None)
    assert len(sandbox.provider.ledger()) == 800

    # when the campaign is cancelled
    campaign_actions.campaign_cancel(campaign=campaign)

    # then its calls are recorded as "may have been placed", never as not sent, and nothing is resent
    assert states(campaign) == {Call.State.MAYBE_PLACED: 800}
    assert drain(campaign) == []
    assert len(sandbox.provider.ledger()) == 800
    assert_settled(campaign, sandbox.provider.ledger())
    call = Call.objects.filter(campaign=campaign).first()
    assert call.provider_message == settling.CANCELLED_MAYBE_SENT


@pytest.mark.django_db
def test_a_cancel_after_a_worker_died_mid_send_records_its_calls_as_maybe_placed(sandbox):
    # given a worker that sent a batch and died before it read the answer (its lease then ran out)
    campaign = running_campaign(make_flow(), 1000)
    first, second = pumping.campaign_pump(campaign_id=campaign.pk)
    prepared = dispatch.batch_prepare(batch_id=first)
    client.post(dispatch.flow_url(campaign.flow), prepared.body, connect_timeout=1, read_timeout=1)
    Batch.objects.filter(pk=first).update(lease_until=timezone.now() - datetime.timedelta(seconds=1))

    # when the campaign is cancelled, and the tick then finds the batch
    campaign_actions.campaign_cancel(campaign=campaign)
    dispatch_tick_task()
    assert dispatch.batch_send(batch_id=first) == "not-claimed"

    # then the sent batch's calls may have been placed, the other's were never sent
    assert states(campaign) == {Call.State.MAYBE_PLACED: 500, Call.State.SKIPPED: 500}
    assert set(Call.objects.filter(batch_id=first).values_list("state", flat=True)) == {Call.State.MAYBE_PLACED}
    assert_settled(campaign, sandbox.provider.ledger())


@pytest.mark.django_db
def test_a_batch_claimed_after_the_cancel_with_an_unanswered_send_is_not_recorded_as_not_sent(sandbox):
    # given an uncertain batch queued again just before the cancel
    campaign = running_campaign(make_flow(), 300)
    sandbox.provider.set_faults(slow=1.0, slow_seconds=2)
    assert drain(campaign, rounds=1) == ["uncertain"]
    sandbox.provider.set_faults(None)
    Batch.objects.filter(campaign=campaign).update(next_attempt_at=None)
    (batch_id,) = pumping.campaign_pump(campaign_id=campaign.pk)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.CANCELLED)  # committed between

    # when a worker claims it after the cancel
    assert dispatch.batch_send(batch_id=batch_id) == "cancelled"

    # then its calls may have been placed
    assert states(campaign) == {Call.State.MAYBE_PLACED: 300}
    assert_settled(campaign, sandbox.provider.ledger())


@pytest.mark.django_db
def test_the_summary_adds_up_after_a_cancel_with_calls_maybe_placed(sandbox):
    campaign = running_campaign(make_flow(), 800)
    sandbox.provider.set_faults(slow=1.0, slow_seconds=2)
    drain(campaign, rounds=1)
    sandbox.provider.set_faults(None)
    campaign_actions.campaign_cancel(campaign=campaign)
    summary = campaign_summary(Campaign.objects.get(pk=campaign.pk))
    counted = sum(summary[key] for key in ("placed", "accepted_unknown", "rejected", "skipped", "maybe_placed"))
    assert counted == summary["contacts"] == 800
    assert summary["maybe_placed"] == 800


@pytest.mark.django_db
def test_calls_that_may_have_been_placed_show_on_the_pages_and_in_the_export(sandbox, client, alice, tmp_path):
    # given a cancelled campaign of Acme's whose one batch went unanswered
    campaign = running_campaign(make_flow(client_id=alice.accounts.get().client_id), 300)
    sandbox.provider.set_faults(slow=1.0, slow_seconds=2)
    drain(campaign, rounds=1)
    sandbox.provider.set_faults(None)
    campaign_actions.campaign_cancel(campaign=campaign)
    client.force_login(alice)

    # then the campaign's page counts them, its calls page names them, and the export has the machine value
    live = client.get(reverse("campaign_live", args=[campaign.pk])).content.decode()
    assert "May have been placed" in live and 'id="count-maybe-placed">300<' in live
    assert "May have been placed" in client.get(reverse("campaign_calls", args=[campaign.pk])).content.decode()
    out = tmp_path / "results.csv"
    call_command("export_results", str(campaign.pk), "-o", str(out))
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[:7] == [
        "client_identifier",
        "numbers",
        "request_id",
        "phonon_uuid",
        "state",
        "provider_code",
        "provider_message",
    ]
    assert {row["state"] for row in rows} == {"maybe_placed"} and len(rows) == 300


# --- Locks, from two threads on PostgreSQL ------------------------------------------------------------


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def waiting_for_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return bool(row) and row[0] == "Lock"


class Racer(threading.Thread):
    """Runs `work` on its own connection; keeps its error, its backend's pid and whether it ended."""

    def __init__(self, work):
        super().__init__()
        self.work, self.error, self.pid = work, None, None
        self.started_work = threading.Event()

    def run(self):
        try:
            self.pid = backend_pid()
            self.started_work.set()
            self.work()
        except Exception as error:  # noqa: BLE001 - reported by the test
            self.error = error
        finally:
            self.started_work.set()
            connection.close()

    def blocked_or_done(self) -> bool:
        return not self.is_alive() or waiting_for_a_lock(self.pid)


@only_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("transition", ["start", "cancel"])
def test_a_transition_while_a_planner_holds_the_account_lock_does_not_deadlock(transition):
    # given a scheduled campaign, and a planner that holds its account's lock and will then want the campaign's
    campaign = campaign_actions.campaign_create(contact_list=make_contact_list(make_flow(), 10), window="00:00-24:00")
    campaign_actions.campaign_schedule(campaign=campaign)
    account_held, go_on = threading.Event(), threading.Event()

    def planner():
        with transaction.atomic():
            planning.planner_account_lock(account_id=campaign.flow.account_id)
            account_held.set()
            go_on.wait(timeout=60)
            planning.planner_campaign_lock(campaign_id=campaign.pk)

    def transition():
        if transition == "start":
            assert campaign_states.campaign_start(campaign_id=campaign.pk)
        else:
            campaign_actions.campaign_cancel(campaign=Campaign.objects.get(pk=campaign.pk))

    first = Racer(planner)
    first.start()
    assert account_held.wait(timeout=60)
    second = Racer(transition)
    second.start()

    # when the transition has finished or waits on a lock, and the planner then asks for the campaign's row
    second.started_work.wait(timeout=60)
    wait_until(second.blocked_or_done, timeout=60, interval=0.05, message="the transition to end or wait")
    go_on.set()
    first.join(timeout=60)
    second.join(timeout=60)

    # then neither fails: no deadlock, and the transition took effect
    assert first.error is None, first.error
    assert second.error is None, second.error
    expected = Campaign.Status.RUNNING if transition == "start" else Campaign.Status.CANCELLED
    assert Campaign.objects.get(pk=campaign.pk).status == expected


@only_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("transition", ["start", "cancel"])
def test_a_transition_does_not_wait_for_a_planners_slice(transition):
    # given a planner in the middle of a slice, holding its account's and its campaign's locks
    campaign = campaign_actions.campaign_create(contact_list=make_contact_list(make_flow(), 10), window="00:00-24:00")
    campaign_actions.campaign_schedule(campaign=campaign)
    holding, go_on = threading.Event(), threading.Event()

    def planner():
        with transaction.atomic():
            planning.planner_locks(account_id=campaign.flow.account_id, campaign_id=campaign.pk)
            holding.set()
            go_on.wait(timeout=60)

    def act():
        if transition == "start":
            assert campaign_states.campaign_start(campaign_id=campaign.pk)
        else:
            campaign_actions.campaign_cancel(campaign=Campaign.objects.get(pk=campaign.pk))

    first = Racer(planner)
    first.start()
    assert holding.wait(timeout=60)
    second = Racer(act)
    second.start()

    # when the start or the cancel has ended or waits on a lock
    second.started_work.wait(timeout=60)
    wait_until(second.blocked_or_done, timeout=60, interval=0.05, message="the transition to end or wait")
    ended_while_the_slice_ran = not second.is_alive()
    go_on.set()
    first.join(timeout=60)
    second.join(timeout=60)

    # then it took effect without waiting for the slice to commit
    assert ended_while_the_slice_ran
    assert first.error is None and second.error is None, (first.error, second.error)


@only_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_skips_at_once_count_each_call_once():
    # given a cancelled campaign's 1,000 pending calls, and one skip holding them uncommitted
    campaign = running_campaign(make_flow(), 1000)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.CANCELLED)
    Batch.objects.filter(campaign=campaign).update(status=Batch.Status.CANCELLED)
    skipped_first, go_on = threading.Event(), threading.Event()
    counts = {}

    def first_skip():
        with transaction.atomic():
            counts["first"] = settling.calls_skip(campaign_id=campaign.pk, reason="first")
            skipped_first.set()
            go_on.wait(timeout=60)

    def second_skip():
        counts["second"] = settling.calls_skip(campaign_id=campaign.pk, reason="second")

    first = Racer(first_skip)
    first.start()
    assert skipped_first.wait(timeout=60)
    second = Racer(second_skip)
    second.start()

    # when the second skip waits on the first's rows, and the first then commits
    second.started_work.wait(timeout=60)
    wait_until(second.blocked_or_done, timeout=60, interval=0.05, message="the second skip to wait or end")
    go_on.set()
    first.join(timeout=60)
    second.join(timeout=60)

    # then each call was counted once: the tallies equal a real count
    assert first.error is None and second.error is None, (first.error, second.error)
    assert counts == {"first": 1000, "second": 0}
    assert tallies.tallies_differ(campaign_id=campaign.pk) == {}
    assert Counter(Call.objects.filter(campaign=campaign).values_list("provider_message", flat=True)) == {"first": 1000}
