"""Cut a campaign into batches of at most `batch_size` calls.

Planning runs in slices (a transaction each) so that a list of millions never holds one long
write lock; each slice picks up after the last contact already planned, so a planner killed half
way resumes where it stopped. A campaign is dispatched only once `planned_at` is set.
"""

from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Campaign, Contact
from dialer.models import Batch, Call
from dialer.recent_calls import calls_skip_recently_called

PLAN_SLICE = 100_000


def campaign_plan(*, campaign_id: int, slice_size: int = PLAN_SLICE) -> bool:
    """Plan the next slice of the campaign. Returns True once the whole campaign is planned."""
    campaign = Campaign.objects.select_related("flow").get(pk=campaign_id)
    if campaign.planned_at is not None or campaign.is_final:
        return True
    slice_size = max(campaign.batch_size, slice_size - slice_size % campaign.batch_size)
    with transaction.atomic():
        # Lock the campaign row so two planners never interleave (a no-op lock on SQLite, whose
        # IMMEDIATE transactions already serialise writers).
        Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        last_contact_id = Call.objects.filter(campaign_id=campaign_id).order_by("-contact_id").values_list(
            "contact_id", flat=True
        ).first() or 0
        planned = _plan_slice(campaign, after_contact_id=last_contact_id, limit=slice_size)
        calls_skip_recently_called(campaign=campaign, after_contact_id=last_contact_id)
        if planned < slice_size:
            Campaign.objects.filter(pk=campaign_id).update(planned_at=timezone.now())
            done = True
        else:
            done = False
    if done and connection.vendor == "postgresql":
        # A million fresh rows leave the planner's statistics stale until autovacuum comes by;
        # dispatch's per-batch queries need them now.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Call._meta.db_table}")
    return done


def _plan_slice(campaign: Campaign, *, after_contact_id: int, limit: int) -> int:
    """Create the slice's batches, then its calls in one INSERT ... SELECT that numbers the
    contacts and puts each run of `batch_size` into its batch: no call passes through Python."""
    contact_table = Contact._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM (SELECT id FROM {contact_table} WHERE contact_list_id = %s AND id > %s "
            f"ORDER BY id LIMIT %s) AS slice",
            [campaign.contact_list_id, after_contact_id, limit],
        )
        count = cursor.fetchone()[0]
    if not count:
        return 0
    size = campaign.batch_size
    first_sequence = (
        Batch.objects.filter(campaign=campaign).order_by("-sequence").values_list("sequence", flat=True).first() or 0
    ) + 1
    Batch.objects.bulk_create(
        [
            Batch(
                campaign=campaign, sequence=first_sequence + index, endpoint=campaign.flow.endpoint,
                call_count=min(size, count - index * size), status=Batch.Status.PLANNED,
            )
            for index in range((count + size - 1) // size)
        ]
    )
    call_table, batch_table = Call._meta.db_table, Batch._meta.db_table
    # The contact id zero-padded: identifiers then sort as they are inserted, and the unique index
    # on them grows at its end instead of splitting pages all over (what makes PostgreSQL slow).
    padded = "LPAD(CAST(numbered.id AS TEXT), 12, '0')" if connection.vendor == "postgresql" else (
        "printf('%%012d', numbered.id)"
    )
    sql = (
        f"INSERT INTO {call_table} (campaign_id, contact_id, batch_id, client_identifier, state, phonon_uuid, "
        f"provider_message, updated_at) "
        f"SELECT %s, numbered.id, b.id, CAST(%s AS TEXT) || {padded}, %s, '', '', %s "
        f"FROM (SELECT c.id, ROW_NUMBER() OVER (ORDER BY c.id) AS n FROM {contact_table} c "
        f"      WHERE c.contact_list_id = %s AND c.id > %s ORDER BY c.id LIMIT %s) AS numbered "
        f"JOIN {batch_table} b ON b.campaign_id = %s AND b.sequence = %s + (numbered.n - 1) / %s "
        f"ORDER BY numbered.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                campaign.pk, f"{campaign.token}-", Call.State.PENDING, timezone.now(),
                campaign.contact_list_id, after_contact_id, limit,
                campaign.pk, first_sequence, size,
            ],
        )
        return cursor.rowcount
