"""Cut a campaign into batches of at most `batch_size` calls.

Planning runs in slices (a transaction each) so that a list of millions never holds one long
write lock; each slice picks up after the last contact already planned, so a planner killed half
way resumes where it stopped. A campaign is dispatched only once `planned_at` is set.
"""

from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Call, Campaign, Contact
from dialer.models import Batch

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
        inserted = _insert_calls(campaign, after_contact_id=last_contact_id, limit=slice_size)
        _cut_into_batches(campaign)
        if inserted < slice_size:
            Campaign.objects.filter(pk=campaign_id).update(planned_at=timezone.now())
            return True
    return False


def _insert_calls(campaign: Campaign, *, after_contact_id: int, limit: int) -> int:
    """One INSERT ... SELECT: the calls never pass through Python."""
    call_table = Call._meta.db_table
    contact_table = Contact._meta.db_table
    sql = (
        f"INSERT INTO {call_table} (campaign_id, contact_id, client_identifier, state, phonon_uuid, "
        f"provider_message, updated_at) "
        f"SELECT %s, c.id, CAST(%s AS TEXT) || CAST(c.id AS TEXT), %s, '', '', %s "
        f"FROM {contact_table} c WHERE c.contact_list_id = %s AND c.id > %s ORDER BY c.id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                campaign.pk, f"{campaign.token}-", Call.State.PENDING, timezone.now(),
                campaign.contact_list_id, after_contact_id, limit,
            ],
        )
        return cursor.rowcount


def _cut_into_batches(campaign: Campaign) -> None:
    """Give every call without a batch one: consecutive runs of `batch_size` call ids."""
    call_ids = list(
        Call.objects.filter(campaign=campaign, batch__isnull=True).order_by("id").values_list("id", flat=True)
    )
    if not call_ids:
        return
    next_sequence = (
        Batch.objects.filter(campaign=campaign).order_by("-sequence").values_list("sequence", flat=True).first() or 0
    ) + 1
    size = campaign.batch_size
    runs = [call_ids[start : start + size] for start in range(0, len(call_ids), size)]
    batches = Batch.objects.bulk_create(
        [
            Batch(
                campaign=campaign, sequence=next_sequence + index, endpoint=campaign.flow.endpoint,
                call_count=len(run), status=Batch.Status.PLANNED,
            )
            for index, run in enumerate(runs)
        ]
    )
    if batches[0].pk is None:  # backends that do not return ids from bulk_create
        batches = list(Batch.objects.filter(campaign=campaign, sequence__gte=next_sequence).order_by("sequence"))
    for batch, run in zip(batches, runs):
        # Call ids of one run are consecutive in this campaign, so a range covers exactly the run.
        Call.objects.filter(campaign=campaign, id__gte=run[0], id__lte=run[-1], batch__isnull=True).update(
            batch=batch
        )
