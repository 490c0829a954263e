"""Plan the redials a campaign's rules ask for: a new Call for each contact whose last call ended
with an outcome the rules call again, once the delay has passed, while attempts are left.

Run by the dispatch tick for running campaigns inside their calling window only (never while
paused, cancelled or outside the window). Each redial is a new call with its own client-identifier
("<token>-<contact id, 12 digits>-<attempt>"), judged like a first call in the same statement that
creates it (dialer.eligibility: the do-not-call lists, and the dialling cap counting the contact's
earlier attempts as well as the account's other campaigns); one that may not be made is a SKIPPED
call with the reason. Its batch is frozen and sent like any other, so the do-not-call lists are
asked again at freeze. A contact's next attempt exists only once its previous call has an outcome,
so two calls of one contact are never in flight at once; the unique (campaign, contact, attempt)
key and the planner's locks make a redial planned twice impossible.
"""

import dataclasses
import datetime
import json

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from campaigns.models import Campaign, Contact
from campaigns.redial_rules import RedialRules, campaign_rules
from campaigns.windows import campaign_in_window
from dialer import eligibility, tallies
from dialer.models import Batch, Call
from dialer.planning import PLAN_SLICE, drop_unused_batches, numbered_into_batches_sql, planner_lock
from dialer.redials.waiting import LATE_REPORTS
from flows.models import Account


@dataclasses.dataclass
class Planned:
    redials: int = 0
    skipped: int = 0
    more: bool = False  # a slice was full: run again at once, passing this as `resume`
    # Where the next round goes on: for each attempt whose slice was full, the last contact it
    # planned. The attempts not named were read to their end. Valid while the rules, and the
    # point the campaign's redials were checked until, are as this series found them.
    after: dict[int, int] = dataclasses.field(default_factory=dict)
    cutoff: datetime.datetime | None = None
    rules: RedialRules | None = None
    checked_until: datetime.datetime | None = None

    def goes_on(self, rules: RedialRules, checked_until) -> bool:
        return self.more and self.rules == rules and self.checked_until == checked_until


def campaign_plan_redials(
    *, campaign_id: int, now: datetime.datetime | None = None, limit: int = PLAN_SLICE, resume: Planned | None = None
) -> Planned:
    """Plan the campaign's due redials, up to `limit` per attempt number, in one transaction.

    `resume`: the previous round's result, when it had `more`. The next round reads on after the
    contacts that round planned, with the same cutoff, instead of reading every earlier call (and
    probing each for its redial) again: a million contacts' redials cost ten such reads, each of all
    the campaign's calls, where one suffices. A contact the series passed that became due meanwhile
    (an outcome that committed late) is planned by the next tick, which reads LATE_REPORTS back
    from the cutoff recorded here, as for one that commits after the last round."""
    now = now or timezone.now()
    planned = Planned()
    campaign = Campaign.objects.select_related("flow__account").filter(pk=campaign_id).first()
    if campaign is None or campaign.status != Campaign.Status.RUNNING or not campaign_rules(campaign).active:
        return planned
    if not campaign_in_window(campaign, now):
        return planned  # planned inside the window only: a redial planned at night would wait as a batch
    with transaction.atomic():
        if not planner_lock(campaign_id):  # (which also turns JIT off for this transaction)
            return planned  # the first-call planner or another redial planner is at it
        # The same locks, in the same order, as first-call planning: the cap counts what the
        # account's other planners committed before us.
        Account.objects.select_for_update().filter(pk=campaign.flow.account_id).first()
        campaign = Campaign.objects.select_for_update().select_related("flow__account").filter(pk=campaign_id).first()
        rules = campaign_rules(campaign) if campaign else None
        if campaign is None or campaign.status != Campaign.Status.RUNNING or not rules.active:
            return planned
        cutoff = now - datetime.timedelta(seconds=rules.after_seconds)
        after = None  # every attempt, from its first contact
        if resume is not None and resume.goes_on(rules, campaign.redials_checked_until):
            cutoff, after = resume.cutoff, resume.after
        since = campaign.redials_checked_until - LATE_REPORTS if campaign.redials_checked_until else None
        if since is not None and since > cutoff:
            return planned
        planned.cutoff, planned.rules, planned.checked_until = cutoff, rules, campaign.redials_checked_until
        cap = eligibility.rules_for(account=campaign.flow.account, exclude_campaign_id=campaign.pk)
        sequence = (
            Batch.objects.filter(campaign=campaign).order_by("-sequence").values_list("sequence", flat=True).first()
            or 0
        ) + 1
        for attempt in range(2, rules.max_attempts + 1):
            if after is not None and attempt not in after:
                continue  # read to its end earlier in this series
            made, skipped, batches, last = _plan_attempt(
                campaign,
                rules.outcomes,
                _cap_for_attempt(cap, campaign.flow.account, attempt),
                attempt=attempt,
                since=since,
                cutoff=cutoff,
                after_contact_id=(after or {}).get(attempt, 0),
                first_sequence=sequence,
                limit=limit,
            )
            planned.redials += made
            planned.skipped += skipped
            if last is not None:
                planned.after[attempt] = last
            sequence += batches
        planned.more = bool(planned.after)
        if not planned.more:
            Campaign.objects.filter(pk=campaign_id).update(redials_checked_until=cutoff)
    return planned


def _cap_for_attempt(cap: eligibility.Rules, account: Account, attempt: int) -> eligibility.Rules:
    """The dialling cap for a contact's `attempt`-th call: its earlier attempts count against it."""
    return dataclasses.replace(cap, cap_calls=account.calls_per_number - (attempt - 1))


def probe_each_row() -> str:
    """Written into a NOT EXISTS that must stay a probe of the (campaign, contact, attempt) key per
    row. On PostgreSQL, OFFSET 0 keeps it from being turned into an anti-join, which the statistics
    of a freshly written attempt (1 row, while it holds thousands) planned as a scan of the whole
    table for every call: minutes instead of a second for 100,000 contacts."""
    return " OFFSET 0" if connection.vendor == "postgresql" else ""


def _due_sql(outcomes, *, attempt: int, since, cutoff, after_contact_id: int) -> tuple[str, list]:
    """The contacts after `after_contact_id` whose call `attempt - 1` ended with one of `outcomes` by
    `cutoff` and that have no call `attempt` yet, in contact order."""
    call_table = Call._meta.db_table
    PROBE = probe_each_row()  # noqa: N806 - read as a piece of SQL
    window = "AND x.outcome_at > %s " if since is not None else ""
    outcome = f"x.outcome IN ({', '.join(['%s'] * len(outcomes))})"
    if since is None:
        # Every call may be due: read along the (campaign, contact, attempt) key in contact order, so
        # that a slice stops after its own contacts. IS TRUE hides the test from the partial
        # call_redial_due_idx (in outcome_at order), which the planner's estimates chose for a first
        # slice: every call of the campaign read, probed and sorted to keep 100,000.
        outcome = f"({outcome}) IS TRUE"
    sql = (
        f"SELECT x.contact_id AS id FROM {call_table} x WHERE x.campaign_id = %s AND x.contact_id > %s "
        f"AND {outcome} AND x.outcome_at <= %s {window}"
        f"AND x.attempt = %s AND NOT EXISTS (SELECT 1 FROM {call_table} y WHERE y.campaign_id = x.campaign_id "
        f"AND y.contact_id = x.contact_id AND y.attempt = %s{PROBE}) "
        f"ORDER BY x.contact_id LIMIT %s"
    )
    stamp = connection.ops.adapt_datetimefield_value
    params = [
        after_contact_id, *outcomes, stamp(cutoff), *([stamp(since)] if since is not None else []), attempt - 1,
        attempt,
    ]
    return sql, params


def _contacts_of_sql(ids: list[int]) -> tuple[str, list]:
    """A FROM clause naming the contacts of `ids` (in id order) as `c`, each looked up by its primary key. On
    PostgreSQL OFFSET 0 keeps it a lookup per id: a join (or `= ANY`) was planned as a scan of the
    whole contact table, every list's millions, for each slice of 100,000."""
    table = Contact._meta.db_table
    if connection.vendor == "postgresql" and ids[-1] - ids[0] < 2 * len(ids):
        # Dense (a list's contacts are numbered together, and most of a slice is due): one read along
        # the key from the first id to the last, each row kept if its id is in the array, which
        # PostgreSQL hashes once (the array is a constant: parameters are bound on the client).
        # Measured for 100,000 due contacts: 0.10 s and 1,700 pages, against 0.32 s and 400,000
        # pages for a lookup per id. IS TRUE keeps the array out of the index condition.
        return (
            f"(SELECT * FROM {table} one WHERE one.id BETWEEN %s AND %s "
            f"AND (one.id = ANY(CAST(%s AS BIGINT[]))) IS TRUE OFFSET 0) AS c",
            [ids[0], ids[-1], ids],
        )
    if connection.vendor == "postgresql":
        return (
            f"unnest(CAST(%s AS BIGINT[])) AS due(id) CROSS JOIN LATERAL "
            f"(SELECT * FROM {table} one WHERE one.id = due.id OFFSET 0) AS c",
            [ids],
        )
    return f"{table} c WHERE c.id IN (SELECT value FROM json_each(%s))", [json.dumps(ids)]


def _plan_attempt(
    campaign: Campaign,
    outcomes,
    cap: eligibility.Rules,
    *,
    attempt: int,
    since,
    cutoff,
    after_contact_id: int,
    first_sequence: int,
    limit: int,
) -> tuple[int, int, int, int | None]:
    """Create this attempt's due redials in one INSERT ... SELECT, judged and cut into batches as
    first calls are (dialer.planning). Returns (calls made, of which skipped, batches used, the last
    contact planned if more are due beyond `limit`, else None)."""
    due_sql, due_params = _due_sql(
        outcomes, attempt=attempt, since=since, cutoff=cutoff, after_contact_id=after_contact_id
    )
    # The due contacts read once (one more than the slice, to know whether more wait beyond it),
    # then inserted by their ids: the per-row probes are not run twice, and what is inserted is
    # exactly what was counted (each statement reads afresh).
    with connection.cursor() as cursor:
        cursor.execute(due_sql, [campaign.pk, *due_params, limit + 1])
        due_ids = [row[0] for row in cursor.fetchall()]
    more, due_ids = len(due_ids) > limit, due_ids[:limit]
    count = len(due_ids)
    if not count:
        return 0, 0, 0, None
    size = campaign.batch_size
    batches = Batch.objects.bulk_create(
        [
            Batch(
                campaign=campaign,
                sequence=first_sequence + index,
                endpoint=campaign.flow.endpoint,
                call_count=min(size, count - index * size),
                status=Batch.Status.PLANNED,
            )
            for index in range((count + size - 1) // size)
        ]
    )
    if cap.cap_calls <= 0:
        # Its earlier attempts alone reach the cap: every contact of this attempt is over it.
        listed_sql, listed_params = eligibility.skip_reason_sql(dataclasses.replace(cap, cap_campaign_ids=()))
        reason_sql, reason_params = f"COALESCE({listed_sql}, %s)", [*listed_params, cap.cap_reason]
    else:
        reason_sql, reason_params = eligibility.skip_reason_sql(cap)
    call_table = Call._meta.db_table
    padded, batch_id, batch_params, join, join_params = numbered_into_batches_sql(
        campaign_id=campaign.pk, batches=batches, first_sequence=first_sequence, size=size
    )
    contacts_sql, contacts_params = _contacts_of_sql(due_ids)
    sql = (
        f"WITH judged AS MATERIALIZED (SELECT c.id, {reason_sql} AS reason FROM {contacts_sql}) "
        f"INSERT INTO {call_table} (campaign_id, contact_id, attempt, batch_id, client_identifier, state, "
        f"phonon_uuid, provider_message, updated_at) "
        f"SELECT %s, numbered.id, %s, {batch_id}, CAST(%s AS TEXT) || {padded} || CAST(%s AS TEXT), "
        f"CASE WHEN numbered.reason IS NULL THEN %s ELSE %s END, '', COALESCE(numbered.reason, ''), %s "
        f"FROM (SELECT judged.id, judged.reason, CASE WHEN judged.reason IS NULL THEN "
        f"      SUM(CASE WHEN judged.reason IS NULL THEN 1 ELSE 0 END) "
        f"      OVER (ORDER BY judged.id ROWS UNBOUNDED PRECEDING) END AS n FROM judged) AS numbered "
        f"{join}ORDER BY numbered.id"
    )
    written = timezone.now()  # every call of this statement carries it: its skipped ones are found by it
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                *reason_params,
                *contacts_params,
                campaign.pk,
                attempt,
                *batch_params,
                f"{campaign.token}-",
                f"-{attempt}",
                Call.State.PENDING,
                Call.State.SKIPPED,
                connection.ops.adapt_datetimefield_value(written),
                *join_params,
            ],
        )
        # SQLite gives no row count for an INSERT that opens with WITH; there writers take turns, so
        # nothing changed between the count and the insert.
        inserted = cursor.rowcount if connection.vendor == "postgresql" else count
    skipped = 0
    if not cap.empty or cap.cap_calls <= 0:
        skipped = Call.objects.filter(
            campaign=campaign, attempt=attempt, state=Call.State.SKIPPED, updated_at=written
        ).count()
    last = due_ids[-1] if more else None
    if inserted != count:
        # An outcome applied between the count and the insert (PostgreSQL reads afresh per
        # statement): the batches are counted again from their calls.
        return (*_mend(campaign, batches, attempt, inserted, skipped, first_sequence), last)
    tallies.calls_added(
        campaign_id=campaign.pk, counts={Call.State.PENDING: count - skipped, Call.State.SKIPPED: skipped}
    )
    if skipped:
        drop_unused_batches(campaign, count - skipped, first_sequence)
    return count, skipped, (count - skipped + size - 1) // size, last


def _mend(campaign, batches, attempt: int, inserted: int, skipped: int, first_sequence: int) -> tuple[int, int, int]:
    """Batches counted from the calls they hold; a call the numbering left without one gets a new batch."""
    counts = dict(
        Call.objects.filter(batch__in=batches).values("batch_id").annotate(n=Count("pk")).values_list("batch_id", "n")
    )
    for batch in batches:
        if counts.get(batch.pk):
            Batch.objects.filter(pk=batch.pk).update(call_count=counts[batch.pk])
        else:
            batch.delete()
    orphans = list(
        Call.objects.filter(campaign=campaign, attempt=attempt, state=Call.State.PENDING, batch__isnull=True)
        .order_by("contact_id")
        .values_list("pk", flat=True)
    )
    sequence = first_sequence + len(batches)
    for start in range(0, len(orphans), campaign.batch_size):
        chunk = orphans[start : start + campaign.batch_size]
        batch = Batch.objects.create(
            campaign=campaign,
            sequence=sequence,
            endpoint=campaign.flow.endpoint,
            call_count=len(chunk),
            status=Batch.Status.PLANNED,
        )
        Call.objects.filter(pk__in=chunk).update(batch=batch)
        sequence += 1
    tallies.calls_added(
        campaign_id=campaign.pk, counts={Call.State.PENDING: inserted - skipped, Call.State.SKIPPED: skipped}
    )
    return inserted, skipped, sequence - first_sequence


def running_campaigns_plan_redials(*, now: datetime.datetime | None = None, rounds: int = 10) -> int:
    """The dispatch tick's step: plan the due redials of every running campaign with rules (their
    batches are pumped by the same tick). Returns how many calls were made."""
    made = 0
    for campaign_id in Campaign.objects.filter(status=Campaign.Status.RUNNING, max_attempts__gt=1).values_list(
        "pk", flat=True
    ):
        planned = None
        for _ in range(rounds):
            planned = campaign_plan_redials(campaign_id=campaign_id, now=now, resume=planned)
            made += planned.redials
            if not planned.more:
                break
    return made
