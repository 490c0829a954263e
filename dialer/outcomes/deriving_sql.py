"""dialer.outcomes.deriving's rules written as one PostgreSQL query, for applying reports by the
hundred thousand (dialer.outcomes.applying_sql). The Python functions stay the reference: the SQL
here is built from the same cause sets (phonon.causes), and tests/dialer/test_outcome_deriving_sql.py
holds the two equal over every cause code and leg shape.

`DERIVED_SQL` reads the stored legs (dialer_callleg) of the calls in `{calls}` (a relation with a
`call_id` column) and gives one row per call that has legs:
(call_id, outcome, hangup_cause, answered_number, talk_ms, keys, connected_at).
"""

from django.db import connection

from dialer.models import CallLeg
from dialer.outcomes.deriving import KEYS_MAX, Derived
from phonon.causes import BUSY_CAUSES, NO_ANSWER_CAUSES, REJECTED_CAUSES, UNREACHABLE_CAUSES, Outcome

# deriving.EPOCH: a leg or key press without any time sorts first.
EPOCH_SQL = "'0001-01-01 00:00:00+00'::timestamptz"


def _in(causes) -> str:
    return "(" + ", ".join(str(cause) for cause in sorted(causes)) + ")"


def outcome_of_leg_sql(cause: str, rang: str) -> str:
    """phonon.causes.outcome_of_leg for a leg that did not connect, as a SQL expression."""
    return (
        f"CASE WHEN {cause} IN {_in(BUSY_CAUSES)} THEN '{Outcome.BUSY}' "
        f"WHEN {cause} IN {_in(REJECTED_CAUSES)} THEN '{Outcome.REJECTED}' "
        f"WHEN {cause} IN {_in(UNREACHABLE_CAUSES)} THEN '{Outcome.UNREACHABLE}' "
        f"WHEN {cause} IN {_in(NO_ANSWER_CAUSES)} OR {rang} THEN '{Outcome.NO_ANSWER}' "
        f"ELSE '{Outcome.FAILED}' END"
    )


# deriving._talk_ms: `duration` when given, else connect to end in whole milliseconds, computed as
# Python does (microseconds / 10**6 as a double, times 1000, truncated) so that both agree exactly.
TALK_MS_SQL = (
    "CASE WHEN l.duration_ms IS NOT NULL THEN l.duration_ms::bigint "
    "WHEN l.ended_at > l.connected_at THEN trunc("
    "((extract(epoch FROM (l.ended_at - l.connected_at)) * 1000000)::bigint::float8 / 1000000.0::float8) "
    "* 1000.0::float8)::bigint "
    "ELSE 0 END"
)

LEGS_TABLE = CallLeg._meta.db_table

DERIVED_SQL = f"""
ordered AS (
    SELECT l.call_id, l.callee_number, l.connected_at, l.hangup_cause, l.rang, l.keys, {TALK_MS_SQL} AS talk_ms,
           row_number() OVER (
               PARTITION BY l.call_id
               ORDER BY coalesce(l.started_at, l.ringing_at, l.connected_at, l.ended_at, {EPOCH_SQL}),
                        l.cdr_id COLLATE "C"
           ) AS pos,
           count(*) OVER (PARTITION BY l.call_id) AS legs
    FROM {{calls}} AS wanted
    -- each call's legs by its index (OFFSET 0 keeps the planner from a scan of every leg)
    CROSS JOIN LATERAL (SELECT * FROM {LEGS_TABLE} WHERE call_id = wanted.call_id OFFSET 0) AS l
),
first_connected AS (
    SELECT DISTINCT ON (call_id) call_id, callee_number, connected_at, hangup_cause
    FROM ordered WHERE connected_at IS NOT NULL ORDER BY call_id, pos
),
talk AS (
    SELECT call_id, sum(talk_ms)::bigint AS talk_ms FROM ordered WHERE connected_at IS NOT NULL GROUP BY call_id
),
pressed AS (
    SELECT o.call_id,
           left(string_agg(p.value ->> 'key', '' ORDER BY
                coalesce((p.value ->> 'at')::timestamptz, {EPOCH_SQL}), o.pos, p.n), {KEYS_MAX}) AS keys
    FROM ordered o CROSS JOIN LATERAL jsonb_array_elements(o.keys) WITH ORDINALITY AS p(value, n)
    WHERE o.keys <> '[]'::jsonb
    GROUP BY o.call_id
),
derived AS (
    SELECT last.call_id,
           CASE WHEN fc.call_id IS NOT NULL THEN '{Outcome.ANSWERED}'
                ELSE {outcome_of_leg_sql("last.hangup_cause", "last.rang")} END AS outcome,
           CASE WHEN fc.call_id IS NOT NULL THEN fc.hangup_cause ELSE last.hangup_cause END AS hangup_cause,
           coalesce(fc.callee_number, '') AS answered_number,
           CASE WHEN fc.call_id IS NOT NULL THEN talk.talk_ms END AS talk_ms,
           coalesce(pressed.keys, '') AS keys,
           fc.connected_at
    FROM ordered last
    LEFT JOIN first_connected fc ON fc.call_id = last.call_id
    LEFT JOIN talk ON talk.call_id = last.call_id
    LEFT JOIN pressed ON pressed.call_id = last.call_id
    WHERE last.pos = last.legs
)"""


def derived_in_sql(call_ids: list[int]) -> dict[int, Derived]:
    """{call id: Derived} for these calls' stored legs, by the SQL rules (for the tests that hold
    them equal to deriving.call_derive)."""
    query = (
        "WITH wanted AS (SELECT unnest(%s::bigint[]) AS call_id), "
        + DERIVED_SQL.format(calls="wanted")
        + " SELECT call_id, outcome, hangup_cause, answered_number, talk_ms, keys, connected_at FROM derived"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [list(call_ids)])
        return {
            row[0]: Derived(Outcome(row[1]), row[2], row[3], None if row[4] is None else int(row[4]), row[5], row[6])
            for row in cursor.fetchall()
        }
