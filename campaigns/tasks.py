"""Celery tasks of the campaigns app: importing a list."""

from celery import shared_task

from campaigns.importing import contact_list_import


@shared_task
def import_contact_list_task(contact_list_id: int) -> None:
    """Import one uploaded list; a second delivery finds it claimed or done and does nothing."""
    contact_list_import(contact_list_id=contact_list_id)
