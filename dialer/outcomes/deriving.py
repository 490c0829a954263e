"""A call's outcome from its legs: the one place that decides it (causes: phonon.causes).

A call's legs are every `callDetails` entry its reports carried, one per cdrId, whatever order
they came in. The outcome depends only on that set, so the same reports applied twice or in
another order give the same outcome; a leg added later can only move it forward.
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from phonon.causes import Outcome, outcome_of_leg
from phonon.reports import Leg

KEYS_MAX = 64
EPOCH = datetime.datetime.min.replace(tzinfo=datetime.UTC)


@dataclass(frozen=True)
class Derived:
    outcome: Outcome
    hangup_cause: int | None = None
    answered_number: str = ""
    talk_ms: int | None = None
    keys: str = ""
    connected_at: datetime.datetime | None = None


def _when(leg: Leg) -> datetime.datetime:
    return leg.started_at or leg.ringing_at or leg.connected_at or leg.ended_at or EPOCH


def call_derive(legs: Iterable[Leg]) -> Derived:
    """Answered if any leg connected (the first that did names the number, the connected legs' time
    is the talk time); otherwise what the last attempt ended with. Unknown without legs."""
    ordered = sorted(legs, key=lambda leg: (_when(leg), leg.cdr_id))
    if not ordered:
        return Derived(Outcome.UNKNOWN)
    presses = sorted(
        ((press.at or EPOCH, index, press.key) for index, leg in enumerate(ordered) for press in leg.keys),
        key=lambda item: (item[0], item[1]),
    )
    keys = "".join(key for _, _, key in presses)[:KEYS_MAX]
    connected = [leg for leg in ordered if leg.connected_at is not None]
    if connected:
        first = connected[0]
        return Derived(
            Outcome.ANSWERED,
            hangup_cause=first.hangup_cause,
            answered_number=first.callee_number,
            talk_ms=sum(_talk_ms(leg) for leg in connected),
            keys=keys,
            connected_at=first.connected_at,
        )
    last = ordered[-1]
    return Derived(
        outcome_of_leg(cause=last.hangup_cause, connected=False, rang=last.rang),
        hangup_cause=last.hangup_cause,
        keys=keys,
    )


def _talk_ms(leg: Leg) -> int:
    """`duration` (milliseconds) when given, else connect to end."""
    if leg.duration_ms is not None:
        return leg.duration_ms
    if leg.ended_at and leg.connected_at and leg.ended_at > leg.connected_at:
        return int((leg.ended_at - leg.connected_at).total_seconds() * 1000)
    return 0


def richness(leg: Leg) -> tuple[bool, bool, int]:
    """How much a copy of a cdrId tells: a connect, then an end, then more keys. A total order, so
    that the copy kept does not depend on the order the copies came in (the SQL applier orders
    copies by the same three, dialer.outcomes.applying_sql)."""
    return (leg.connected_at is not None, leg.ended_at is not None, len(leg.keys))


def leg_richer(new: Leg, old: Leg) -> bool:
    """True when a repeated cdrId brings more than the stored entry (a connect, an end or keys it
    lacked): a copy with less never replaces one with more, nor does an equal one."""
    return richness(new) > richness(old)
