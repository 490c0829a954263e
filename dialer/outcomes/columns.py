"""A call's outcome as export cells (export_results, the results download): one place for the
columns' names and how each is written."""

from phonon.causes import cause_words

OUTCOME_COLUMNS = [
    "outcome",
    "hangup_cause",
    "answered_number",
    "talk_seconds",
    "keys",
    "connected_at",
    "hangup_cause_words",
]
OUTCOME_FIELDS = ("outcome", "outcome_note", "hangup_cause", "answered_number", "talk_ms", "keys", "connected_at")


def talk_seconds(talk_ms: int | None) -> str:
    return "" if talk_ms is None else f"{talk_ms / 1000:.3f}"


def outcome_cells(call, zone) -> list:
    return [
        call.outcome,
        "" if call.hangup_cause is None else call.hangup_cause,
        call.answered_number,
        talk_seconds(call.talk_ms),
        call.keys,
        call.connected_at.astimezone(zone).isoformat(timespec="milliseconds") if call.connected_at else "",
        cause_words(call.hangup_cause) or call.outcome_note,
    ]
