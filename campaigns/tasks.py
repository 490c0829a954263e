"""Celery tasks of the campaigns app: importing a list, loading a do-not-call file."""

from celery import shared_task
from django.db import transaction

from campaigns.donotcall.loading import dnc_upload_run
from campaigns.importing import contact_list_import


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
