"""Redials with real worker and beat processes, the sandbox drawing outcomes and pushing their
reports to the receiver: every contact ends answered, out of attempts or skipped; nobody is called
more than max attempts, nor twice at once, nor outside the window, nor once on the do-not-call list;
a worker killed mid-way changes none of it."""

import datetime
from collections import Counter, defaultdict

import pytest

from campaigns.donotcall.lists import dnc_entries_add, dnc_own_list
from campaigns.models import Campaign
from campaigns.redial_rules import redial_rules
from dialer import campaign_actions
from dialer.models import Call
from dialer.tallies import tallies_differ
from flows.models import Account
from flows.services import flow_report_url
from tests.factories import make_contact_list, make_flow
from tests.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MAX_ATTEMPTS = 3
# Half of all calls are not reached: about a quarter of contacts need a third attempt.
ODDS = {"answered": 0.5, "busy": 0.25, "no_answer": 0.25}


@pytest.fixture
def redial_settings(settings, live_server):
    settings.PHONON_READ_TIMEOUT = 1.0
    settings.DISPATCH_LEASE_SECONDS = 4
    settings.DISPATCH_REQUEUE_AFTER = 3
    settings.DISPATCH_BACKOFF_BASE = 0.2
    settings.DISPATCH_BACKOFF_CAP = 1.0
    settings.PHONON_REALTIME_RATE = "100000/60"
    settings.SITE_URL = live_server.url
    settings.SANDBOX_REPORT_URLS = False
    return settings


def launch_with_redials(sandbox, contacts: int, *, after: str, batch_size: int = 10):
    flow = make_flow()
    # Room for every attempt under the account's cap (1 call a day by default).
    Account.objects.filter(pk=flow.account_id).update(calls_per_number=MAX_ATTEMPTS, cap_days=1)
    sandbox.provider.outcomes.configure({"odds": ODDS, "delay_seconds": 0.3, "seed": 5, "key_odds": 0.5})
    sandbox.provider.outcomes.set_report_urls({flow.flow_id: flow_report_url(flow)})
    contact_list = make_contact_list(flow, contacts)
    campaign = campaign_actions.campaign_launch(
        contact_list=contact_list,
        window="00:00-24:00",
        batch_size=batch_size,
        redials=redial_rules(outcomes="busy,no_answer", after=after, max_attempts=MAX_ATTEMPTS),
    )
    return flow, campaign


def wait_completed(campaign, timeout=240):
    return wait_until(
        lambda: Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.COMPLETED,
        timeout=timeout,
        interval=0.5,
        message="the campaign to complete with its redials",
    )


def assert_redial_invariants(campaign, ledger, *, listed_number=None):
    calls = list(
        Call.objects.filter(campaign=campaign).select_related("contact", "batch").order_by("contact_id", "attempt")
    )
    by_contact = defaultdict(list)
    for call in calls:
        by_contact[call.contact_id].append(call)
    for contact_calls in by_contact.values():
        attempts = [call.attempt for call in contact_calls]
        assert attempts == list(range(1, len(attempts) + 1)), "attempts are numbered 1, 2, 3 with no gap"
        assert len(attempts) <= MAX_ATTEMPTS, "a contact was called more than max attempts"
        last = contact_calls[-1]
        reached = last.outcome == "answered"
        out_of_attempts = len(attempts) == MAX_ATTEMPTS and last.state in (Call.State.PLACED, Call.State.SKIPPED)
        skipped = last.state == Call.State.SKIPPED and last.attempt > 1
        # A kill mid-send leaves a resend answered 201: accepted, its uuid unknown, so no report can be
        # pulled for it. It is never redialled (its outcome is unknown) and ends given up.
        given_up = last.state == Call.State.ACCEPTED_UNKNOWN and last.outcome == "unknown"
        assert reached or out_of_attempts or skipped or given_up, (last.client_identifier, last.state, last.outcome)
        for earlier, later in zip(contact_calls, contact_calls[1:], strict=False):
            # Never two calls of one contact at once: the next was made after the previous one's outcome,
            # which was one the rules call again.
            assert earlier.outcome in ("busy", "no_answer"), earlier.client_identifier
            if later.batch is not None and later.batch.frozen_at is not None:
                assert later.batch.frozen_at >= earlier.outcome_at, later.client_identifier
    identifiers = Counter(entry["client-identifier"] for entry in ledger)
    assert [identifier for identifier, n in identifiers.items() if n > 1] == [], "a call was accepted twice"
    per_number = Counter(entry["contact-numbers"][0] for entry in ledger)
    assert max(per_number.values()) <= MAX_ATTEMPTS, "a number was dialled more than max attempts (or the cap)"
    if listed_number is not None:
        assert per_number[listed_number] == 1, "a number on the do-not-call list was redialled"
    # Every call the provider accepted is recorded as accepted (placed; or, after a resend answered 201,
    # accepted with its uuid unknown), never as not sent; and every call placed is in its ledger.
    states = {call.client_identifier: call.state for call in calls}
    accepted = (Call.State.PLACED, Call.State.ACCEPTED_UNKNOWN, Call.State.MAYBE_PLACED)
    not_recorded_as_accepted = {
        identifier: states.get(identifier) for identifier in identifiers if states.get(identifier) not in accepted
    }
    assert not_recorded_as_accepted == {}
    assert {identifier for identifier, state in states.items() if state == Call.State.PLACED} <= set(identifiers)
    assert not tallies_differ(campaign_id=campaign.pk)
    return by_contact


def test_contacts_not_reached_are_redialled_until_answered_or_out_of_attempts(
    sandbox, start_processes, redial_settings
):
    # given a campaign whose rules call busy and no-answer contacts again 4 s later, 3 attempts in all
    start_processes(workers=2, OUTCOME_SWEEP_SECONDS="1", SITE_URL=redial_settings.SITE_URL, SANDBOX_REPORT_URLS="0")
    flow, campaign = launch_with_redials(sandbox, 60, after="4s")

    # when the first outcomes come in, one busy contact is put on the do-not-call list, and the calling
    # window closes for a while
    busy = wait_until(
        lambda: (
            Call.objects.filter(campaign=campaign, attempt=1, outcome__in=("busy", "no_answer"))
            .select_related("contact")
            .first()
        ),
        timeout=60,
        message="a first call not reached",
    )
    dnc_entries_add(dnc_list=dnc_own_list(account=flow.account), numbers=[busy.contact.primary_number])
    wait_until(
        lambda: not Call.objects.filter(campaign=campaign, attempt=1, outcome="unknown").exists(),
        timeout=60,
        message="every first call's outcome",
    )
    Campaign.objects.filter(pk=campaign.pk).update(window_days=[])  # closed every day
    closed_at = datetime.datetime.now(datetime.UTC).timestamp()
    redials_before = Call.objects.filter(campaign=campaign, attempt__gt=1).count()
    sent_before = len(sandbox.provider.ledger())
    wait_until(
        lambda: Call.objects.filter(
            campaign=campaign,
            outcome__in=("busy", "no_answer"),
            outcome_at__lte=(datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=6)),
        ).exists(),
        timeout=60,
        message="redials due while the window is closed",
    )
    assert Call.objects.filter(campaign=campaign, attempt__gt=1).count() == redials_before
    late = [e for e in sandbox.provider.ledger()[sent_before:] if e["received_at"] > closed_at + 1]
    assert late == [], "a call left while the calling window was closed"
    Campaign.objects.filter(pk=campaign.pk).update(window_days=list(range(7)))

    # then the campaign completes once every contact is answered or out of attempts
    wait_completed(campaign)
    listed = busy.contact.primary_number
    by_contact = assert_redial_invariants(campaign, sandbox.provider.ledger(), listed_number=listed)
    histogram = Counter(len(calls) for calls in by_contact.values())
    assert histogram[2] and histogram[3], f"some contacts needed 2 and 3 attempts: {histogram}"
    listed_calls = by_contact[busy.contact_id]
    if len(listed_calls) > 1:
        assert listed_calls[1].state == Call.State.SKIPPED and "do-not-call" in listed_calls[1].provider_message


@pytest.mark.slow
def test_a_worker_killed_again_and_again_while_redialling_changes_none_of_it(sandbox, start_processes, redial_settings):
    # given two workers and a campaign of 150 contacts in batches of 10, redialled 2 s after
    processes = start_processes(
        workers=2, OUTCOME_SWEEP_SECONDS="1", SITE_URL=redial_settings.SITE_URL, SANDBOX_REPORT_URLS="0"
    )
    flow, campaign = launch_with_redials(sandbox, 150, after="2s")

    # when a worker is killed with SIGKILL whenever new redials appear, six times
    def more_redials_than(seen: int) -> int:
        redials = Call.objects.filter(campaign=campaign, attempt__gt=1).count()
        if redials > seen:
            return redials
        return max(seen, 1) if Campaign.objects.get(pk=campaign.pk).is_final else 0

    seen = 0
    for _ in range(6):
        if Campaign.objects.get(pk=campaign.pk).is_final:
            break
        seen = wait_until(lambda seen=seen: more_redials_than(seen), timeout=90, message="more redials planned")
        processes.kill_worker(processes.kills % 2)

    # then it completes with the same guarantees
    wait_completed(campaign, timeout=300)
    assert processes.kills >= 1
    assert_redial_invariants(campaign, sandbox.provider.ledger())
