"""Celery tasks of the campaigns app: importing a list, loading a do-not-call file, and the stale sweep."""

from celery import shared_task
from django.db import transaction

from campaigns.donotcall.loading import dnc_upload_run, dnc_uploads_stale
from campaigns.importing import contact_list_import
from campaigns.importing.job import contact_lists_stale


@shared_task
def import_contact_list_task(contact_list_id: int, from_rows: bool = False) -> None:
    """Import one uploaded list; a second delivery finds it claimed or done and does nothing."""
    contact_list_import(contact_list_id=contact_list_id, from_rows=from_rows)


def contact_list_import_soon(contact_list_id: int, *, from_rows: bool = False) -> None:
    """Queue a list's import for a worker once the transaction that made the list commits (at once
    outside one): the one way the upload page, the API and a closed open list start an import.
    `from_rows`: the API wrote the CSV from JSON rows (its row limit applies, not the file size)."""
    transaction.on_commit(lambda: import_contact_list_task.delay(contact_list_id, from_rows=from_rows))


@shared_task
def load_dnc_upload_task(upload_id: int) -> None:
    """Apply one do-not-call file to its list; a second delivery finds it claimed or done."""
    dnc_upload_run(upload_id=upload_id)


@shared_task(ignore_result=True)
def stale_imports_task() -> None:
    """Run by beat: imports and do-not-call loads whose process ended half way (killed, out of
    memory) are run again from the start, or failed with a sentence if they already were once."""
    for contact_list_id in contact_lists_stale():
        import_contact_list_task.delay(contact_list_id)
    for upload_id in dnc_uploads_stale():
        load_dnc_upload_task.delay(upload_id)
