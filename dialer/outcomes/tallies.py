"""Stored outcome counts per campaign (OutcomeTally, KeyTally) and the summary every screen reads.

Changed only by the functions here, called inside the transaction that moves the calls, so a
rollback takes the count back with them. "unknown" is never stored: it is what the provider
accepted minus what has an outcome. `outcomes_recount` rebuilds them from the calls.
"""

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count, Q, Sum

from dialer import tallies as call_tallies
from dialer.models import Call, CallOutcome, KeyTally, OutcomeTally
from phonon.causes import OUTCOME_WORDS, Outcome

SHARDS = 16
GIVEN_UP = "given_up"  # calls the reconciler stopped pulling: their outcome stays unknown
REPORTED = [choice for choice in CallOutcome.values if choice != CallOutcome.UNKNOWN]
# The summary's order, and the keys of `launch_campaign --wait`'s "outcomes".
SUMMARY_KEYS = ("answered", "busy", "no_answer", "rejected", "unreachable", "failed", "unknown")


class Delta:
    """Changes to one campaign's tallies, gathered while applying and written at once."""

    def __init__(self):
        self.outcomes = defaultdict(lambda: [0, 0])  # (campaign, outcome) -> [calls, talk_ms]
        self.keys = Counter()  # (campaign, key) -> calls

    def move(self, campaign_id: int, *, old: str, new: str, old_talk: int, new_talk: int) -> None:
        if old and old != CallOutcome.UNKNOWN:
            self.outcomes[(campaign_id, old)][0] -= 1
            self.outcomes[(campaign_id, old)][1] -= old_talk
        if new and new != CallOutcome.UNKNOWN:
            self.outcomes[(campaign_id, new)][0] += 1
            self.outcomes[(campaign_id, new)][1] += new_talk

    def keys_changed(self, campaign_id: int, *, old: str, new: str) -> None:
        for key in set(old) - set(new):
            self.keys[(campaign_id, key)] -= 1
        for key in set(new) - set(old):
            self.keys[(campaign_id, key)] += 1

    def write(self, *, shard: int = 0) -> None:
        shard %= SHARDS
        outcome_rows = [
            (campaign, outcome, shard, n, talk)
            for (campaign, outcome), (n, talk) in sorted(self.outcomes.items())
            if n or talk
        ]
        _upsert(OutcomeTally._meta.db_table, "outcome", outcome_rows, extra="talk_ms")
        key_rows = [(campaign, key, shard, n) for (campaign, key), n in sorted(self.keys.items()) if n]
        _upsert(KeyTally._meta.db_table, "key", key_rows)


def _upsert(table: str, key: str, rows: list[tuple], *, extra: str = "") -> None:
    """n (and `extra`) += delta per (campaign, key, shard), created if missing, in one statement."""
    if not rows:
        return
    columns = f"campaign_id, {key}, shard, n" + (f", {extra}" if extra else "")
    placeholders = "(" + ", ".join(["%s"] * len(rows[0])) + ")"
    update = f"n = {table}.n + excluded.n" + (f", {extra} = {table}.{extra} + excluded.{extra}" if extra else "")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES {', '.join([placeholders] * len(rows))} "
            f"ON CONFLICT (campaign_id, {key}, shard) DO UPDATE SET {update}",
            [value for row in rows for value in row],
        )


@dataclass
class Summary:
    """A campaign's outcomes, from stored tallies: counts, rates of the accepted calls, talk time, keys."""

    accepted: int = 0
    counts: dict = field(default_factory=dict)  # SUMMARY_KEYS -> calls
    given_up: int = 0
    talk_ms: int = 0
    keys: list = field(default_factory=list)  # [(key, calls, percent of answered)]

    @property
    def pending(self) -> int:
        return self.counts.get("unknown", 0) - self.given_up

    @property
    def reported(self) -> int:
        return self.accepted - self.counts.get("unknown", 0)

    def rate(self, outcome: str) -> float | None:
        return round(100 * self.counts.get(outcome, 0) / self.accepted, 1) if self.accepted else None

    @property
    def average_talk_seconds(self) -> float | None:
        answered = self.counts.get("answered", 0)
        return round(self.talk_ms / answered / 1000, 1) if answered else None

    @property
    def rows(self) -> list[dict]:
        """For the pages: each reported outcome with its words, count and rate of the accepted calls."""
        return [
            {"key": key, "label": OUTCOME_WORDS[Outcome(key)], "count": self.counts.get(key, 0), "rate": self.rate(key)}
            for key in SUMMARY_KEYS
            if key != "unknown"
        ]

    def as_dict(self) -> dict:
        return {
            **{key: self.counts.get(key, 0) for key in SUMMARY_KEYS},
            "pending": self.pending,
            "given_up": self.given_up,
            "average_talk_seconds": self.average_talk_seconds,
            "keys": {key: n for key, n, _ in self.keys},
        }


def summaries(campaign_ids) -> dict[int, Summary]:
    """{campaign id: Summary} for the campaigns, read from a few stored rows each."""
    campaign_ids = list(campaign_ids)
    states = call_tallies.counts_by_campaign(campaign_ids)
    result = {campaign_id: Summary() for campaign_id in campaign_ids}
    for campaign_id, summary in result.items():
        summary.accepted = sum(states.get(campaign_id, {}).get(state, 0) for state in call_tallies.ACCEPTED)
    rows = (
        OutcomeTally.objects.filter(campaign_id__in=campaign_ids)
        .values_list("campaign_id", "outcome")
        .annotate(calls=Sum("n"), talk=Sum("talk_ms"))
        .order_by()
    )
    for campaign_id, outcome, calls, talk in rows:
        summary = result[campaign_id]
        if outcome == GIVEN_UP:
            summary.given_up = calls
        elif calls:
            summary.counts[outcome] = calls
            if outcome == CallOutcome.ANSWERED:
                summary.talk_ms = talk
    for summary in result.values():
        summary.counts["unknown"] = max(0, summary.accepted - sum(summary.counts.values()))
    keys = (
        KeyTally.objects.filter(campaign_id__in=campaign_ids)
        .values_list("campaign_id", "key")
        .annotate(calls=Sum("n"))
        .order_by()
    )
    for campaign_id, key, calls in keys:
        if calls:
            summary = result[campaign_id]
            answered = summary.counts.get("answered", 0)
            summary.keys.append((key, calls, round(100 * calls / answered) if answered else None))
    for summary in result.values():
        summary.keys.sort(key=lambda item: (-item[1], item[0]))
    return result


def summary_of(campaign_id: int) -> Summary:
    return summaries([campaign_id])[campaign_id]


def outcomes_wait(*, campaign_id: int, timeout: float, sleep=time.sleep) -> Summary:
    """The campaign's outcomes once none is pending (every accepted call reported or given up), or
    as they stand after `timeout` seconds (`launch_campaign --wait-outcomes S`)."""
    deadline = time.monotonic() + timeout
    while True:
        summary = summary_of(campaign_id)
        if summary.pending <= 0 or time.monotonic() >= deadline:
            return summary
        sleep(min(0.5, max(deadline - time.monotonic(), 0)))


def outcomes_counted(*, campaign_id: int) -> dict:
    """The same figures as the tallies, counted from the calls (for checks and the recount)."""
    calls = Call.objects.filter(campaign_id=campaign_id).order_by()
    counted = {"outcomes": {}, "talk_ms": 0, "given_up": 0, "keys": {}}
    for outcome, n, talk in (
        calls.exclude(outcome=CallOutcome.UNKNOWN).values_list("outcome").annotate(n=Count("id"), talk=Sum("talk_ms"))
    ):
        counted["outcomes"][outcome] = n
        if outcome == CallOutcome.ANSWERED:
            counted["talk_ms"] = talk or 0
    counted["given_up"] = calls.filter(_given_up()).count()
    keys = Counter()
    for pressed in calls.exclude(keys="").values_list("keys", flat=True):
        keys.update(set(pressed))
    counted["keys"] = dict(keys)
    return counted


def outcomes_stored(*, campaign_id: int) -> dict:
    stored = {"outcomes": {}, "talk_ms": 0, "given_up": 0, "keys": {}}
    for outcome, n, talk in (
        OutcomeTally.objects.filter(campaign_id=campaign_id)
        .values_list("outcome")
        .annotate(n=Sum("n"), talk=Sum("talk_ms"))
        .order_by()
    ):
        if outcome == GIVEN_UP:
            stored["given_up"] = n
        elif n:
            stored["outcomes"][outcome] = n
            if outcome == CallOutcome.ANSWERED:
                stored["talk_ms"] = talk
    stored["keys"] = {
        key: n
        for key, n in KeyTally.objects.filter(campaign_id=campaign_id)
        .values_list("key")
        .annotate(n=Sum("n"))
        .order_by()
        if n
    }
    return stored


def _given_up():
    return Q(outcome=CallOutcome.UNKNOWN) & ~Q(outcome_note="")


def outcomes_recount(*, campaign_id: int) -> bool:
    """Rebuild a campaign's outcome tallies from its calls; True if they disagreed."""
    with transaction.atomic():
        counted = outcomes_counted(campaign_id=campaign_id)
        differed = counted != outcomes_stored(campaign_id=campaign_id)
        OutcomeTally.objects.filter(campaign_id=campaign_id).delete()
        KeyTally.objects.filter(campaign_id=campaign_id).delete()
        OutcomeTally.objects.bulk_create(
            [
                OutcomeTally(
                    campaign_id=campaign_id,
                    outcome=outcome,
                    n=n,
                    talk_ms=counted["talk_ms"] if outcome == CallOutcome.ANSWERED else 0,
                )
                for outcome, n in counted["outcomes"].items()
            ]
            + (
                [OutcomeTally(campaign_id=campaign_id, outcome=GIVEN_UP, n=counted["given_up"])]
                if counted["given_up"]
                else []
            )
        )
        KeyTally.objects.bulk_create(
            [KeyTally(campaign_id=campaign_id, key=key, n=n) for key, n in counted["keys"].items()]
        )
    return differed
