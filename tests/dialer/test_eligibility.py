"""Who may be called: do-not-call lists and the dialling cap, at planning and at a batch's first
freeze, sent through the sandbox provider over real HTTP (invariant 7)."""

import datetime
import threading

import pytest
import redis
from django.db import connection
from django.utils import timezone

from campaigns.donotcall.lists import dnc_entries_add, dnc_own_list
from campaigns.models import Campaign, DoNotCallEntry, DoNotCallList
from dialer import campaign_actions, campaign_states, dispatch, planning, pumping
from dialer.campaign_actions import campaign_launch
from dialer.listener_test_call import test_call_launch
from dialer.models import Batch, Call
from dialer.tallies import calls_recount
from dialer.tasks import dispatch_tick_task
from flows.models import Account
from tests.factories import make_contact_list, make_flow, phone

pytestmark = pytest.mark.django_db

ON_OWN_LIST = "on the do-not-call list (Account C129113 opt-outs)"
OVER_CAP = "over the dialling cap (1 call per 1 day)"


@pytest.fixture(autouse=True)
def fast_dispatch(settings):
    settings.PHONON_READ_TIMEOUT = 1.0
    settings.DISPATCH_GRANT_MAX_WAIT = 0.5
    settings.PHONON_REALTIME_RATE = "100000/60"


def launch(contact_list, **options):
    options.setdefault("window", "00:00-24:00")
    campaign = campaign_actions.campaign_create(contact_list=contact_list, **options)
    campaign_actions.campaign_schedule(campaign=campaign)
    return campaign


def plan_and_start(campaign):
    while not planning.campaign_plan(campaign_id=campaign.pk):
        pass
    assert campaign_states.campaign_start(campaign_id=campaign.pk)


def drain(campaign, *, rounds=50):
    """What the workers do, in this process: pump and send until nothing is due."""
    outcomes = []
    for _ in range(rounds):
        Batch.objects.filter(campaign=campaign, status__in=Batch.WAITING_STATUSES).update(next_attempt_at=None)
        queued = pumping.campaign_pump(campaign_id=campaign.pk)
        if not queued:
            break
        outcomes += [dispatch.batch_send(batch_id=batch_id) for batch_id in queued]
    campaign.refresh_from_db()
    return outcomes


def do_not_call(account, *numbers, **options):
    return dnc_entries_add(dnc_list=dnc_own_list(account=account), numbers=list(numbers), **options)


def dialled(sandbox) -> list[str]:
    return [entry["contact-numbers"][0] for entry in sandbox.provider.ledger()]


def states(campaign) -> dict[str, tuple[str, str]]:
    return {
        number: (state, message)
        for number, state, message in Call.objects.filter(campaign=campaign).values_list(
            "contact__primary_number", "state", "provider_message"
        )
    }


# --- Do-not-call: whenever a number is listed before its first send, it is never sent ----------------


def test_a_number_listed_after_its_list_was_imported_is_skipped_and_never_sent(sandbox):
    flow = make_flow()
    contact_list = make_contact_list(flow, 5)
    do_not_call(flow.account, phone(1), reason="asked on the phone")

    campaign = launch(contact_list)
    plan_and_start(campaign)
    drain(campaign)

    assert phone(1) not in dialled(sandbox) and len(dialled(sandbox)) == 4
    assert states(campaign)[phone(1)] == (Call.State.SKIPPED, ON_OWN_LIST)
    assert Call.objects.get(campaign=campaign, contact__primary_number=phone(1)).batch is None
    assert list(campaign.batches.values_list("call_count", flat=True)) == [4]
    assert campaign.status == Campaign.Status.COMPLETED


def test_a_number_listed_after_launch_but_before_planning_is_skipped(sandbox):
    flow = make_flow()
    campaign = launch(make_contact_list(flow, 3))

    do_not_call(flow.account, phone(2))
    plan_and_start(campaign)
    drain(campaign)

    assert sorted(dialled(sandbox)) == [phone(0), phone(1)]
    assert states(campaign)[phone(2)] == (Call.State.SKIPPED, ON_OWN_LIST)


def test_a_number_listed_after_planning_leaves_its_batch_when_the_body_is_first_built(sandbox):
    flow = make_flow()
    campaign = launch(make_contact_list(flow, 6), batch_size=3)
    plan_and_start(campaign)
    assert list(campaign.batches.values_list("call_count", flat=True)) == [3, 3]

    do_not_call(flow.account, phone(0), phone(4))
    drain(campaign)

    assert sorted(dialled(sandbox)) == [phone(1), phone(2), phone(3), phone(5)]
    assert list(campaign.batches.values_list("call_count", flat=True)) == [2, 2]
    assert states(campaign)[phone(0)] == states(campaign)[phone(4)] == (Call.State.SKIPPED, ON_OWN_LIST)
    assert Call.objects.filter(campaign=campaign, state=Call.State.PLACED).count() == 4
    assert campaign.status == Campaign.Status.COMPLETED


def test_a_batch_whose_every_call_was_listed_after_planning_ends_unsent(sandbox):
    flow = make_flow()
    campaign = launch(make_contact_list(flow, 4), batch_size=2)
    plan_and_start(campaign)

    do_not_call(flow.account, phone(0), phone(1))
    outcomes = drain(campaign)

    assert outcomes == ["all-on-do-not-call-list", "placed"]
    first, second = campaign.batches.order_by("sequence")
    assert first.status == Batch.Status.CANCELLED and first.body is None and first.attempts == 0
    assert "do-not-call" in first.response_message
    assert sorted(dialled(sandbox)) == [phone(2), phone(3)]
    assert campaign.status == Campaign.Status.COMPLETED


def test_a_number_listed_after_its_batch_may_have_been_delivered_is_left_as_sent(sandbox):
    flow = make_flow()
    campaign = launch(make_contact_list(flow, 3))
    plan_and_start(campaign)
    sandbox.provider.set_faults(slow=1.0, slow_seconds=2)  # accepted, but the answer is lost
    assert drain(campaign, rounds=1) == ["uncertain"]
    batch = campaign.batches.get()
    frozen = batch.body_sha256

    do_not_call(flow.account, phone(0))
    sandbox.provider.set_faults(None)
    assert drain(campaign) == ["accepted_unknown"]

    batch.refresh_from_db()
    assert batch.body_sha256 == frozen and batch.call_count == 3
    assert states(campaign)[phone(0)] == (Call.State.ACCEPTED_UNKNOWN, states(campaign)[phone(0)][1])
    assert sorted(dialled(sandbox)) == [phone(0), phone(1), phone(2)]  # the one delivery, never repeated


def test_an_alternate_number_on_the_list_skips_the_contact(sandbox):
    flow = make_flow()
    contact_list = make_contact_list(flow, 2)
    contact = contact_list.contacts.get(primary_number=phone(0))
    contact.numbers = [phone(0), "919712345678"]
    contact.save()
    do_not_call(flow.account, "919712345678")

    campaign = launch(contact_list)
    plan_and_start(campaign)
    drain(campaign)

    assert dialled(sandbox) == [phone(1)]
    assert states(campaign)[phone(0)] == (Call.State.SKIPPED, ON_OWN_LIST)


def test_an_expired_entry_no_longer_blocks(sandbox):
    flow = make_flow()
    today = timezone.localdate(timezone=datetime.timezone(datetime.timedelta(hours=5, minutes=30)))
    do_not_call(flow.account, phone(0), expires_on=today)
    do_not_call(flow.account, phone(1), expires_on=today + datetime.timedelta(days=1))

    campaign = launch(make_contact_list(flow, 2))
    plan_and_start(campaign)
    drain(campaign)

    assert dialled(sandbox) == [phone(0)]
    assert states(campaign)[phone(1)] == (Call.State.SKIPPED, ON_OWN_LIST)


def test_a_global_list_blocks_every_attached_account_and_no_other(sandbox):
    flows = [make_flow(flow_id=f"Flow000{i}", client_id=f"C{i}") for i in range(3)]
    registry = DoNotCallList.objects.create(name="National registry")
    registry.attached_accounts.set([flows[0].account, flows[1].account])
    dnc_entries_add(dnc_list=registry, numbers=[phone(0)])

    campaigns = [launch(make_contact_list(flow, 2)) for flow in flows]
    for campaign in campaigns:
        plan_and_start(campaign)
        drain(campaign)

    blocked = (Call.State.SKIPPED, "on the do-not-call list (National registry)")
    assert states(campaigns[0])[phone(0)] == states(campaigns[1])[phone(0)] == blocked
    assert states(campaigns[2])[phone(0)][0] == Call.State.PLACED
    assert sorted(dialled(sandbox)) == [phone(0), phone(1), phone(1), phone(1)]


def test_another_accounts_own_list_does_not_block(sandbox):
    flow, other = make_flow(), make_flow(flow_id="OtherFlw", client_id="C999")
    do_not_call(other.account, phone(0))

    campaign = launch(make_contact_list(flow, 1))
    plan_and_start(campaign)
    drain(campaign)

    assert dialled(sandbox) == [phone(0)]


# --- The dialling cap ---------------------------------------------------------------------------


def test_the_cap_skips_a_second_call_to_a_number_within_its_days_across_campaigns(sandbox):
    flow = make_flow()
    first = launch(make_contact_list(flow, 3))
    plan_and_start(first)
    drain(first)

    second = launch(make_contact_list(flow, 2, first=2))  # phone(2) again, and phone(3)
    plan_and_start(second)
    drain(second)

    assert states(second)[phone(2)] == (Call.State.SKIPPED, OVER_CAP)
    assert states(second)[phone(3)][0] == Call.State.PLACED
    assert sorted(dialled(sandbox)) == [phone(0), phone(1), phone(2), phone(3)]


def test_the_cap_counts_calls_still_waiting_to_be_sent(sandbox):
    flow = make_flow()
    first = launch(make_contact_list(flow, 2))
    plan_and_start(first)  # planned, nothing sent yet

    second = launch(make_contact_list(flow, 2))
    plan_and_start(second)

    assert {state for state, _ in states(second).values()} == {Call.State.SKIPPED}


def test_a_relaunch_of_the_same_list_within_the_cap_places_no_call(sandbox):
    flow = make_flow()
    contact_list = make_contact_list(flow, 3)
    first = launch(contact_list)
    plan_and_start(first)
    drain(first)

    again = launch(contact_list)
    plan_and_start(again)
    dispatch_tick_task()

    again.refresh_from_db()
    assert len(dialled(sandbox)) == 3
    assert set(states(again).values()) == {(Call.State.SKIPPED, OVER_CAP)}
    assert not again.batches.exists() and again.status == Campaign.Status.COMPLETED


def test_calls_older_than_the_caps_days_or_not_placed_do_not_count(sandbox):
    flow = make_flow()
    first = launch(make_contact_list(flow, 2))
    plan_and_start(first)
    drain(first)
    Call.objects.filter(campaign=first, contact__primary_number=phone(0)).update(
        updated_at=timezone.now() - datetime.timedelta(days=1, minutes=1)
    )
    Campaign.objects.filter(pk=first.pk).update(finished_at=timezone.now() - datetime.timedelta(days=1, minutes=1))
    rejected = launch(make_contact_list(flow, 1, first=5))
    plan_and_start(rejected)
    Call.objects.filter(campaign=rejected).update(state=Call.State.REJECTED)
    calls_recount()

    second = launch(make_contact_list(flow, 1))  # phone(0), called more than a day ago
    third = launch(make_contact_list(flow, 1, first=5))  # phone(5), whose only call was rejected
    for campaign in (second, third):
        plan_and_start(campaign)

    assert states(second)[phone(0)][0] == Call.State.PENDING
    assert states(third)[phone(5)][0] == Call.State.PENDING


def test_the_cap_is_the_accounts_setting(sandbox):
    flow = make_flow()
    Account.objects.filter(pk=flow.account_id).update(calls_per_number=2, cap_days=7)
    campaigns = [launch(make_contact_list(flow, 1)) for _ in range(3)]
    for campaign in campaigns:
        plan_and_start(campaign)

    assert [states(campaign)[phone(0)] for campaign in campaigns] == [
        (Call.State.PENDING, ""), (Call.State.PENDING, ""),
        (Call.State.SKIPPED, "over the dialling cap (2 calls per 7 days)"),
    ]


def test_the_cap_is_per_account(sandbox):
    flow, other = make_flow(), make_flow(flow_id="OtherFlw", client_id="C999")
    for each in (flow, other):
        plan_and_start(launch(make_contact_list(each, 1)))

    assert Call.objects.filter(state=Call.State.PENDING).count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_campaigns_launched_at_once_never_both_call_a_number(sandbox):
    """Both planners race for the same 300 numbers in slices of 100: the account's lock makes
    one of them see the other's calls, whichever slice commits first."""
    flow = make_flow()
    campaigns = [launch(make_contact_list(flow, 300, name=f"list {i}"), batch_size=50) for i in range(2)]
    start = threading.Barrier(2)
    errors = []

    def plan(campaign):
        try:
            start.wait()
            while not planning.campaign_plan(campaign_id=campaign.pk, slice_size=100):
                pass
        except Exception as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=plan, args=(campaign,)) for campaign in campaigns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors
    pending = Call.objects.filter(campaign__in=campaigns, state=Call.State.PENDING)
    assert pending.count() == 300
    assert pending.values("contact__primary_number").distinct().count() == 300
    assert Call.objects.filter(campaign__in=campaigns, state=Call.State.SKIPPED).count() == 300
    for campaign in campaigns:
        pending_here = pending.filter(campaign=campaign).count()
        assert sum(campaign.batches.values_list("call_count", flat=True)) == pending_here


def test_a_list_launched_the_way_intake_and_the_command_launch_is_checked_the_same(
    sandbox, django_capture_on_commit_callbacks
):
    flow = make_flow()
    do_not_call(flow.account, phone(0))

    with django_capture_on_commit_callbacks(execute=False) as planned_later:
        campaign = campaign_launch(contact_list=make_contact_list(flow, 2), window="00:00-24:00")
    plan_and_start(campaign)
    drain(campaign)

    assert len(planned_later) == 1  # the worker's planning task, done above in this process
    assert dialled(sandbox) == [phone(1)]
    assert states(campaign)[phone(0)] == (Call.State.SKIPPED, ON_OWN_LIST)


# --- Test calls go the same way -------------------------------------------------------------------


def test_a_test_call_to_a_listed_number_is_refused_with_the_reason(sandbox):
    flow = make_flow()
    do_not_call(flow.account, "919812345678")

    with pytest.raises(ValueError, match=r"919812345678 cannot be called now: it is on the do-not-call list"):
        test_call_launch(flow=flow, number="+91 98123 45678", even_if_not_activated=True)

    assert not Campaign.objects.exists() and not flow.contact_lists.exists()


def test_a_second_test_call_within_the_cap_is_refused(sandbox, django_capture_on_commit_callbacks):
    flow = make_flow()
    with django_capture_on_commit_callbacks(execute=False):
        first = test_call_launch(flow=flow, number="919812345678", even_if_not_activated=True)
    plan_and_start(first)

    with pytest.raises(ValueError, match=r"it is over the dialling cap \(1 call per 1 day\)"):
        test_call_launch(flow=flow, number="919812345678", even_if_not_activated=True)


def test_a_test_call_listed_before_it_is_planned_is_skipped(sandbox, django_capture_on_commit_callbacks):
    flow = make_flow()
    with django_capture_on_commit_callbacks(execute=False):  # the planning task is not run here
        campaign = test_call_launch(flow=flow, number="919812345678", even_if_not_activated=True)
    do_not_call(flow.account, "919812345678")

    plan_and_start(Campaign.objects.get(pk=campaign.pk))
    drain(campaign)

    assert dialled(sandbox) == []
    assert states(campaign)["919812345678"] == (Call.State.SKIPPED, ON_OWN_LIST)


def test_entries_store_the_number_as_one_integer():
    flow = make_flow()
    do_not_call(flow.account, "+91 98123-45678", reason="asked")

    entry = DoNotCallEntry.objects.get()
    assert (entry.number, entry.reason, entry.source) == (919812345678, "asked", DoNotCallEntry.Source.MANAGER)


# --- A body that went back unsent is checked again before it goes (issue 25, 7) ----------------------


def freeze_then_rate_limit(campaign, sandbox, settings):
    """The first batch uses the whole limit; the second is claimed, frozen, and handed back unsent."""
    settings.PHONON_REALTIME_RATE = "3/60"
    first, second = pumping.campaign_pump(campaign_id=campaign.pk)
    assert dispatch.batch_send(batch_id=first) == "placed"
    assert dispatch.batch_send(batch_id=second) == "rate-limited"
    batch = Batch.objects.get(pk=second)
    assert batch.body is not None and not batch.maybe_delivered and batch.status == Batch.Status.PLANNED
    lift_the_limit(settings)
    return batch


def lift_the_limit(settings):
    settings.PHONON_REALTIME_RATE = "100000/60"
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(*client.scan_iter("phonon:ratelimit:*"))


def test_a_number_listed_after_its_batch_froze_and_went_back_unsent_is_never_dialled(sandbox, settings):
    # given a batch frozen with phone(4) in it, handed back unsent (no grant came)
    flow = make_flow()
    campaign = launch(make_contact_list(flow, 6), batch_size=3)
    plan_and_start(campaign)
    frozen = freeze_then_rate_limit(campaign, sandbox, settings)

    # when phone(4) goes on the list, and the batch is claimed again
    do_not_call(flow.account, phone(4))
    assert drain(campaign) == ["placed"]

    # then phone(4) is never dialled: the body was built again without it
    assert phone(4) not in dialled(sandbox) and sorted(dialled(sandbox)) == [phone(i) for i in (0, 1, 2, 3, 5)]
    assert states(campaign)[phone(4)] == (Call.State.SKIPPED, ON_OWN_LIST)
    batch = Batch.objects.get(pk=frozen.pk)
    assert batch.body_sha256 != frozen.body_sha256 and batch.call_count == 2
    assert campaign.status == Campaign.Status.COMPLETED


def test_a_cap_lowered_after_a_batch_froze_applies_when_it_is_claimed_again(sandbox, settings):
    # given two calls a number allowed, an earlier campaign that called phone(0)..phone(2), and a
    # second campaign calling them again (with phone(3), new) whose batch froze and went back unsent
    flow = make_flow()
    Account.objects.filter(pk=flow.account_id).update(calls_per_number=2, cap_days=1)
    earlier = launch(make_contact_list(flow, 3))
    plan_and_start(earlier)
    campaign = launch(make_contact_list(flow, 4, name="again"))
    plan_and_start(campaign)
    assert not Call.objects.filter(campaign=campaign, state=Call.State.SKIPPED).exists()
    settings.PHONON_REALTIME_RATE = "4/60"
    assert drain(earlier) == ["placed"]
    (batch_id,) = pumping.campaign_pump(campaign_id=campaign.pk)
    assert dispatch.batch_send(batch_id=batch_id) == "rate-limited"
    lift_the_limit(settings)

    # when the account's cap is lowered to one call a day, and the batch is claimed again
    Account.objects.filter(pk=flow.account_id).update(calls_per_number=1)
    assert drain(campaign) == ["placed"]

    # then the numbers called already today are skipped, the new one is called
    assert states(campaign)[phone(0)] == states(campaign)[phone(1)] == (Call.State.SKIPPED, OVER_CAP)
    assert states(campaign)[phone(2)] == (Call.State.SKIPPED, OVER_CAP)
    assert states(campaign)[phone(3)][0] == Call.State.PLACED
    assert sorted(dialled(sandbox)) == [phone(0), phone(1), phone(2), phone(3)]
