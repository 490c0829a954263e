"""Bisection with real worker processes: a provider that refuses a whole request for one bad call,
sends its codes with HTTP statuses of its own, injects faults, while workers are killed with SIGKILL.
Nobody is dialled twice, every call ends final, and a good call is refused only when the request it
was in may already have reached the provider (then no new bytes may be made from it)."""

import random
import time

import pytest

from campaigns.models import Campaign, Contact
from dialer import campaign_actions
from dialer.models import Batch, Call
from tests.e2e.test_dispatch_under_faults import assert_ledger_matches_database
from tests.factories import make_contact_list, make_flow
from tests.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
CONTACTS, BAD = 3000, 30


def test_splitting_under_faults_and_sigkills_dials_nobody_twice_and_settles_every_call(
    sandbox, start_processes, settings
):
    # given a provider that refuses a whole request for one bad number, answers 205 with HTTP 400,
    # 500 with HTTP 503 and 201 with HTTP 409, and injects failures, resets and 429s
    settings.PHONON_READ_TIMEOUT = 1.0
    settings.PHONON_RATE_MARGIN = 0.05
    settings.PHONON_REALTIME_RATE = "1000/1"
    settings.DISPATCH_LEASE_SECONDS = 4
    settings.DISPATCH_REQUEUE_AFTER = 3
    settings.DISPATCH_MAX_ATTEMPTS = 60
    settings.DISPATCH_BACKOFF_BASE = 0.2
    settings.DISPATCH_BACKOFF_CAP = 1.0
    sandbox.provider.set_faults(
        error_500=0.05, reset=0.05, reset_after_accept=0.5, http_429=0.05, seed=5, retry_after=0.3,
        refuse_whole_for_bad_call=True, http_status_for_codes={"205": 400, "500": 503, "201": 409},
    )
    flow = make_flow()
    contact_list = make_contact_list(flow, CONTACTS)
    rng = random.Random(13)
    bad_ids = rng.sample(list(Contact.objects.filter(contact_list=contact_list).values_list("pk", flat=True)), BAD)
    Contact.objects.filter(pk__in=bad_ids).update(numbers=["12"])
    processes = start_processes(workers=3)

    # when the campaign runs in requests of 100 while workers are killed at random moments
    campaign = campaign_actions.campaign_launch(contact_list=contact_list, window="00:00-24:00", batch_size=100)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        campaign.refresh_from_db()
        if campaign.is_final or campaign.status == Campaign.Status.PAUSED:
            break
        time.sleep(rng.uniform(0.5, 1.5))
        if processes.kills < 12:
            processes.kill_worker(rng.randrange(3))
    campaign = wait_until(
        lambda: (c := Campaign.objects.get(pk=campaign.pk)).is_final and c, timeout=180,
        message="the campaign to finish",
    )

    # then nobody was dialled twice, every call is final, and the database agrees with the provider
    assert processes.kills >= 3
    assert campaign.status == Campaign.Status.COMPLETED, campaign.status_reason
    assert not Batch.objects.filter(campaign=campaign).exclude(status__in=Batch.FINAL_STATUSES).exists()
    assert not Call.objects.filter(campaign=campaign, state=Call.State.PENDING).exists()
    ledger = sandbox.provider.ledger()
    assert_ledger_matches_database(campaign, ledger)

    # and every bad call was refused with 205, none of them reached the provider
    bad = Call.objects.filter(campaign=campaign, contact_id__in=bad_ids)
    assert set(bad.values_list("state", "provider_code")) == {(Call.State.REJECTED, 205)}
    assert Batch.objects.filter(campaign=campaign, status=Batch.Status.SPLIT).exists()

    # and a good call was refused only with a request that may already have reached the provider
    good_refused = (
        Call.objects.filter(campaign=campaign, state=Call.State.REJECTED).exclude(contact_id__in=bad_ids)
        .select_related("batch")
    )
    assert all(call.batch.an_attempt_went_unanswered() for call in good_refused)
    placed = Call.objects.filter(campaign=campaign, state__in=(Call.State.PLACED, Call.State.ACCEPTED_UNKNOWN))
    assert placed.count() == len(ledger) == CONTACTS - BAD - good_refused.count()
