"""A call list becomes placed calls: real worker process, real Redis, the sandbox over HTTP."""

import pytest

from campaigns import lifecycle
from campaigns.models import Call, Campaign
from dialer.models import Batch
from tests.factories import make_contact_list, make_flow
from tests.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_2000_contacts_become_4_requests_of_500_with_every_uuid_from_the_ledger(sandbox, start_processes):
    # given a 2,000-contact list on a flow, and a worker
    flow = make_flow()
    contact_list = make_contact_list(flow, 2000)
    start_processes(workers=1)

    # when it is launched with the calling window lifted
    campaign = lifecycle.campaign_launch(contact_list=contact_list, window="00:00-24:00")
    wait_until(
        lambda: Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.COMPLETED,
        timeout=60, message="the campaign to complete",
    )

    # then the sandbox got exactly 4 requests of 500 calls
    stats = sandbox.provider.stats(60)
    assert stats["realtime"]["requests"] == 4
    batches = list(Batch.objects.filter(campaign=campaign))
    assert [b.call_count for b in batches] == [500, 500, 500, 500]
    assert all(b.status == Batch.Status.PLACED and b.request_id for b in batches)
    # and the stored UUIDs are exactly the ledger's, each once
    ledger = {entry["client-identifier"]: entry["phonon-uuid"] for entry in sandbox.provider.ledger()}
    stored = dict(Call.objects.filter(campaign=campaign).values_list("client_identifier", "phonon_uuid"))
    assert len(ledger) == 2000
    assert stored == ledger
    assert len(set(stored.values())) == 2000
    assert Call.objects.filter(campaign=campaign, state=Call.State.PLACED).count() == 2000
