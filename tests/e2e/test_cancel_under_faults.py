"""Cancel with real worker processes (issue 25): batches waiting for the limit, and requests the
provider accepted without its answer being read. After each: nothing pending, nothing open, and every
call in the provider's ledger recorded as placed, accepted (uuid unknown) or "may have been placed"."""

import pytest

from campaigns.models import Campaign
from dialer import campaign_actions
from dialer.models import Batch, Call
from tests.e2e.test_dispatch_under_faults import assert_ledger_matches_database
from tests.factories import make_contact_list, make_flow
from tests.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cancel_settings(settings):
    settings.PHONON_RATE_MARGIN = 0.1
    settings.DISPATCH_LEASE_SECONDS = 6
    settings.DISPATCH_REQUEUE_AFTER = 3
    settings.DISPATCH_BACKOFF_BASE = 0.2
    settings.DISPATCH_BACKOFF_CAP = 1.0
    return settings


def cancel_and_wait_until_settled(campaign) -> Campaign:
    campaign_actions.campaign_cancel(campaign=Campaign.objects.get(pk=campaign.pk))

    def settled():
        open_batches = Batch.objects.filter(campaign=campaign).exclude(status__in=Batch.FINAL_STATUSES).exists()
        pending = Call.objects.filter(campaign=campaign, state=Call.State.PENDING).exists()
        return not open_batches and not pending

    wait_until(settled, timeout=90, interval=0.5, message="every batch final and no call pending after the cancel")
    return Campaign.objects.get(pk=campaign.pk)


def test_a_cancel_while_batches_wait_for_the_limit_leaves_nothing_pending(sandbox, start_processes, cancel_settings):
    # given a limit of 1,000 calls per 5 s and batches of 500: two requests a window, the rest wait
    cancel_settings.PHONON_REALTIME_RATE = "1000/5"
    cancel_settings.DISPATCH_GRANT_MAX_WAIT = 30
    contact_list = make_contact_list(make_flow(), 6000)
    start_processes(workers=3)
    campaign = campaign_actions.campaign_launch(contact_list=contact_list, window="00:00-24:00", batch_size=500)

    # when the manager cancels once two batches are being sent (one sent, others waiting for a grant)
    wait_until(
        lambda: Batch.objects.filter(campaign=campaign, status=Batch.Status.SENDING).count() >= 2,
        timeout=60,
        interval=0.05,
        message="two batches sending",
    )
    campaign = cancel_and_wait_until_settled(campaign)

    # then the campaign adds up: every call final, the ledger's calls placed, the others skipped
    assert campaign.status == Campaign.Status.CANCELLED
    ledger = sandbox.provider.ledger()
    assert_ledger_matches_database(campaign, ledger)
    placed = Call.objects.filter(campaign=campaign, state=Call.State.PLACED).count()
    skipped = Call.objects.filter(campaign=campaign, state=Call.State.SKIPPED).count()
    assert placed + skipped == 6000
    assert placed == len(ledger) < 6000


def test_a_cancel_never_records_a_call_the_provider_accepted_as_not_sent(sandbox, start_processes, cancel_settings):
    # given a provider that accepts a third of the requests but answers after the read timeout
    cancel_settings.PHONON_REALTIME_RATE = "1000000/60"
    cancel_settings.PHONON_READ_TIMEOUT = 2.0
    sandbox.provider.set_faults(slow=0.35, slow_seconds=5, seed=3)
    contact_list = make_contact_list(make_flow(), 20_000)
    start_processes(workers=4)
    campaign = campaign_actions.campaign_launch(contact_list=contact_list, window="00:00-24:00", batch_size=500)

    # when the manager cancels once a request went unanswered
    wait_until(
        lambda: Batch.objects.filter(campaign=campaign, status=Batch.Status.UNCERTAIN).exists(),
        timeout=60,
        interval=0.05,
        message="a request answered too late",
    )
    campaign = cancel_and_wait_until_settled(campaign)
    sandbox.provider.set_faults(None)

    # then every call in the provider's ledger is placed, accepted or may have been placed: none skipped
    assert campaign.status == Campaign.Status.CANCELLED
    ledger = sandbox.provider.ledger()
    assert_ledger_matches_database(campaign, ledger)
    assert Call.objects.filter(campaign=campaign, state=Call.State.MAYBE_PLACED).exists()
    assert Call.objects.filter(campaign=campaign, state=Call.State.SKIPPED).exists()
