"""A call list becomes placed calls: real worker process, real Redis, the sandbox over HTTP."""

import datetime
import io
from zoneinfo import ZoneInfo

import pytest

from campaigns.importing import contact_list_create
from campaigns.models import Campaign, ContactList
from campaigns.tasks import import_contact_list_task
from dialer import campaign_actions
from dialer.models import Batch, Call
from tests.factories import make_flow
from tests.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_2000_row_csv_becomes_4_requests_of_500_with_every_uuid_from_the_ledger(
    sandbox, start_processes, settings, tmp_path
):
    # given a 2,000-row CSV imported by a worker
    settings.MEDIA_ROOT = tmp_path
    start_processes(workers=1, MEDIA_ROOT=tmp_path)
    flow = make_flow()
    tomorrow = datetime.datetime.now(ZoneInfo("Asia/Kolkata")).date() + datetime.timedelta(days=1)
    rows = ["tel1,tel2,$flow.key.name"] + [f"+91 98{i:08d},9197{i:08d},Customer {i}" for i in range(2000)]
    contact_list = contact_list_create(
        flow=flow, fileobj=io.BytesIO("\r\n".join(rows).encode()), filename=f"upload_{tomorrow:%d%m%Y}103000.csv",
        source=ContactList.Source.UPLOAD,
    )
    import_contact_list_task.delay(contact_list.pk)
    contact_list = wait_until(
        lambda: (c := ContactList.objects.get(pk=contact_list.pk)).status == ContactList.Status.IMPORTED and c,
        timeout=60, message="the import",
    )
    assert contact_list.imported_count == 2000 and contact_list.rejected_count == 0

    # when it is launched with the calling window lifted
    campaign = campaign_actions.campaign_launch(contact_list=contact_list, window="00:00-24:00")
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
    # the numbers went out normalised, with the file name's common start time
    entry = sandbox.provider.ledger()[0]
    assert entry["contact-numbers"] == ["919800000000", "919700000000"]
    assert entry["start-time"] == f"{tomorrow:%Y-%m-%d}T10:30:00+05:30"


@pytest.mark.parametrize("processes", [1, 2])
def test_a_celery_worker_imports_a_large_file_with_a_reading_process(start_processes, settings, tmp_path, processes):
    # given a worker told to read large files in a process of its own (and, with 2, a checking one):
    # a Celery pool process counts as a daemon, and multiprocessing would refuse it any child
    settings.MEDIA_ROOT = tmp_path
    start_processes(workers=1, beat=False, MEDIA_ROOT=tmp_path, CALL_LIST_IMPORT_WORKERS=processes)
    flow = make_flow()
    rows = ["tel1,tel2,$flow.key.name,$flow.key.note"] + [
        f"+91 98{i:08d},{'12' if i % 10 == 0 else f'9197{i:08d}'},Customer {i},{'x' * 20}" for i in range(40_000)
    ]
    rows.append("+91 9800000007,,Again,")  # a duplicate of line 9
    data = "\r\n".join(rows).encode()
    assert len(data) >= 2 * 1024 * 1024  # large enough for the reading process
    contact_list = contact_list_create(
        flow=flow, fileobj=io.BytesIO(data), filename="large.csv", source=ContactList.Source.UPLOAD
    )

    # when the worker imports it
    import_contact_list_task.delay(contact_list.pk)
    contact_list = wait_until(
        lambda: (c := ContactList.objects.get(pk=contact_list.pk)).status != ContactList.Status.PENDING
        and c.status != ContactList.Status.IMPORTING and c,
        timeout=90, message="the import",
    )

    # then every row is kept or rejected with its reason, as one process would
    assert contact_list.status == ContactList.Status.IMPORTED, contact_list.error
    assert (contact_list.imported_count, contact_list.rejected_count) == (36_000, 4_001)
    reasons = list(contact_list.rejected_rows.order_by("line").values_list("line", "reason"))
    assert reasons[0] == (
        2, 'tel2 "12" is not a valid phone number (write it with its country code, e.g. 919812345678).'
    )
    assert reasons[-1] == (40_002, "919800000007 is already in this list at line 9.")
