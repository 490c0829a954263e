"""Stored reports applied in a few set-based statements a chunk, on PostgreSQL (the bulk path of
dialer.outcomes.applying): the bodies are parsed in the database (parsing_sql), the legs upserted
once per cdrId (a richer copy replacing a poorer one), every touched call's outcome derived again
from all its legs (deriving_sql), the calls moved only forward, and the tallies, the outcome-event
outbox and the reports written from the same statement's rows. All in the caller's transaction:
a worker killed half way applies nothing, and the chunk's reports stay pending.

Reports the SQL does not read (an unusual shape, no call of the flow with that uuid, ...) are left
to the Python path in the same transaction: it returns their ids.
"""

import logging

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from dialer.models import Call, CallLeg, KeyTally, OutcomeChange, OutcomeReport, OutcomeTally
from dialer.outcomes import parsing_sql
from dialer.outcomes.deriving_sql import DERIVED_SQL
from dialer.outcomes.tallies import GIVEN_UP, SHARDS
from phonon.causes import Outcome

log = logging.getLogger(__name__)

CALLS = Call._meta.db_table
LEGS = CallLeg._meta.db_table
REPORTS = OutcomeReport._meta.db_table

LOCK_CALLS_SQL = f"""
SELECT id FROM {CALLS} WHERE id IN (SELECT call_id FROM outcome_apply_report WHERE fast AND call_id IS NOT NULL)
ORDER BY id FOR UPDATE
"""

# The richest copy of each (call, cdrId) in the chunk (the first of the richest, as Python folds
# them), inserted or replacing a stored copy that tells less (deriving.richness, the same order).
_RICHNESS = "({t}.connected_at IS NOT NULL, {t}.ended_at IS NOT NULL, jsonb_array_length({t}.keys))"
LEG_COLUMNS = (
    "report_id, callee_number, did_number, started_at, ringing_at, rang, connected_at, ended_at, duration_ms, "
    "hangup_cause, remote_hangup, keys, raw"
)
UPSERT_LEGS_SQL = f"""
INSERT INTO {LEGS} (call_id, cdr_id, {LEG_COLUMNS})
SELECT DISTINCT ON (l.call_id, l.cdr_id) l.call_id, l.cdr_id, {LEG_COLUMNS.replace("report_id", "l.report_id")}
FROM outcome_apply_leg l JOIN outcome_apply_report r ON r.id = l.report_id
WHERE r.fast
ORDER BY l.call_id, l.cdr_id, (l.connected_at IS NOT NULL) DESC, (l.ended_at IS NOT NULL) DESC,
         jsonb_array_length(l.keys) DESC, l.report_id, l.ord
ON CONFLICT (call_id, cdr_id) DO UPDATE SET
    {", ".join(f"{column} = excluded.{column}" for column in LEG_COLUMNS.split(", "))}
WHERE {_RICHNESS.format(t="excluded")} > {_RICHNESS.format(t=LEGS)}
"""

_CHANGED = (
    "(c.outcome, c.outcome_note, c.hangup_cause, c.answered_number, c.talk_ms, c.keys, c.connected_at) "
    "IS DISTINCT FROM (d.outcome, '', d.hangup_cause, d.answered_number, d.talk_ms, d.keys, d.connected_at)"
)
_OLD_KEY = f"CASE WHEN old_outcome = '{Outcome.UNKNOWN}' AND old_note <> '' THEN '{GIVEN_UP}' ELSE old_outcome END"

# The touched calls' outcomes derived again, written when they move forward (phonon.causes.moves_forward:
# never from answered to anything else, never to unknown) and differ; the tallies moved by the
# difference, and each changed call noted for the `calls.outcomes` event. One statement.
APPLY_CALLS_SQL = f"""
WITH touched AS (SELECT DISTINCT call_id FROM outcome_apply_report WHERE fast AND call_id IS NOT NULL),
{DERIVED_SQL.format(calls="touched")},
moving AS (
    SELECT d.*, c.campaign_id, c.outcome AS old_outcome, c.outcome_note AS old_note,
           coalesce(c.talk_ms, 0) AS old_talk, c.keys AS old_keys
    FROM derived d JOIN {CALLS} c ON c.id = d.call_id
    WHERE d.outcome <> '{Outcome.UNKNOWN}'
      AND (c.outcome = d.outcome OR c.outcome <> '{Outcome.ANSWERED}')
      AND {_CHANGED}
),
changed AS (
    UPDATE {CALLS} c SET outcome = m.outcome, outcome_note = '', hangup_cause = m.hangup_cause,
        answered_number = m.answered_number, talk_ms = m.talk_ms, keys = m.keys, connected_at = m.connected_at,
        outcome_at = %(now)s
    FROM moving m WHERE c.id = m.call_id
    RETURNING c.id, m.campaign_id, m.old_outcome, m.old_note, m.old_talk, m.old_keys,
              m.outcome AS new_outcome, coalesce(m.talk_ms, 0) AS new_talk, m.keys AS new_keys
),
moves AS (
    SELECT campaign_id, {_OLD_KEY} AS outcome, -1 AS n, -old_talk AS talk FROM changed
    WHERE NOT (old_outcome = '{Outcome.UNKNOWN}' AND old_note = '')
    UNION ALL
    SELECT campaign_id, new_outcome, 1, new_talk FROM changed
),
outcome_tallies AS (
    INSERT INTO {OutcomeTally._meta.db_table} AS t (campaign_id, outcome, shard, n, talk_ms)
    SELECT campaign_id, outcome, %(shard)s, sum(n), sum(talk) FROM moves GROUP BY campaign_id, outcome
    HAVING sum(n) <> 0 OR sum(talk) <> 0 ORDER BY campaign_id, outcome
    ON CONFLICT (campaign_id, outcome, shard) DO UPDATE SET n = t.n + excluded.n, talk_ms = t.talk_ms + excluded.talk_ms
),
key_moves AS (
    SELECT campaign_id, key, sum(n) AS n FROM (
        SELECT ch.campaign_id, ch.key, -1 AS n FROM (
            SELECT DISTINCT campaign_id, id, k AS key FROM changed, string_to_table(old_keys, NULL) AS k
            EXCEPT SELECT DISTINCT campaign_id, id, k FROM changed, string_to_table(new_keys, NULL) AS k
        ) AS ch
        UNION ALL
        SELECT ch.campaign_id, ch.key, 1 FROM (
            SELECT DISTINCT campaign_id, id, k AS key FROM changed, string_to_table(new_keys, NULL) AS k
            EXCEPT SELECT DISTINCT campaign_id, id, k FROM changed, string_to_table(old_keys, NULL) AS k
        ) AS ch
    ) AS both_ways GROUP BY campaign_id, key HAVING sum(n) <> 0
),
key_tallies AS (
    INSERT INTO {KeyTally._meta.db_table} AS t (campaign_id, key, shard, n)
    SELECT campaign_id, key, %(shard)s, n FROM key_moves ORDER BY campaign_id, key
    ON CONFLICT (campaign_id, key, shard) DO UPDATE SET n = t.n + excluded.n
),
noted AS (
    INSERT INTO {OutcomeChange._meta.db_table} (campaign_id, call_id, created_at)
    SELECT campaign_id, id, %(now)s FROM changed ORDER BY id
)
SELECT count(*) FROM changed
"""

REPORTS_APPLIED_SQL = f"""
UPDATE {REPORTS} r SET status = '{OutcomeReport.Status.APPLIED}', note = '', applied_at = %(now)s, call_id = t.call_id
FROM outcome_apply_report t WHERE r.id = t.id AND t.fast AND t.call_id IS NOT NULL
"""


def reports_apply_sql(report_ids: list[int], now, applied) -> list[int]:
    """Apply these claimed reports (locked by the caller, in its transaction) where the SQL reads
    them; return the ids left to the Python path."""
    with connection.cursor() as cursor:
        cursor.execute(parsing_sql.TEMP_TABLES)
        if not _reports_read(cursor, report_ids):
            return report_ids
        cursor.execute(UPSERT_LEGS_SQL)
        cursor.execute(parsing_sql.MESSAGES_SQL)
        cursor.execute(APPLY_CALLS_SQL, {"now": now, "shard": report_ids[0] % SHARDS})
        applied.calls_changed += cursor.fetchone()[0]
        cursor.execute(REPORTS_APPLIED_SQL, {"now": now})
        applied.reports += cursor.rowcount
        cursor.execute("SELECT id FROM outcome_apply_report WHERE NOT (fast AND call_id IS NOT NULL) ORDER BY id")
        return [row[0] for row in cursor.fetchall()]


def _reports_read(cursor, report_ids: list[int]) -> bool:
    """The chunk's reports and legs read into the temporary tables, their calls locked (in id order,
    so that two appliers never wait on each other in a circle), in a savepoint: a body PostgreSQL
    cannot read as jsonb (not JSON, a \\u0000 escape) or a time it refuses (the 30th of February)
    fails a statement, and the chunk is then left to Python, which reads each body on its own."""
    try:
        with transaction.atomic():
            cursor.execute(parsing_sql.REPORTS_SQL, {"ids": report_ids})
            cursor.execute(LOCK_CALLS_SQL)
            cursor.execute(parsing_sql.LEGS_SQL, {"zone": settings.PHONON_TIMEZONE})
            cursor.execute(parsing_sql.LEFT_TO_PYTHON_SQL)
    except DatabaseError as error:
        log.info("A chunk of %s reports left to the Python path: %s", len(report_ids), str(error).splitlines()[0])
        return False
    return True
