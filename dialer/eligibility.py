"""Who may be called: the do-not-call lists and the account's dialling cap, decided in the database.

One place, asked twice. Planning (dialer.planning) gives every call it creates its state here: a
contact whose number is on a list that binds the account, or whose number the account already
called (or is about to call) as often as its cap allows, gets a SKIPPED call with the reason and
never joins a batch. When a batch's body is frozen (dialer.dispatch), the lists are asked
again, so a number listed after planning is left out of the request; a body that went back unsent
and is built again asks the cap again too. A batch whose body may have reached the provider is
never touched: only its same bytes may ever be sent.

Both checks are anti-joins in SQL over indexes (the list's primary key, Contact.primary_number,
Call's (campaign, contact) key); nothing of a list is ever loaded into Python.
"""

import datetime
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from campaigns.donotcall.lists import dnc_lists_binding, dnc_today
from campaigns.models import Campaign, Contact, DoNotCallEntry
from dialer import settling, tallies
from dialer.claims import LostClaim, claimed
from dialer.models import Batch, Call
from flows.models import Account

# Calls that count against the cap: these when sent inside the cap's window, and every pending one.
CAP_STATES = (Call.State.PLACED, Call.State.ACCEPTED_UNKNOWN, Call.State.MAYBE_PLACED)
ALL_SKIPPED = "Not sent: every call of this batch was put on a do-not-call list after it was planned."
ALL_SKIPPED_OR_OVER_CAP = (
    "Not sent: every call of this batch was put on a do-not-call list, or went over the dialling cap, "
    "after it was planned."
)


def on_list_reason(name: str) -> str:
    return f"on the do-not-call list ({name})"


def over_cap_reason(calls: int, days: int) -> str:
    return f"over the dialling cap ({calls} call{'s' if calls != 1 else ''} per {days} day{'s' if days != 1 else ''})"


@dataclass(frozen=True)
class Rules:
    """What binds one account right now, ready to be written into SQL."""

    lists: dict[int, str] = field(default_factory=dict)  # list id -> the skip reason naming it
    today: datetime.date | None = None
    cap_calls: int = 0
    cap_reason: str = ""
    cap_since: datetime.datetime | None = None
    # The account's other campaigns that may hold calls counting against the cap; none: nothing to count.
    cap_campaign_ids: tuple[int, ...] = ()
    # Their contact lists: a contact of any other list cannot be one of their calls.
    cap_list_ids: tuple[int, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.lists and not self.cap_campaign_ids


def rules_for(*, account: Account, exclude_campaign_id: int | None = None, cap: bool = True) -> Rules:
    lists = {
        dnc_list.pk: on_list_reason(dnc_list.name)
        for dnc_list in dnc_lists_binding(account_id=account.pk).order_by("pk")
        if DoNotCallEntry.objects.filter(dnc_list=dnc_list).exists()
    }
    if not cap:
        return Rules(lists=lists, today=dnc_today())
    now = timezone.now()
    since = now - datetime.timedelta(days=account.cap_days)
    # A campaign that finished before the window opened cannot have placed a call inside it.
    campaigns = dict(
        Campaign.objects.filter(flow__account=account)
        .filter(Q(finished_at__isnull=True) | Q(finished_at__gte=since))
        .exclude(pk=exclude_campaign_id)
        .values_list("pk", "contact_list_id")
    )
    return Rules(
        lists=lists, today=dnc_today(), cap_calls=account.calls_per_number,
        cap_reason=over_cap_reason(account.calls_per_number, account.cap_days), cap_since=since,
        cap_campaign_ids=tuple(campaigns), cap_list_ids=tuple(sorted(set(campaigns.values()))),
    )


def _in(values) -> str:
    return ", ".join(["%s"] * len(values))


def _listed_sql(rules: Rules, contact: str) -> tuple[str, list]:
    """The reason naming a list that holds one of the contact's numbers, or NULL. (A number on
    several lists names any one of them: sorting them for each contact cost a third of the check.)"""
    entry_table = DoNotCallEntry._meta.db_table
    ids = list(rules.lists)
    reason = "CASE e.dnc_list_id " + " ".join(["WHEN %s THEN %s"] * len(ids)) + " END"
    reason_params = [value for pair in rules.lists.items() for value in pair]
    where = f"e.dnc_list_id IN ({_in(ids)}) AND (e.expires_on IS NULL OR e.expires_on > %s)"
    where_params = [*ids, rules.today]
    if connection.vendor == "postgresql":
        has_alternates = f"jsonb_array_length({contact}.numbers) > 1"
        alternates = (
            f"jsonb_array_elements_text({contact}.numbers) WITH ORDINALITY AS n(value, position) "
            f"CROSS JOIN {entry_table} e WHERE n.position > 1 AND e.number = CAST(n.value AS BIGINT)"
        )
    else:
        # numbers is a JSON array of digit strings: a comma means more than one. CROSS JOIN keeps
        # SQLite probing the key with each number (its planner would scan the list otherwise).
        has_alternates = f"instr({contact}.numbers, ',') > 0"
        alternates = (
            f"json_each({contact}.numbers) AS n CROSS JOIN {entry_table} e "
            f"WHERE n.key > 0 AND e.number = CAST(n.value AS INTEGER)"
        )
    # tel1 first, through the primary key; the alternates only for the contacts that have some.
    sql = (
        f"COALESCE("
        f"(SELECT {reason} FROM {entry_table} e WHERE {where} "
        f" AND e.number = CAST({contact}.primary_number AS BIGINT) LIMIT 1), "
        f"CASE WHEN {has_alternates} THEN (SELECT {reason} FROM {alternates} AND {where} LIMIT 1) END)"
    )
    return sql, [*reason_params, *where_params, *reason_params, *where_params]


def _over_cap_sql(rules: Rules, contact: str) -> tuple[str, list]:
    """The cap's reason if the account's other campaigns hold `cap_calls` calls to the contact's tel1
    that are pending or were sent since `cap_since`, else NULL. Contacts with the same tel1 are found
    through Contact.primary_number's index, their calls through Call's (campaign, contact) key."""
    ids = list(rules.cap_campaign_ids)
    contact_table, campaign_table, call_table = (
        Contact._meta.db_table, Campaign._meta.db_table, Call._meta.db_table,
    )
    # The order is forced: tel1's index first, then the campaigns of each list holding it, then the
    # call. Left to themselves, SQLite starts from the campaigns, and PostgreSQL (its statistics
    # stale after a large import) from the list's index, and either reads a whole list per contact.
    # CROSS JOIN fixes SQLite's order; a unary + makes a column unusable for an index lookup.
    # The same number in a list none of those campaigns calls (the contact's own list, most often)
    # is dropped before its campaigns are looked up: that probe was most of the check's cost.
    lists = list(rules.cap_list_ids)
    sql = (
        f"CASE WHEN (SELECT COUNT(*) FROM (SELECT 1 FROM {contact_table} c2 "
        f"  CROSS JOIN {campaign_table} k CROSS JOIN {call_table} x "
        f"  WHERE c2.primary_number = {contact}.primary_number AND +c2.contact_list_id IN ({_in(lists)}) "
        f"  AND k.contact_list_id = +c2.contact_list_id AND +k.id IN ({_in(ids)}) "
        f"  AND x.campaign_id = k.id AND x.contact_id = c2.id "
        f"  AND (x.state = %s OR (x.state IN ({_in(CAP_STATES)}) AND x.updated_at >= %s)) LIMIT %s) AS counted) >= %s "
        f"THEN %s END"
    )
    params = [
        *lists, *ids, Call.State.PENDING, *CAP_STATES, connection.ops.adapt_datetimefield_value(rules.cap_since),
        rules.cap_calls, rules.cap_calls, rules.cap_reason,
    ]
    return sql, params


def skip_reason_sql(rules: Rules, *, contact: str = "c") -> tuple[str, list]:
    """An SQL expression over the contact row `contact`: why it may not be called, or NULL."""
    parts = []
    if rules.lists:
        parts.append(_listed_sql(rules, contact))
    if rules.cap_campaign_ids:
        parts.append(_over_cap_sql(rules, contact))
    if not parts:
        return "CAST(NULL AS TEXT)", []
    if len(parts) == 1:
        return parts[0]
    # The list's reason first: it holds however long one waits.
    return f"COALESCE({parts[0][0]}, {parts[1][0]})", [*parts[0][1], *parts[1][1]]


def contact_skip_reason(*, contact: Contact, account: Account) -> str | None:
    """Why this contact may not be called now (lists and cap), for a check before a campaign exists."""
    rules = rules_for(account=account)
    if rules.empty:
        return None
    sql, params = skip_reason_sql(rules)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql} FROM {Contact._meta.db_table} c WHERE c.id = %s", [*params, contact.pk])
        return cursor.fetchone()[0]


def batch_drop_listed_calls(*, batch: Batch, token: str, cap: bool = False) -> int:
    """Before a batch's body is built: its calls whose numbers are now on a list (or, with `cap`,
    over the account's dialling cap: a body built again after it went back unsent) end skipped and
    leave the batch. Returns how many calls are left to send; with none left the batch is finished
    (cancelled, with the reason) and its claim let go."""
    rules = rules_for(account=batch.campaign.flow.account, exclude_campaign_id=batch.campaign_id, cap=cap)
    if rules.empty:
        return batch.call_count
    sql, params = skip_reason_sql(rules)
    with transaction.atomic():
        # Under the claim, so that a worker whose lease ran out changes nothing.
        if not claimed(batch.pk, token).update(updated_at=timezone.now()):
            raise LostClaim()
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT x.id, {sql} FROM {Call._meta.db_table} x "
                f"JOIN {Contact._meta.db_table} c ON c.id = x.contact_id WHERE x.batch_id = %s AND x.state = %s",
                [*params, batch.pk, Call.State.PENDING],
            )
            rows = cursor.fetchall()  # one batch: at most 500
        dropped = {}
        for call_id, reason in rows:
            if reason is not None:
                dropped.setdefault(reason, []).append(call_id)
        if not dropped:
            return batch.call_count
        for reason, call_ids in dropped.items():
            skipped = Call.objects.filter(pk__in=call_ids, state=Call.State.PENDING).update(
                state=Call.State.SKIPPED, provider_message=reason, batch=None, updated_at=timezone.now()
            )
            tallies.calls_moved(campaign_id=batch.campaign_id, shard=batch.pk,
                                moves={(Call.State.PENDING, Call.State.SKIPPED): skipped})
        left = Call.objects.filter(batch=batch).count()
        if left:
            Batch.objects.filter(pk=batch.pk).update(call_count=left)
        else:
            Batch.objects.filter(pk=batch.pk).update(
                status=Batch.Status.CANCELLED, response_message=ALL_SKIPPED_OR_OVER_CAP if cap else ALL_SKIPPED,
                completed_at=timezone.now(), claim_token="", lease_until=None,
            )
    batch.call_count = left or batch.call_count
    if not left:
        settling.campaign_complete_if_done(campaign_id=batch.campaign_id)
    return left
