"""A new list copied from a campaign's calls: the contacts of the calls that match, in one
INSERT ... SELECT, imported at once, to launch through the review (a retry of the calls not
placed; the people who gave one answer)."""

from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Campaign, Contact, ContactList
from dialer.models import Call


def contact_list_copied_from_calls(
    *, campaign: Campaign, name: str, count: int, created_by, calls_where: str, params: list
) -> ContactList:
    """`calls_where` is SQL over the campaign's calls as `k` (its values in `params`); `count` is how
    many calls it matches, counted by the caller, who refuses an empty list in its own words."""
    contact_table, call_table = Contact._meta.db_table, Call._meta.db_table
    with transaction.atomic():
        copied = ContactList.objects.create(
            flow=campaign.flow, name=name[:200], source=ContactList.Source.RETRY,
            status=ContactList.Status.IMPORTED, rows_done=count, imported_count=count, created_by=created_by,
            header=campaign.contact_list.header, started_at=timezone.now(), finished_at=timezone.now(),
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {contact_table} (contact_list_id, line, primary_number, numbers, variables, start_at, "
                f"external_id) "
                f"SELECT %s, c.line, c.primary_number, c.numbers, c.variables, NULL, c.external_id "
                f"FROM {call_table} k JOIN {contact_table} c ON c.id = k.contact_id "
                f"WHERE k.campaign_id = %s AND ({calls_where}) ORDER BY c.id",
                [copied.pk, campaign.pk, *params],
            )
    return copied
