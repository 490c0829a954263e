"""A provider that answers 500 to every request, with real workers and the sandbox over HTTP: the
status says "Retrying ..." and counts no call as sent; once the provider recovers, every call is
accepted once and the chart counts accepted calls, not attempts."""

import re

import pytest

from campaigns.models import Campaign
from dialer import campaign_actions
from dialer.read_model import campaign_reading
from pages.selectors import campaign_chart
from tests.factories import make_contact_list, make_flow
from tests.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RETRYING = re.compile(
    r"Retrying: the provider answered 500 to the last (request|\d+ requests) \(attempt \d+ of 20\), "
    r"next try at \d\d:\d\d IST"
)


def test_a_provider_answering_500_is_shown_as_retrying_and_no_attempt_counts_as_sent(
    sandbox, start_processes, settings
):
    # given a provider that answers 500 to every request, and retries a few seconds apart
    settings.DISPATCH_MAX_ATTEMPTS = 20
    settings.DISPATCH_BACKOFF_BASE = 1.0
    settings.DISPATCH_BACKOFF_CAP = 3.0
    start_processes(workers=1, BREAKER_WINDOW=1000)
    sandbox.provider.set_faults(error_500=1.0)
    campaign = campaign_actions.campaign_launch(
        contact_list=make_contact_list(make_flow(), 300), window="00:00-24:00", batch_size=100
    )

    # when the campaign runs into it
    reading = wait_until(
        lambda: (r := campaign_reading(Campaign.objects.get(pk=campaign.pk))).explained.state == "retrying" and r,
        timeout=60,
        message="the status to say it is retrying",
    )

    # then the status says so in words, gives no finishing time and counts nothing as sent
    assert RETRYING.fullmatch(reading.explained.headline), reading.explained.headline
    assert reading.finish_at is None and reading.progress.sent == 0
    assert campaign_chart(reading.campaign, 3000)["summary"] == "No call has been accepted yet."

    # and when the provider recovers, every call is accepted once and the chart counts 300, not the attempts
    sandbox.provider.set_faults(None)
    wait_until(
        lambda: Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.COMPLETED,
        timeout=90,
        message="the campaign to complete",
    )
    done = campaign_reading(Campaign.objects.get(pk=campaign.pk))
    assert done.progress.placed == 300 and done.retrying is None
    assert campaign_chart(done.campaign, 3000)["sent"] == 300
    assert len(sandbox.provider.ledger()) == 300
