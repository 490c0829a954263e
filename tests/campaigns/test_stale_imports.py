"""Imports and do-not-call loads whose process ended half way (issue 25, 5): the stale sweep runs them
again from the start, once; a second stop fails them with a sentence. (With a real worker SIGKILLed
mid-import: tests/e2e/test_imports_under_faults.py.)"""

import datetime
import io

import pytest
from django.utils import timezone

from campaigns.donotcall import loading
from campaigns.donotcall.loading import dnc_upload_create, dnc_upload_run, dnc_uploads_stale
from campaigns.importing import contact_list_create, contact_list_import, job
from campaigns.models import Contact, ContactList, DoNotCallEntry, DoNotCallList, DoNotCallUpload

pytestmark = pytest.mark.django_db

ROWS = b"tel1,name\n" + b"".join(f"9198{i:08d},Customer {i}\n".encode() for i in range(30))


def a_list_left_importing(flow, *, minutes_ago: int, error: str = "") -> ContactList:
    """A list whose importing process died after committing its first rows."""
    contact_list = contact_list_create(
        flow=flow, fileobj=io.BytesIO(ROWS), filename="list.csv", source=ContactList.Source.COMMAND
    )
    started = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    ContactList.objects.filter(pk=contact_list.pk).update(
        status=ContactList.Status.IMPORTING, started_at=started, rows_done=3, imported_count=3, error=error
    )
    Contact.objects.bulk_create(
        [
            Contact(
                contact_list=contact_list,
                line=i + 2,
                primary_number=f"9198{i:08d}",
                numbers=[f"9198{i:08d}"],
                variables={},
            )
            for i in range(3)
        ]
    )
    return contact_list


def test_a_list_left_importing_is_not_touched_before_the_stale_age(flow, settings):
    settings.IMPORT_STALE_SECONDS = 600
    contact_list = a_list_left_importing(flow, minutes_ago=5)

    assert job.contact_lists_stale() == []
    assert contact_list_import(contact_list_id=contact_list.pk).status == ContactList.Status.IMPORTING


def test_a_list_left_importing_past_the_stale_age_is_imported_again_from_the_start(flow, settings):
    # given a list whose import died half way eleven minutes ago
    settings.IMPORT_STALE_SECONDS = 600
    contact_list = a_list_left_importing(flow, minutes_ago=11)

    # when the sweep finds it and its import runs again
    assert job.contact_lists_stale() == [contact_list.pk]
    imported = contact_list_import(contact_list_id=contact_list.pk)

    # then every row is imported once, and the note of the restart is gone
    assert (imported.status, imported.imported_count, imported.error) == (ContactList.Status.IMPORTED, 30, "")
    assert Contact.objects.filter(contact_list=contact_list).count() == 30


def test_a_list_whose_import_stopped_twice_is_failed_with_its_rows_removed_and_a_sentence(flow, settings):
    settings.IMPORT_STALE_SECONDS = 600
    contact_list = a_list_left_importing(flow, minutes_ago=11, error=job.RESTARTED)

    assert job.contact_lists_stale() == []

    contact_list.refresh_from_db()
    assert contact_list.status == ContactList.Status.FAILED
    assert contact_list.error == job.STOPPED_TWICE and "Upload the file again" in contact_list.error
    assert not Contact.objects.filter(contact_list=contact_list).exists()


def test_a_do_not_call_load_left_running_is_run_again_once_then_failed(settings):
    settings.DNC_LOAD_STALE_SECONDS = 1800
    registry = DoNotCallList.objects.create(name="National registry")
    upload = dnc_upload_create(dnc_list=registry, fileobj=io.BytesIO(b"919812345678\n"), filename="optouts.csv")
    long_ago = timezone.now() - datetime.timedelta(minutes=31)
    DoNotCallUpload.objects.filter(pk=upload.pk).update(status=DoNotCallUpload.Status.RUNNING, started_at=long_ago)

    # the first stop: run again, to the end
    assert dnc_uploads_stale() == [upload.pk]
    done = dnc_upload_run(upload_id=upload.pk)
    assert (done.status, done.error) == (DoNotCallUpload.Status.DONE, "")
    assert DoNotCallEntry.objects.filter(dnc_list=registry).count() == 1

    # a second stop after a restart: failed with a sentence
    DoNotCallUpload.objects.filter(pk=upload.pk).update(
        status=DoNotCallUpload.Status.RUNNING, started_at=long_ago, error=loading.RESTARTED
    )
    assert dnc_uploads_stale() == []
    failed = DoNotCallUpload.objects.get(pk=upload.pk)
    assert (failed.status, failed.error) == (DoNotCallUpload.Status.FAILED, loading.STOPPED_TWICE)
