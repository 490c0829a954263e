"""Retry: a campaign's rejected or skipped calls become a new list, launched through the review."""

from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Campaign, Contact, ContactList
from dialer.models import Call

RETRY_STATES = (Call.State.REJECTED, Call.State.SKIPPED)


def campaign_retry_list(*, campaign: Campaign, created_by=None) -> ContactList:
    """A new imported list holding a copy of each contact whose call was rejected or skipped (one
    INSERT ... SELECT). Raises ValueError with a sentence when there is nothing to retry."""
    if not campaign.is_final:
        raise ValueError("Retry once the campaign is completed or cancelled; its calls may still go out.")
    count = Call.objects.filter(campaign=campaign, state__in=RETRY_STATES).count()
    if not count:
        raise ValueError("No call of this campaign was rejected or skipped: there is nothing to retry.")
    contact_table, call_table = Contact._meta.db_table, Call._meta.db_table
    with transaction.atomic():
        retry = ContactList.objects.create(
            flow=campaign.flow, name=f"Retry of {campaign.name}"[:200], source=ContactList.Source.RETRY,
            status=ContactList.Status.IMPORTED, rows_done=count, imported_count=count, created_by=created_by,
            header=campaign.contact_list.header, started_at=timezone.now(), finished_at=timezone.now(),
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {contact_table} (contact_list_id, line, primary_number, numbers, variables, start_at, "
                f"external_id) "
                f"SELECT %s, c.line, c.primary_number, c.numbers, c.variables, NULL, c.external_id "
                f"FROM {call_table} k JOIN {contact_table} c ON c.id = k.contact_id "
                f"WHERE k.campaign_id = %s AND k.state IN (%s, %s) ORDER BY c.id",
                [retry.pk, campaign.pk, *RETRY_STATES],
            )
    return retry
