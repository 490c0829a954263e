"""Cut a campaign into batches of at most `batch_size` calls.

Planning runs in slices (a transaction each) so that a list of millions never holds one long
write lock; each slice picks up after the last contact already planned, so a planner killed half
way resumes where it stopped. The first slice is small and the campaign may start as soon as it
commits: its batches go out while the later, larger slices are planned behind them. `planned_at` is
set with the last slice; a campaign completes only once it is set and every batch is final.

Who may be called is decided in the same statement (dialer.eligibility): a contact on a
do-not-call list, or over the account's dialling cap, gets a SKIPPED call with the reason and no
batch.
"""

import re

from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Campaign, Contact
from dialer import eligibility, start_times, tallies
from dialer.models import Batch, Call
from dialer.recent_calls import calls_skip_recently_called
from flows.models import Account

PLAN_SLICE = 100_000
# The first requests leave once the first slice commits, so it is small (a few batches, milliseconds
# however large the list); later slices grow to PLAN_SLICE, where a big list plans fastest.
FIRST_SLICE = 2_000
SLICE_GROWTH = 5
# A call's client-identifier is "<campaign token>-<contact id in IDENTIFIER_DIGITS digits>" (written
# in SQL below).
IDENTIFIER_DIGITS = 12
# A redial's adds "-<attempt>" (dialer.redials.planning); a first call's never changes.
IDENTIFIER = re.compile(
    rf"(?P<token>[0-9A-Za-z]+)-(?P<contact_id>[0-9]{{{IDENTIFIER_DIGITS}}})(?:-(?P<attempt>[0-9]{{1,2}}))?"
)
# pg_try_advisory_xact_lock's first key: "the planner of campaign <second key>".
PLANNER_LOCK = 16_001


def identifier_key(identifier: str) -> tuple[str, int] | None:
    """The (campaign token, contact id) a client-identifier names, or None if it is not one of ours."""
    match = IDENTIFIER.fullmatch(identifier.strip())
    return (match["token"], int(match["contact_id"])) if match else None


def next_slice_size(size: int) -> int:
    return min(PLAN_SLICE, size * SLICE_GROWTH)


def campaign_plan(*, campaign_id: int, slice_size: int = PLAN_SLICE) -> bool | None:
    """Plan the next slice of the campaign. Returns True once the whole campaign is planned (or it
    ended: a cancelled campaign's unplanned contacts never get calls), False while more is left,
    and None when another planner of this campaign is at it (its own chain goes on)."""
    campaign = Campaign.objects.select_related("flow__account").filter(pk=campaign_id).first()
    if campaign is None or campaign.planned_at is not None or campaign.is_final:
        return True  # deleted meanwhile (its next slice was already queued), planned, or ended
    slice_size = max(campaign.batch_size, slice_size - slice_size % campaign.batch_size)
    with transaction.atomic():
        if not planner_lock(campaign_id):
            return None
        locked = planner_locks(account_id=campaign.flow.account_id, campaign_id=campaign_id)
        if locked is None or locked[1] is not None or locked[0] in Campaign.FINAL_STATUSES:
            return True
        last_contact_id = Call.objects.filter(campaign_id=campaign_id).order_by("-contact_id").values_list(
            "contact_id", flat=True
        ).first() or 0
        first_sequence = (
            Batch.objects.filter(campaign=campaign).order_by("-sequence").values_list("sequence", flat=True).first()
            or 0
        ) + 1
        rules = eligibility.rules_for(account=campaign.flow.account, exclude_campaign_id=campaign.pk)
        planned = _plan_slice(
            campaign, rules, after_contact_id=last_contact_id, first_sequence=first_sequence, limit=slice_size
        )
        calls_skip_recently_called(campaign=campaign, after_contact_id=last_contact_id, first_sequence=first_sequence)
        start_times.calls_skip_outside_window(
            campaign=campaign, after_contact_id=last_contact_id, first_sequence=first_sequence
        )
        done = planned < slice_size
        if done:
            start_times.campaign_note_last_start(campaign)
        now = timezone.now()
        # updated_at: the dispatch tick takes a campaign unplanned and untouched for a while for one
        # whose planner was lost.
        Campaign.objects.filter(pk=campaign_id).update(planned_at=now if done else None, updated_at=now)
    if done and connection.vendor == "postgresql":
        # A million fresh rows leave the planner's statistics stale until autovacuum comes by;
        # dispatch's per-batch queries need them now.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Call._meta.db_table}")
    return done


def planner_locks(*, account_id: int, campaign_id: int) -> tuple[str, object] | None:
    """The row locks a planner's slice holds, account first: the campaign's (status, planned_at).

    One planner per account at a time. The dialling cap counts the calls the account's other
    campaigns hold; two campaigns launched at once would otherwise each miss the other's
    uncommitted slice and both call the same number. The account's row lock serialises their
    slices (always taken before the campaign's, so two planners cannot deadlock), and on
    PostgreSQL every statement after it sees what the other committed (READ COMMITTED).
    SQLite's IMMEDIATE transactions serialise writers already: there both locks are no-ops.

    The account's lock is FOR NO KEY UPDATE: it excludes another planner (the same lock) but not
    the FOR KEY SHARE that a foreign key to the account takes at commit (an outbox event that a
    transition inserts while it holds the campaign's row). A FOR UPDATE here deadlocked a start or a
    cancel against the planner, which by then waited for that campaign's row."""
    planner_account_lock(account_id=account_id)
    return planner_campaign_lock(campaign_id=campaign_id)


def planner_account_lock(*, account_id: int) -> None:
    Account.objects.select_for_update(no_key=True).filter(pk=account_id).first()


def planner_campaign_lock(*, campaign_id: int) -> tuple[str, object] | None:
    """The campaign's row: a cancel committed meanwhile stops the planner here, and splitting (FOR
    UPDATE) takes batch sequence numbers under the same lock. FOR KEY SHARE, so that a cancel or a
    start (a plain UPDATE of the row) never waits for a slice: a cancel that commits during one is
    settled by the dispatch tick, which finds the slice's batches open in a cancelled campaign."""
    if connection.vendor != "postgresql":
        return Campaign.objects.filter(pk=campaign_id).values_list("status", "planned_at").first()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT status, planned_at FROM {Campaign._meta.db_table} WHERE id = %s FOR KEY SHARE", [campaign_id]
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return row[0], row[1]


def planner_lock(campaign_id: int) -> bool:
    """One planner per campaign: a second chain (re-queued by the tick while the first was only
    slow) steps aside instead of queueing behind the locks. SQLite runs one writer at a time anyway.

    On PostgreSQL the same statement turns JIT compilation off for the rest of the planner's
    transaction (first calls and redials). A slice's per-contact probes (the do-not-call lists, the
    cap) are estimated at millions, past jit_optimize_above_cost, and compiling them took 0.66 s of
    each 2.5 s slice of 100,000 contacts: more than the probes themselves (0.25 s), and most of
    what a do-not-call list added to planning."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(CAST(%s AS INTEGER), CAST(%s AS INTEGER)), "
            "set_config('jit', 'off', true)",
            [PLANNER_LOCK, campaign_id],
        )
        return cursor.fetchone()[0]


def _plan_slice(
    campaign: Campaign, rules: eligibility.Rules, *, after_contact_id: int, first_sequence: int, limit: int
) -> int:
    """Create the slice's calls in one INSERT ... SELECT: each contact's skip reason comes from
    dialer.eligibility, the others are numbered in contact order and each run of `batch_size` goes
    into its batch. No call passes through Python. Returns the number of contacts in the slice."""
    contact_table = Contact._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*), MAX(id) FROM (SELECT id FROM {contact_table} WHERE contact_list_id = %s AND id > %s "
            f"ORDER BY id LIMIT %s) AS slice",
            [campaign.contact_list_id, after_contact_id, limit],
        )
        count, last_contact_id = cursor.fetchone()
    if not count:
        return 0
    size = campaign.batch_size
    # Batches for every contact of the slice; those the skipped calls leave empty are dropped below.
    batches = Batch.objects.bulk_create(
        [
            Batch(
                campaign=campaign, sequence=first_sequence + index, endpoint=campaign.flow.endpoint,
                call_count=min(size, count - index * size), status=Batch.Status.PLANNED,
            )
            for index in range((count + size - 1) // size)
        ]
    )
    call_table = Call._meta.db_table
    reason_sql, reason_params = eligibility.skip_reason_sql(rules)
    padded, batch_id, batch_params, join, join_params = numbered_into_batches_sql(
        campaign_id=campaign.pk, batches=batches, first_sequence=first_sequence, size=size
    )
    # MATERIALIZED: the reason is worked out once per contact, however often the rest reads it. The
    # calls to be made are numbered in contact order (n), and each run of `batch_size` goes into its
    # batch; a skipped call has no number and no batch.
    sql = (
        f"WITH judged AS MATERIALIZED ("
        f"  SELECT c.id, {reason_sql} AS reason FROM {contact_table} c "
        f"  WHERE c.contact_list_id = %s AND c.id > %s AND c.id <= %s) "
        f"INSERT INTO {call_table} (campaign_id, contact_id, batch_id, client_identifier, state, phonon_uuid, "
        f"provider_message, updated_at) "
        f"SELECT %s, numbered.id, {batch_id}, CAST(%s AS TEXT) || {padded}, "
        f"CASE WHEN numbered.reason IS NULL THEN %s ELSE %s END, '', COALESCE(numbered.reason, ''), %s "
        f"FROM (SELECT judged.id, judged.reason, CASE WHEN judged.reason IS NULL THEN "
        f"      SUM(CASE WHEN judged.reason IS NULL THEN 1 ELSE 0 END) "
        f"      OVER (ORDER BY judged.id ROWS UNBOUNDED PRECEDING) END AS n FROM judged) AS numbered "
        f"{join}ORDER BY numbered.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                *reason_params, campaign.contact_list_id, after_contact_id, last_contact_id,
                campaign.pk, *batch_params, f"{campaign.token}-", Call.State.PENDING, Call.State.SKIPPED,
                timezone.now(), *join_params,
            ],
        )
    # With no rule binding the account every call is pending: the counts are known without reading
    # the slice back (that read was a tenth of planning's time).
    skipped = 0 if rules.empty else Call.objects.filter(
        campaign=campaign, state=Call.State.SKIPPED, contact_id__gt=after_contact_id, contact_id__lte=last_contact_id
    ).count()
    # (One call a contact of the slice: SQLite gives no row count for an INSERT that opens with WITH.)
    tallies.calls_added(campaign_id=campaign.pk, counts={Call.State.PENDING: count - skipped,
                                                         Call.State.SKIPPED: skipped})
    if skipped:
        drop_unused_batches(campaign, count - skipped, first_sequence)
    return count


def drop_unused_batches(campaign: Campaign, eligible: int, first_sequence: int) -> None:
    """The skipped calls joined no batch: drop the batches left empty and count the last one right."""
    size = campaign.batch_size
    needed = (eligible + size - 1) // size
    Batch.objects.filter(campaign=campaign, sequence__gte=first_sequence + needed).delete()
    if needed:
        Batch.objects.filter(campaign=campaign, sequence=first_sequence + needed - 1).update(
            call_count=eligible - (needed - 1) * size
        )


def numbered_into_batches_sql(*, campaign_id: int, batches: list, first_sequence: int, size: int):
    """SQL pieces that put the `n`-th call to be made (numbered.n) into its batch, and write its
    contact id (numbered.id) zero-padded for the identifier: (padded, batch_id, batch_params, join,
    join_params). Shared by first calls and redials (dialer.redials.planning)."""
    if connection.vendor == "postgresql":
        # The contact id zero-padded (IDENTIFIER_DIGITS): identifiers sort as their calls were planned.
        padded = f"LPAD(CAST(numbered.id AS TEXT), {IDENTIFIER_DIGITS}, '0')"
        # The batch's id picked from the slice's own (fresh batches have no statistics yet, and a join
        # to them was planned as a scan of every batch for every call).
        batch_params = [[batch.pk for batch in batches], size]
        return padded, "(CAST(%s AS BIGINT[]))[1 + (numbered.n - 1) / %s]", batch_params, "", []
    padded = f"printf('%%0{IDENTIFIER_DIGITS}d', numbered.id)"
    join = f"LEFT JOIN {Batch._meta.db_table} b ON b.campaign_id = %s AND b.sequence = %s + (numbered.n - 1) / %s "
    return padded, "b.id", [], join, [campaign_id, first_sequence, size]
