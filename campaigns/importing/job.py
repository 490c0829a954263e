"""The import as a job: claim the list, run it, finish with imported, refused or failed."""

import datetime
import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from campaigns.importing.events import list_event_record
from campaigns.importing.limits import FileRefused, LostClaim
from campaigns.importing.rows import ListImport
from campaigns.importing.workers import READER_LOST, ReaderLost
from campaigns.importing.writing import list_rows_delete
from campaigns.models import Contact, ContactList

logger = logging.getLogger(__name__)


# Kept in `error` while a list whose first import stopped half way is imported again (a successful
# import clears it): a second stop fails the list instead of starting it a third time.
RESTARTED = "Its import stopped half way (the importing process ended) and was started again from the beginning."
STOPPED_TWICE = (
    "The import stopped half way twice (the importing process ended: it was stopped, or ran out of "
    "memory), so its rows were removed. Upload the file again; if it stops again, upload it in smaller files."
)


def stale_import_after() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.IMPORT_STALE_SECONDS)


def contact_lists_stale(*, now: datetime.datetime | None = None) -> list[int]:
    """Lists left `importing` past the stale age, their process gone (a worker or the command killed):
    those already started again once are failed (rows removed, the reason in a sentence); the others'
    ids are returned, for the caller to run their import again (it takes them over: `_claim`)."""
    now = now or timezone.now()
    stale = ContactList.objects.filter(status=ContactList.Status.IMPORTING, started_at__lt=now - stale_import_after())
    for contact_list_id, started_at in stale.filter(error=RESTARTED).values_list("pk", "started_at"):
        logger.warning("Import of contact list %s stopped half way twice; failing it.", contact_list_id)
        _finish(contact_list_id, started_at, ContactList.Status.FAILED, STOPPED_TWICE)
    return list(stale.exclude(error=RESTARTED).values_list("pk", flat=True))


def _claim(contact_list_id: int, now: datetime.datetime) -> bool:
    counts = {"rows_done": 0, "imported_count": 0, "rejected_count": 0, "finished_at": None, "error": ""}
    claimed = ContactList.objects.filter(pk=contact_list_id, status=ContactList.Status.PENDING).update(
        status=ContactList.Status.IMPORTING, started_at=now, **counts
    )
    if claimed:
        return True
    # A worker that died mid-import leaves the list `importing`; after a while another may restart it.
    with transaction.atomic():
        claimed = (
            ContactList.objects.filter(
                pk=contact_list_id, status=ContactList.Status.IMPORTING, started_at__lt=now - stale_import_after()
            )
            .exclude(error=RESTARTED)
            .update(started_at=now, **{**counts, "error": RESTARTED})
        )
        if claimed:
            logger.warning("Import of contact list %s stopped half way; started again.", contact_list_id)
            list_rows_delete(contact_list_id)
    return bool(claimed)


def _finish(contact_list_id: int, claim: datetime.datetime, status: str, error: str):
    with transaction.atomic():
        updated = ContactList.objects.filter(
            pk=contact_list_id, status=ContactList.Status.IMPORTING, started_at=claim
        ).update(
            status=status, error=error, finished_at=timezone.now(), rows_done=0, imported_count=0, rejected_count=0
        )
        if updated:
            list_rows_delete(contact_list_id)
            event = "list.refused" if status == ContactList.Status.REFUSED else "list.failed"
            list_event_record(contact_list_id, event, status=status, error=error)


# The contacts' columns that planning and the eligibility checks filter and join on (dialer.planning,
# dialer.eligibility). The others (numbers, variables: JSON) are only read; their statistics took two
# thirds of the ANALYZE (0.2 s after a 1,000,000-row list; 0.06 s for these), and autovacuum keeps them.
ANALYZED_CONTACT_COLUMNS = ("id", "contact_list", "primary_number")


def contacts_analyze() -> None:
    """Fresh statistics for the contacts table on PostgreSQL once a list is in: without them the first
    planning of a large new list was planned as scans (measured: 92 s instead of 2.6 s for the first
    slice of 300,000 contacts, benchmarks/bench_first_call.py), and autovacuum comes too late. The
    table's size is counted again whatever the columns."""
    if connection.vendor == "postgresql":
        quote = connection.ops.quote_name
        columns = ", ".join(quote(Contact._meta.get_field(name).column) for name in ANALYZED_CONTACT_COLUMNS)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {quote(Contact._meta.db_table)} ({columns})")


def contact_list_import(*, contact_list_id: int, from_rows: bool = False) -> ContactList:
    """Import a pending list synchronously; safe to call twice (a second call finds nothing to do).
    `from_rows`: the CSV was written here from JSON rows (Limits.from_settings says what changes)."""
    claim = timezone.now()
    if _claim(contact_list_id, claim):
        contact_list = ContactList.objects.select_related("flow").get(pk=contact_list_id)
        try:
            ListImport(contact_list, claim, from_rows=from_rows).run()
            contacts_analyze()
        except FileRefused as refusal:
            _finish(contact_list_id, claim, ContactList.Status.REFUSED, refusal.message)
        except LostClaim:
            logger.warning("Import of contact list %s was restarted elsewhere; this run stops.", contact_list_id)
        except ReaderLost:
            logger.warning("Import of contact list %s failed: its reading process ended.", contact_list_id)
            _finish(contact_list_id, claim, ContactList.Status.FAILED, READER_LOST)
        except FileNotFoundError:
            _finish(contact_list_id, claim, ContactList.Status.FAILED, "The uploaded file is no longer on the server.")
        except Exception as error:
            logger.exception("Import of contact list %s failed", contact_list_id)
            _finish(contact_list_id, claim, ContactList.Status.FAILED, f"The import failed ({type(error).__name__}).")
    return ContactList.objects.get(pk=contact_list_id)
