"""Invariants 1-3 with real worker processes: faults at the provider, workers killed with SIGKILL,
and several workers sharing one rate limit."""

import random
import time
from collections import Counter

import pytest

from campaigns.models import Campaign
from dialer import campaign_actions
from dialer.models import Batch, Call
from phonon.sandbox.provider import max_in_window
from tests.e2e.grants import assert_each_grant_received, grants, journal_on
from tests.factories import make_contact_list, make_flow
from tests.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fault_settings(settings):
    settings.PHONON_READ_TIMEOUT = 1.0
    settings.PHONON_RATE_MARGIN = 0.05
    settings.DISPATCH_LEASE_SECONDS = 4
    settings.DISPATCH_REQUEUE_AFTER = 3
    settings.DISPATCH_MAX_ATTEMPTS = 60
    settings.DISPATCH_BACKOFF_BASE = 0.2
    settings.DISPATCH_BACKOFF_CAP = 1.0
    return settings


def assert_ledger_matches_database(campaign, ledger):
    numbers = Counter(entry["contact-numbers"][0] for entry in ledger)
    identifiers = Counter(entry["client-identifier"] for entry in ledger)
    assert [n for n, count in numbers.items() if count > 1] == [], "a phone number was dialled twice"
    assert [c for c, count in identifiers.items() if count > 1] == [], "a client-identifier was accepted twice"
    by_identifier = {entry["client-identifier"]: entry for entry in ledger}
    calls = Call.objects.filter(campaign=campaign).values_list("client_identifier", "state", "phonon_uuid")
    for client_identifier, state, phonon_uuid in calls.iterator():
        entry = by_identifier.get(client_identifier)
        if state == Call.State.PLACED:
            assert entry is not None and entry["phonon-uuid"] == phonon_uuid, client_identifier
        elif state == Call.State.ACCEPTED_UNKNOWN:
            assert entry is not None, f"{client_identifier} recorded as accepted but not in the ledger"
        elif state == Call.State.MAYBE_PLACED:
            pass  # cancelled after an unanswered send: the provider may hold it or not
        else:
            assert state in (Call.State.REJECTED, Call.State.SKIPPED), f"{client_identifier} left {state}"
            assert entry is None, f"{client_identifier} recorded {state} but the provider accepted it"


def test_20000_calls_with_every_fault_and_10_sigkills_dial_nobody_twice_and_lose_nothing(
    sandbox, start_processes, fault_settings
):
    # given the sandbox injecting every fault, and 4 workers sharing a 1,000 calls/s limit
    fault_settings.PHONON_REALTIME_RATE = "1000/1"
    sandbox.provider.set_faults(
        error_500=0.05, slow=0.05, slow_seconds=1.5, reset=0.05, reset_after_accept=0.5, http_429=0.05, seed=7
    )
    flow = make_flow()
    contact_list = make_contact_list(flow, 20_000)
    processes = start_processes(workers=4)
    rng = random.Random(11)

    # when a 20,000-call campaign runs while workers are killed at random moments
    campaign = campaign_actions.campaign_launch(contact_list=contact_list, window="00:00-24:00", batch_size=100)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        campaign.refresh_from_db()
        if campaign.is_final or campaign.status == Campaign.Status.PAUSED:
            break
        time.sleep(rng.uniform(0.3, 1.0))
        if processes.kills < 40:
            processes.kill_worker(rng.randrange(4))
    sandbox.provider.set_faults(None)
    campaign = wait_until(
        lambda: (c := Campaign.objects.get(pk=campaign.pk)).is_final and c, timeout=120,
        message="the campaign to finish after the faults",
    )

    # then
    assert processes.kills >= 10
    assert campaign.status == Campaign.Status.COMPLETED, campaign.status_reason
    assert not Batch.objects.filter(campaign=campaign).exclude(status__in=Batch.FINAL_STATUSES).exists()
    assert not Call.objects.filter(campaign=campaign, state=Call.State.PENDING).exists()
    ledger = sandbox.provider.ledger()
    assert_ledger_matches_database(campaign, ledger)
    placed_or_accepted = Call.objects.filter(
        campaign=campaign, state__in=(Call.State.PLACED, Call.State.ACCEPTED_UNKNOWN)
    ).count()
    assert placed_or_accepted == len(ledger) == 20_000


def test_four_workers_never_exceed_the_limit_in_any_window(sandbox, start_processes, fault_settings):
    # given a limit scaled down to 1,000 calls per 2 s, shared by 4 workers, and the limiter's journal on
    fault_settings.PHONON_REALTIME_RATE = "1000/2"
    fault_settings.PHONON_RATE_MARGIN = 0.3
    journal_on(fault_settings)
    flow = make_flow(client_id=f"four-workers-{time.time_ns()}")
    contact_list = make_contact_list(flow, 12_000)
    start_processes(workers=4)

    # when 12,000 calls go out in batches of 250
    campaign = campaign_actions.campaign_launch(contact_list=contact_list, window="00:00-24:00", batch_size=250)
    campaign = wait_until(
        lambda: (c := Campaign.objects.get(pk=campaign.pk)).is_final and c, timeout=120,
        message="the campaign to complete",
    )

    # then the sandbox received exactly the calls the limiter granted (each request left under a
    # grant of its own, none twice), and on the limiter's clock no window of 2 s plus the margin (the
    # room each request has to reach the provider) held more than 1,000 of them. Measured at the
    # limiter, not at the sandbox: the sandbox shares this busy process, and on a loaded machine it
    # stamps requests that left spread out as if they came together.
    assert campaign.status == Campaign.Status.COMPLETED
    stats = sandbox.provider.stats(2.0)["realtime"]
    assert stats["calls"] == 12_000
    assert assert_each_grant_received(sandbox, flow) >= 12_000
    assert max_in_window(grants(flow), 2.0 + fault_settings.PHONON_RATE_MARGIN) <= 1000
    assert_ledger_matches_database(campaign, sandbox.provider.ledger())
