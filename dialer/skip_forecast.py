"""What planning will skip, counted before the launch with planning's own checks.

The launch review shows these lines; planning then writes the same reasons on the skipped calls, in
the same order: a do-not-call list or the dialling cap first (dialer.eligibility, the same SQL), then
a number called within the look-back (dialer.recent_calls, the same groups, newest first), then a
row whose own start time is outside the window, when the manager chose to skip those.
"""

import datetime
from collections import Counter
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count

from campaigns.models import Contact, ContactList
from campaigns.windows import Window
from dialer import eligibility
from dialer.recent_calls import earlier_call_groups, numbers_of
from dialer.start_times import OUTSIDE_WINDOW_REASON


@dataclass(frozen=True)
class Skip:
    reason: str  # the words planning writes on each skipped call
    count: int

    @property
    def sentence(self) -> str:
        """`40 over the dialling cap (1 call per 1 day)`; the recent-call reasons are sentences already."""
        reason = self.reason.rstrip(".")
        return f"{self.count:,} {reason[0].lower()}{reason[1:]}"


def contact_list_skips(
    *,
    contact_list: ContactList,
    skip_called_days: int | None,
    now: datetime.datetime,
    zone: str,
    skip_outside: Window | None = None,
) -> list[Skip]:
    """One Skip per reason planning will give, in planning's order, most first within each check."""
    with transaction.atomic():
        _without_jit()
        return _skips(
            contact_list=contact_list, skip_called_days=skip_called_days, now=now, zone=zone, skip_outside=skip_outside
        )


def _without_jit() -> None:
    """On PostgreSQL, JIT compilation off for the rest of the transaction, as dialer.planning's
    planner_lock does: the per-contact probes (the do-not-call lists, the cap) are estimated at
    millions, and compiling them cost 1.35 s (124 functions, inlined and optimised) of a forecast
    for a list of 1,000,000 contacts, more than the do-not-call probes themselves."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('jit', 'off', true)")


def _skips(*, contact_list, skip_called_days, now, zone, skip_outside) -> list[Skip]:
    account = contact_list.flow.account
    contacts = Contact.objects.filter(contact_list=contact_list)
    skips = []
    rules = eligibility.rules_for(account=account)
    if not rules.empty:
        skips += _rule_skips(contact_list, rules)
        sql, params = eligibility.skip_reason_sql(rules, contact=Contact._meta.db_table)
        contacts = contacts.extra(where=[f"({sql}) IS NULL"], params=params)
    if skip_called_days is not None:
        since = now - datetime.timedelta(days=skip_called_days)
        for group in earlier_call_groups(account_id=account.pk, since=since, zone=zone):
            numbers = numbers_of(group, since=since, zone=zone)
            count = contacts.filter(primary_number__in=numbers).count()
            if count:
                skips.append(Skip(group.reason, count))
            contacts = contacts.exclude(primary_number__in=numbers)
    if skip_outside is not None:
        outside = sum(n for start_at, n in _start_counts(contacts) if not skip_outside.contains(start_at))
        if outside:
            skips.append(Skip(OUTSIDE_WINDOW_REASON, outside))
    return skips


def _rule_skips(contact_list: ContactList, rules: eligibility.Rules) -> list[Skip]:
    sql, params = eligibility.skip_reason_sql(rules, contact="c")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT reason, COUNT(*) FROM (SELECT {sql} AS reason FROM {Contact._meta.db_table} c "
            f"WHERE c.contact_list_id = %s) AS judged WHERE reason IS NOT NULL GROUP BY reason",
            [*params, contact_list.pk],
        )
        counted = Counter(dict(cursor.fetchall()))
    return [Skip(reason, count) for reason, count in counted.most_common()]


def _start_counts(contacts):
    return contacts.filter(start_at__isnull=False).values_list("start_at").annotate(n=Count("id")).order_by()
