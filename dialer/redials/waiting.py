"""What a campaign's redial rules still wait for: redials due later, and outcomes not yet in.

A campaign with rules completes only when every contact is answered, out of attempts, skipped or
given up (dialer.settling asks `campaign_redials_settled`); until then its status says how many
redials wait and when the next ones go (`redials_waiting`).
"""

import datetime
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from campaigns.clock import zoned_time
from campaigns.models import Campaign
from campaigns.redial_rules import campaign_rules
from campaigns.windows import campaign_in_window, next_window_opening
from dialer.models import Call

# Outcomes are applied in short transactions; one that commits late carries an outcome_at a little
# behind the planner's last look. The planner reads this far back each time.
LATE_REPORTS = datetime.timedelta(minutes=10)


# The partial indexes' conditions written as literals (constants of the model's choices, never user
# input): SQLite uses a partial index only when the query's WHERE holds the index's own terms, which a
# bound parameter never matches (3-4 s a count at a million contacts called three times, instead of a
# short index range). PostgreSQL reads them as before.
# call_redial_due_idx, then call_awaiting_outcome_idx (tests/dialer/test_redials.py checks both plans):
REDIAL_DUE_TERM = "x.outcome IN ('busy', 'no_answer', 'failed', 'unreachable', 'rejected')"
AWAITING_TERMS = "outcome = 'unknown' AND outcome_note = '' AND NOT (phonon_uuid = '')"


@dataclass(frozen=True)
class RedialsWaiting:
    redials: int = 0  # contacts whose next attempt is due now or later
    next_at: datetime.datetime | None = None  # when the next of them may go (window included)
    awaiting_outcome: int = 0  # calls sent whose outcome may still ask for a redial

    @property
    def any(self) -> bool:
        return bool(self.redials or self.awaiting_outcome)


def _waiting_sql(campaign: Campaign, rules) -> tuple[str, list]:
    """Calls whose outcome the rules call again, with attempts left and no next attempt yet. Only
    outcomes since the planner's last look can be such (it planned every older one): the read
    stays a short range of call_redial_due_idx however large the campaign."""
    table = Call._meta.db_table
    pg = connection.vendor == "postgresql"  # OFFSET 0: a probe per row, as in dialer.redials.planning
    since, since_params = "", []
    if campaign.redials_checked_until is not None:
        since = "AND x.outcome_at > %s "
        since_params = [connection.ops.adapt_datetimefield_value(campaign.redials_checked_until - LATE_REPORTS)]
    sql = (
        f"FROM {table} x WHERE x.campaign_id = %s AND {REDIAL_DUE_TERM} "
        f"AND x.outcome IN ({', '.join(['%s'] * len(rules.outcomes))}) "
        f"{since}AND x.attempt < %s AND NOT EXISTS (SELECT 1 FROM {table} y WHERE y.campaign_id = x.campaign_id "
        f"AND y.contact_id = x.contact_id AND y.attempt = x.attempt + 1{' OFFSET 0' if pg else ''})"
    )
    return sql, [campaign.pk, *rules.outcomes, *since_params, rules.max_attempts]


def _awaiting_sql(campaign: Campaign, rules) -> tuple[str, list]:
    sql = f"FROM {Call._meta.db_table} WHERE campaign_id = %s AND {AWAITING_TERMS} AND attempt < %s"
    return sql, [campaign.pk, rules.max_attempts]


def _awaiting_outcome(campaign: Campaign, rules) -> int:
    """Placed calls with attempts left and no outcome yet, nor given up by the reconciler (read
    along call_awaiting_outcome_idx, the campaign's calls without an outcome by attempt)."""
    sql, params = _awaiting_sql(campaign, rules)
    sql = f"SELECT COUNT(*) {sql}"
    if connection.vendor != "postgresql":
        return _count(sql, params)
    # PostgreSQL estimates this count as the campaign's share of every call without an outcome (those
    # of finished campaigns never reported included: hundreds of thousands where a few are read), so
    # it compiled the count (JIT) and started parallel workers: 40 to 700 ms on the live page's every
    # poll for an answer read from a few index pages. Both off for this one statement.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        return _count(sql, params)


def _count(sql: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def redials_waiting(campaign: Campaign, *, now: datetime.datetime | None = None) -> RedialsWaiting:
    rules = campaign_rules(campaign)
    if not rules.active or campaign.is_final:
        return RedialsWaiting()
    now = now or timezone.now()
    sql, params = _waiting_sql(campaign, rules)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*), MIN(x.outcome_at) {sql}", params)
        count, first = cursor.fetchone()
    next_at = None
    if count:
        if isinstance(first, str):  # SQLite hands back text for an aggregate
            first = datetime.datetime.fromisoformat(first)
        if first is not None and timezone.is_naive(first):
            first = timezone.make_aware(first, datetime.UTC)
        next_at = max(first + datetime.timedelta(seconds=rules.after_seconds), now)
        if not campaign_in_window(campaign, next_at):
            next_at = next_window_opening(campaign, next_at)
    return RedialsWaiting(redials=count, next_at=next_at, awaiting_outcome=_awaiting_outcome(campaign, rules))


def campaign_redials_settled(*, campaign_id: int) -> bool:
    """True when the campaign's rules ask for nothing more: no redial waits, and no call sent with
    attempts left still waits for the outcome that would decide it."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return True
    rules = campaign_rules(campaign)
    if not rules.active:
        return True
    if _awaiting_outcome(campaign, rules):
        return False
    sql, params = _waiting_sql(campaign, rules)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 {sql} LIMIT 1", params)
        return cursor.fetchone() is None


def waiting_words(waiting: RedialsWaiting, zone: str) -> str:
    """`12 redials wait; the next go at 14:05 IST` (empty when nothing waits)."""
    parts = []
    if waiting.redials:
        plural = "s wait" if waiting.redials != 1 else " waits"
        when = f"; the next go {zoned_time(waiting.next_at, zone)}" if waiting.next_at else ""
        parts.append(f"{waiting.redials:,} redial{plural}{when}")
    if waiting.awaiting_outcome:
        plural = "s" if waiting.awaiting_outcome != 1 else ""
        parts.append(f"{waiting.awaiting_outcome:,} call{plural} sent wait for an outcome that may ask for a redial")
    return ". ".join(parts)


@dataclass(frozen=True)
class RedialsPanel:
    """What the campaign page shows of the rules: the rules in words, and what waits."""

    rules_words: str
    waiting: RedialsWaiting
    waiting_text: str


def redials_panel(campaign: Campaign, *, now: datetime.datetime | None = None) -> RedialsPanel | None:
    rules = campaign_rules(campaign)
    if not rules.active:
        return None
    waiting = redials_waiting(campaign, now=now)
    return RedialsPanel(
        rules_words=rules.words(), waiting=waiting, waiting_text=waiting_words(waiting, campaign.timezone)
    )
