"""What happened to a call, from the provider's delivery report (PHONON_API.md, "After the call").

The one place that knows the ITU-T Q.850 hangup causes in words and which outcome each leads to,
as phonon/codes.py is for the make-call response codes. No Django here.
"""

import enum


class Outcome(enum.StrEnum):
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    UNREACHABLE = "unreachable"
    FAILED = "failed"
    UNKNOWN = "unknown"  # no report (yet)


OUTCOME_WORDS = {
    Outcome.ANSWERED: "Answered",
    Outcome.BUSY: "Busy",
    Outcome.NO_ANSWER: "No answer",
    Outcome.REJECTED: "Declined",
    Outcome.UNREACHABLE: "Unreachable",
    Outcome.FAILED: "Failed",
    Outcome.UNKNOWN: "Unknown",
}

# An outcome only ever moves forward: from unknown to anything, and to answered from anything (a
# later report may add the leg that connected). Never from answered, never back to unknown.
RANK = {Outcome.UNKNOWN: 0, Outcome.ANSWERED: 2}  # every other outcome ranks 1

BUSY_CAUSES = frozenset({17})
NO_ANSWER_CAUSES = frozenset({18, 19})
REJECTED_CAUSES = frozenset({21})
# The number or the route to it does not work: unallocated, no route, out of order, bad format, ...
UNREACHABLE_CAUSES = frozenset({1, 2, 3, 4, 20, 22, 27, 28})

# Q.850 cause values in words (the common ones; any other is shown as "cause N").
CAUSE_WORDS = {
    1: "unallocated (unassigned) number",
    2: "no route to the specified transit network",
    3: "no route to destination",
    4: "send special information tone",
    6: "channel unacceptable",
    16: "normal call clearing",
    17: "user busy",
    18: "no user responding",
    19: "no answer from user (user alerted)",
    20: "subscriber absent",
    21: "call rejected",
    22: "number changed",
    26: "non-selected user clearing",
    27: "destination out of order",
    28: "invalid number format (address incomplete)",
    29: "facility rejected",
    31: "normal, unspecified",
    34: "no circuit/channel available",
    38: "network out of order",
    41: "temporary failure",
    42: "switching equipment congestion",
    44: "requested circuit/channel not available",
    47: "resource unavailable, unspecified",
    50: "requested facility not subscribed",
    55: "incoming calls barred within CUG",
    57: "bearer capability not authorized",
    58: "bearer capability not presently available",
    63: "service or option not available, unspecified",
    65: "bearer capability not implemented",
    79: "service or option not implemented, unspecified",
    88: "incompatible destination",
    102: "recovery on timer expiry",
    111: "protocol error, unspecified",
    127: "interworking, unspecified",
}


def cause_words(cause: int | None) -> str:
    """`17 user busy`; `cause 99` for one not in the table; "" for none."""
    if cause is None:
        return ""
    words = CAUSE_WORDS.get(cause)
    return f"{cause} {words}" if words else f"cause {cause}"


def outcome_of_leg(*, cause: int | None, connected: bool, rang: bool) -> Outcome:
    """One attempt's outcome: answered when it connected, else by its cause; a leg that rang and
    ended without connecting for any other reason counts as not answered."""
    if connected:
        return Outcome.ANSWERED
    if cause in BUSY_CAUSES:
        return Outcome.BUSY
    if cause in REJECTED_CAUSES:
        return Outcome.REJECTED
    if cause in UNREACHABLE_CAUSES:
        return Outcome.UNREACHABLE
    if cause in NO_ANSWER_CAUSES or rang:
        return Outcome.NO_ANSWER
    return Outcome.FAILED


def moves_forward(current: str, new: str) -> bool:
    """True when `new` may replace `current` (see RANK)."""
    if current == Outcome.ANSWERED:
        return False
    return RANK.get(Outcome(new), 1) >= RANK.get(Outcome(current), 1) and new != Outcome.UNKNOWN
