"""An import whose worker is SIGKILLed half way (issue 25, 5), with real worker and beat processes:
the stale sweep takes the list over and imports it again from the start; nothing is left `importing`."""

import io

import pytest

from campaigns.importing import contact_list_create
from campaigns.models import Contact, ContactList
from campaigns.tasks import import_contact_list_task
from tests.factories import make_flow
from tests.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROWS = 150_000


def test_an_import_whose_worker_is_killed_half_way_is_taken_over_and_finished(start_processes, settings, tmp_path):
    # given a list of 150,000 rows, imported by a real worker a thousand rows a transaction
    settings.MEDIA_ROOT = tmp_path / "media"
    data = b"tel1,name\n" + b"".join(f"9197{i:08d},Customer {i}\n".encode() for i in range(ROWS))
    contact_list = contact_list_create(
        flow=make_flow(), fileobj=io.BytesIO(data), filename="big.csv", source=ContactList.Source.COMMAND
    )
    processes = start_processes(
        workers=1,
        MEDIA_ROOT=settings.MEDIA_ROOT,
        CALL_LIST_CHUNK_ROWS=1000,
        CALL_LIST_IMPORT_WORKERS=0,
        IMPORT_STALE_SECONDS=3,
        STALE_IMPORTS_SWEEP_SECONDS=1,
    )
    import_contact_list_task.delay(contact_list.pk)

    # when the worker is killed once the import is under way
    wait_until(
        lambda: ContactList.objects.filter(
            pk=contact_list.pk, status=ContactList.Status.IMPORTING, rows_done__gte=2000
        ).exists(),
        timeout=120,
        interval=0.02,
        message="the import to be under way",
    )
    processes.kill_worker(0)
    killed_at = ContactList.objects.get(pk=contact_list.pk)
    assert killed_at.status == ContactList.Status.IMPORTING and killed_at.rows_done < ROWS

    # then the list is taken over and imported whole, each row once
    imported = wait_until(
        lambda: (c := ContactList.objects.get(pk=contact_list.pk)).status != ContactList.Status.IMPORTING and c,
        timeout=180,
        interval=0.5,
        message="the list to leave `importing`",
    )
    assert (imported.status, imported.imported_count, imported.error) == (ContactList.Status.IMPORTED, ROWS, "")
    assert Contact.objects.filter(contact_list=contact_list).count() == ROWS
