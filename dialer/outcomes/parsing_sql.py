"""phonon.reports' reading of a delivery report, in PostgreSQL, for the set-based applier
(dialer.outcomes.applying_sql): stored bodies parsed where they lie (jsonb), one row per report and
one per `callDetails` entry, in two temporary tables of the applying connection.

Python's parse_push stays the reference. The SQL reads only the plain shapes the provider sends
(strings where strings are expected, ISO 8601 times, whole numbers); any report with anything else
(a number where a string is expected, a time in another form, blanks around a cdrId, ...) is marked
`fast = false` and applied by the Python path, which reads it exactly as before or refuses it as
malformed. So both read every report the same way: the SQL reads a report or leaves it.
"""

# Temporary tables of the connection, emptied at the start of each chunk (a rolled-back chunk
# takes its rows with it; TRUNCATE, not DELETE, so that a long-lived worker's tables never bloat).
# No JIT: the temporary tables have no statistics, the planner guesses them large and compiling the
# statements took ten times longer than running them.
TEMP_TABLES = """
CREATE TEMP TABLE IF NOT EXISTS outcome_apply_report (
    id bigint, flow_id bigint, b jsonb, uuid text, fast boolean,
    call_id bigint, campaign_id bigint
);
CREATE TEMP TABLE IF NOT EXISTS outcome_apply_leg (
    report_id bigint, ord bigint, call_id bigint, cdr_id text, callee_number text, did_number text,
    started_at timestamptz, ringing_at timestamptz, rang boolean, connected_at timestamptz,
    ended_at timestamptz, duration_ms integer, hangup_cause integer, remote_hangup boolean,
    keys jsonb, raw jsonb, bad boolean
);
TRUNCATE outcome_apply_report, outcome_apply_leg;
SET LOCAL jit = off;
"""

# An ISO 8601 time in the forms both Python's fromisoformat and PostgreSQL read the same way, told
# by its shape (every digit made 0: far cheaper than a regular expression). Out-of-range fields in
# such a shape (month 13, 31 February, offset +20:00) make PostgreSQL fail the statement, and the
# chunk goes to Python; hour 24 and second 60, which PostgreSQL reads and Python refuses, are left
# to Python here.
def _shapes() -> tuple[list[str], list[str]]:
    naive, zoned = [], []
    for separator in "T ":
        for seconds in ["", ":00", *[":00." + "0" * digits for digits in range(1, 7)]]:
            base = f"0000-00-00{separator}00:00{seconds}"
            naive.append(base)
            zoned += [base + "Z", base + "+00:00", base + "-00:00"]
    return naive, zoned


NAIVE_SHAPES, ZONED_SHAPES = _shapes()


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{value}'" for value in values) + "]"


def time_sql(value: str) -> str:
    """phonon.reports._time: NULL for none, and for a value the SQL does not read (time_bad); a time
    without an offset is read in the provider's zone (the %(zone)s parameter)."""
    shape = f"translate({value}, '123456789', '000000000')"
    in_range = f"substr({value}, 12, 2) < '24' AND (substr({value}, 17, 1) <> ':' OR substr({value}, 18, 2) < '60')"
    return (
        f"CASE WHEN {value} IS NULL OR {value} = '' THEN NULL "
        f"WHEN {shape} = ANY({_array(ZONED_SHAPES)}) AND {in_range} THEN ({value})::timestamptz "
        f"WHEN {shape} = ANY({_array(NAIVE_SHAPES)}) AND {in_range} THEN ({value})::timestamp AT TIME ZONE %(zone)s "
        "END"
    )


def time_bad(text: str, parsed: str) -> str:
    """True when the field is there (a string, or anything else) but time_sql did not read it."""
    return f"coalesce({text} <> '' AND {parsed} IS NULL, false)"


def integer_sql(value: str) -> str:
    """phonon.reports._integer for the values the SQL reads: none, or a string of a few digits."""
    return f"CASE WHEN {value} ~ '^[0-9]{{1,9}}$' THEN ({value})::integer END"


def integer_bad(node: str, digits: int) -> str:
    text = f"({node} #>> '{{}}')"
    return (
        f"coalesce(jsonb_typeof({node}) NOT IN ('string', 'null') "
        f"OR ({text} <> '' AND {text} !~ '^[0-9]{{1,{digits}}}$'), false)"
    )


def plain_text_bad(node: str) -> str:
    """True for a field the SQL does not copy as Python's str() would (anything but a string)."""
    return f"coalesce(jsonb_typeof({node}), 'null') NOT IN ('string', 'null')"


def digits_sql(node: str) -> str:
    return f"left(regexp_replace(coalesce({node} #>> '{{}}', ''), '[^0-9]', '', 'g'), 20)"


def digits_bad(node: str) -> str:
    return f"({plain_text_bad(node)} OR coalesce({node} #>> '{{}}', '') !~ '^[ -~]*$')"


def _list_bad(node: str) -> str:
    return f"coalesce(jsonb_typeof({node}), 'null') NOT IN ('array', 'null')"


def _list_or_empty(node: str) -> str:
    return f"(CASE WHEN jsonb_typeof({node}) = 'array' THEN {node} ELSE '[]'::jsonb END)"


MESSAGE_FIELDS = ("id", "to", "from", "text", "subject", "deliveryStatus", "sendTime")

# Step 1: the chunk's reports, their body read as jsonb (a body that is not JSON makes the statement
# fail: the caller then leaves the chunk to Python), the uuid, whether the SQL can read the rest, and
# the call: among the report's flow's calls, the one with its uuid (the last by id if two had one, as
# Python), looked up for each report by the uuid index (LATERAL ... LIMIT: never a hash of every call).
REPORTS_SQL = f"""
INSERT INTO outcome_apply_report (id, flow_id, b, uuid, fast, call_id, campaign_id)
SELECT read.id, read.flow_id, read.b, read.uuid, read.fast, m.call_id, m.campaign_id
FROM (
    SELECT id, flow_id, b, b ->> 'phonon-uuid' AS uuid,
           coalesce(
               jsonb_typeof(b) = 'object'
               AND jsonb_typeof(b -> 'phonon-uuid') = 'string' AND (b ->> 'phonon-uuid') ~ '^[!-~]{{1,64}}$'
               AND NOT {_list_bad("b -> 'callDetails'")}
               AND NOT {_list_bad("b -> 'smsDetails'")}
               AND NOT {_list_bad("b -> 'emailDetails'")}
               AND (NOT (b ? 'smsDetails' OR b ? 'emailDetails') OR NOT EXISTS (
                   SELECT 1 FROM jsonb_array_elements(
                       {_list_or_empty("b -> 'smsDetails'")} || {_list_or_empty("b -> 'emailDetails'")}
                   ) AS m(item)
                   WHERE jsonb_typeof(item) = 'object'
                     AND ({" OR ".join(plain_text_bad(f"item -> '{name}'") for name in MESSAGE_FIELDS)})
               )),
               false) AS fast
    FROM (
        SELECT id, flow_id,
               CASE WHEN jsonb_typeof(j) = 'object' THEN (CASE WHEN j ? 'body' THEN j -> 'body' ELSE j END) END AS b
        FROM (
            SELECT id, flow_id, body::jsonb AS j FROM dialer_outcomereport
            WHERE id IN (SELECT unnest(%(ids)s::bigint[]))
        ) AS stored
        OFFSET 0  -- read each body once (not once for each use of `b` below)
    ) AS bodies
    OFFSET 0
) AS read
LEFT JOIN LATERAL (
    SELECT c.id AS call_id, c.campaign_id
    FROM dialer_call c JOIN campaigns_campaign cp ON cp.id = c.campaign_id
    WHERE read.fast AND c.phonon_uuid = read.uuid AND c.phonon_uuid <> '' AND cp.flow_id = read.flow_id
    ORDER BY c.id DESC LIMIT 1
) AS m ON true
"""

_DTMF = "(CASE WHEN e ? 'dtmfPressesd' THEN e -> 'dtmfPressesd' ELSE e -> 'dtmfPressed' END)"
_TIMES = {
    "started_at": "startTime",
    "ringing_at": "ringingStartTime",
    "connected_at": "connectTime",
    "ended_at": "endTime",
}
_LEG_TIMES = ", ".join(f"{time_sql(f'(d.e ->> {field!r})')} AS {column}" for column, field in _TIMES.items())

# Step 3: the legs of the matched reports, one row per `callDetails` entry, and whether each is read.
# The inner queries are kept apart (OFFSET 0) so that each time is read once, not once a use.
LEGS_SQL = f"""
INSERT INTO outcome_apply_leg (
    report_id, ord, call_id, cdr_id, callee_number, did_number, started_at, ringing_at, rang, connected_at,
    ended_at, duration_ms, hangup_cause, remote_hangup, keys, raw, bad
)
SELECT report_id, ord, call_id, e ->> 'cdrId', {digits_sql("e -> 'calleeNumber'")}, {digits_sql("e -> 'didNumber'")},
       started_at, ringing_at, ringing_at IS NOT NULL OR coalesce(lower(e ->> 'is_ringing') = 'true', false),
       connected_at, ended_at, {integer_sql("(e ->> 'duration')")}, {integer_sql("(e ->> 'hangupCause')")},
       CASE WHEN jsonb_typeof(e -> 'remoteHangup') = 'boolean' THEN (e ->> 'remoteHangup')::boolean END,
       coalesce(presses.keys, '[]'::jsonb), e,
       coalesce(
           jsonb_typeof(e) <> 'object'
           OR jsonb_typeof(e -> 'cdrId') IS DISTINCT FROM 'string'
           OR (e ->> 'cdrId') !~ '^[!-~](.*[!-~])?$' OR length(e ->> 'cdrId') > 200
           OR {digits_bad("e -> 'calleeNumber'")} OR {digits_bad("e -> 'didNumber'")}
           OR {" OR ".join(time_bad(f"(e ->> '{field}')", column) for column, field in _TIMES.items())}
           OR {integer_bad("(e -> 'duration')", 9)} OR {integer_bad("(e -> 'hangupCause')", 4)}
           OR coalesce(jsonb_typeof({_DTMF}), 'null') NOT IN ('array', 'null')
           OR presses.bad,
           true)
FROM (
    SELECT r.id AS report_id, d.ord, r.call_id, d.e,
           {_LEG_TIMES}
    FROM outcome_apply_report r
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(r.b -> 'callDetails') = 'array' THEN r.b -> 'callDetails' ELSE '[]'::jsonb END
    ) WITH ORDINALITY AS d(e, ord)
    WHERE r.fast AND r.call_id IS NOT NULL
    OFFSET 0
) AS legs
LEFT JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object('key', left(key, 4), 'at', to_jsonb(at), 'label', label) ORDER BY n)
               FILTER (WHERE is_object AND coalesce(key, '') <> '') AS keys,
           coalesce(bool_or(
               is_object AND (
                   key_type <> 'string'
                   OR (coalesce(key, '') <> '' AND key !~ '^[!-~]+$')
                   OR {time_bad("at_text", "at")}
                   OR label_type NOT IN ('string', 'null')
               )
           ), false) AS bad
    FROM (
        SELECT n, jsonb_typeof(p) = 'object' AS is_object, p ->> 'key' AS key,
               coalesce(jsonb_typeof(p -> 'key'), 'string') AS key_type, p ->> 'eventTime' AS at_text,
               {time_sql("(p ->> 'eventTime')")} AS at,
               coalesce(p ->> 'label', '') AS label, coalesce(jsonb_typeof(p -> 'label'), 'null') AS label_type
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof({_DTMF}) = 'array' THEN {_DTMF} ELSE '[]'::jsonb END)
             WITH ORDINALITY AS k(p, n)
        OFFSET 0
    ) AS pressed
) AS presses ON true
"""

# A report with a leg the SQL does not read goes to Python whole.
LEFT_TO_PYTHON_SQL = """
UPDATE outcome_apply_report SET fast = false
WHERE fast AND id IN (SELECT report_id FROM outcome_apply_leg WHERE bad)
"""

# Step 4 (after the legs): the SMS and e-mail entries of the reports the SQL applies, kept once.
MESSAGES_SQL = """
INSERT INTO dialer_callmessage (call_id, kind, message_id, recipient, sender, text, status, sent_at, raw)
SELECT r.call_id, m.kind, left(coalesce(m.item ->> 'id', ''), 200), left(coalesce(m.item ->> 'to', ''), 200),
       left(coalesce(m.item ->> 'from', ''), 200),
       coalesce(nullif(m.item ->> 'text', ''), nullif(m.item ->> 'subject', ''), ''),
       left(coalesce(m.item ->> 'deliveryStatus', ''), 64), left(coalesce(m.item ->> 'sendTime', ''), 64), m.item
FROM outcome_apply_report r
CROSS JOIN LATERAL (
    SELECT 'sms' AS kind, item, n FROM jsonb_array_elements(
        CASE WHEN jsonb_typeof(r.b -> 'smsDetails') = 'array' THEN r.b -> 'smsDetails' ELSE '[]'::jsonb END
    ) WITH ORDINALITY AS s(item, n)
    UNION ALL
    SELECT 'email', item, n FROM jsonb_array_elements(
        CASE WHEN jsonb_typeof(r.b -> 'emailDetails') = 'array' THEN r.b -> 'emailDetails' ELSE '[]'::jsonb END
    ) WITH ORDINALITY AS s(item, n)
) AS m
WHERE r.fast AND r.call_id IS NOT NULL AND jsonb_typeof(m.item) = 'object'
  AND (jsonb_typeof(r.b -> 'smsDetails') = 'array' OR jsonb_typeof(r.b -> 'emailDetails') = 'array')
ORDER BY r.id, m.kind DESC, m.n
ON CONFLICT (call_id, kind, message_id) DO NOTHING
"""
