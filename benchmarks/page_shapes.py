"""The data shapes bench_pages measures the pages on, built with a few bulk statements (no ORM loops):

- `calls_with_outcomes`: the sent calls of a campaign get what the provider reports after a call
  (issue 29): answered (with talk time, the number that answered and keys pressed, in one or two
  questions), busy, no answer, unreachable, rejected, failed, or still unknown; their outcome times
  spread over the last four weeks so that the best-time charts have every hour and weekday;
- `redial_campaign`: a running campaign with redial rules in which every contact of a list has had
  3 attempts (issue 30): the first two busy or not answered, some minutes to a day apart, the third
  with any outcome (a tenth still waiting for its report).

Then the tallies are rebuilt from the calls (dialer.tallies, dialer.outcomes.tallies), as the
`recount_calls` command would for calls written behind the product's back.
"""

import datetime

# (outcome, Q.850 cause) by contact id modulo 100: 45% answered, 15% busy, 20% no answer, 8%
# unreachable, 2% rejected, 3% failed, 7% still unknown.
_OUTCOME_CASE = (
    "CASE WHEN {c} %% 100 < 45 THEN 'answered' WHEN {c} %% 100 < 60 THEN 'busy' "
    "WHEN {c} %% 100 < 80 THEN 'no_answer' WHEN {c} %% 100 < 88 THEN 'unreachable' "
    "WHEN {c} %% 100 < 90 THEN 'rejected' WHEN {c} %% 100 < 93 THEN 'failed' ELSE 'unknown' END"
)
_CAUSE_CASE = (
    "CASE WHEN {c} %% 100 < 45 THEN 16 WHEN {c} %% 100 < 60 THEN 17 WHEN {c} %% 100 < 80 THEN 19 "
    "WHEN {c} %% 100 < 88 THEN 1 WHEN {c} %% 100 < 90 THEN 21 WHEN {c} %% 100 < 93 THEN 41 ELSE NULL END"
)
# Keys of the answered: one question (1 or 2) or two (12, 21, 11), some pressed nothing.
_KEYS_CASE = (
    "CASE WHEN {c} %% 100 >= 45 THEN '' WHEN {c} %% 7 = 0 THEN '' WHEN {c} %% 7 IN (1, 2) THEN '1' "
    "WHEN {c} %% 7 = 3 THEN '2' WHEN {c} %% 7 = 4 THEN '12' WHEN {c} %% 7 = 5 THEN '21' ELSE '11' END"
)
FOUR_WEEKS = 28 * 86400


def _ago(seconds_sql: str) -> str:
    """SQL for `now - seconds` as the database stores a DateTimeField."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"(now() - ({seconds_sql}) * interval '1 second')"
    return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now', '-' || ({seconds_sql}) || ' seconds')"


def _number(id_sql: str) -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"('9198' || LPAD(({id_sql})::text, 8, '0'))"
    return f"('9198' || substr('00000000' || ({id_sql}), -8))"


def _outcome_columns(c: str, when: str) -> str:
    """SET clause of an outcome derived from contact id `c`, reported `when` (an SQL expression)."""
    outcome = _OUTCOME_CASE.format(c=c)
    return (
        f"outcome = {outcome}, hangup_cause = {_CAUSE_CASE.format(c=c)}, "
        f"keys = {_KEYS_CASE.format(c=c)}, "
        f"talk_ms = CASE WHEN {c} %% 100 < 45 THEN 4000 + ({c} * 37) %% 90000 ELSE NULL END, "
        f"answered_number = CASE WHEN {c} %% 100 < 45 THEN {_number(c)} ELSE '' END, "
        f"connected_at = CASE WHEN {c} %% 100 < 45 THEN {when} ELSE NULL END, "
        f"outcome_at = CASE WHEN {c} %% 100 < 93 THEN {when} ELSE NULL END"
    )


def calls_with_outcomes(campaign_id: int) -> None:
    """The campaign's accepted calls get an outcome (one UPDATE), then its tallies are rebuilt."""
    from django.db import connection

    from dialer.models import Call
    from dialer.outcomes import tallies as outcome_tallies

    table = Call._meta.db_table
    when = _ago(f"(contact_id * 7919) %% {FOUR_WEEKS}")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {_outcome_columns('contact_id', when)}, "
            f"phonon_uuid = CASE WHEN phonon_uuid = '' THEN 'u-' || client_identifier ELSE phonon_uuid END "
            f"WHERE campaign_id = %s AND state = 'placed'",
            [campaign_id],
        )
    outcome_tallies.outcomes_recount(campaign_id=campaign_id)


def redial_campaign(contact_list, *, name: str):
    """A running campaign with rules (busy and no answer called again 2 h later, 3 attempts in all)
    and 3 calls for every contact of the list: one INSERT ... SELECT per attempt."""
    from django.db import connection, transaction
    from django.utils import timezone

    from campaigns.models import Campaign, Contact
    from dialer import campaign_actions, tallies
    from dialer.models import Call
    from dialer.outcomes import tallies as outcome_tallies

    campaign = campaign_actions.campaign_create(contact_list=contact_list, name=name, window="00:00-24:00")
    calls, contacts = Call._meta.db_table, Contact._meta.db_table
    # Attempt 3 goes 0 to 4 weeks ago; each earlier attempt half an hour to a day before the next.
    gap = "(1800 + (id * 131) %% 84600)"
    third = f"((id * 7919) %% {FOUR_WEEKS})"
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")  # filler: no FK triggers
        for attempt in (1, 2, 3):
            back = f"({third} + {3 - attempt} * {gap})"
            when = _ago(back)
            if attempt < 3:
                outcome, cause, keys = "CASE WHEN id %% 2 = 0 THEN 'busy' ELSE 'no_answer' END", \
                    "CASE WHEN id %% 2 = 0 THEN 17 ELSE 19 END", "''"
                extra = "NULL, '', NULL, " + f"{when}"
            else:
                outcome, cause, keys = _OUTCOME_CASE.format(c="id"), _CAUSE_CASE.format(c="id"), \
                    _KEYS_CASE.format(c="id")
                extra = (f"CASE WHEN id %% 100 < 45 THEN 4000 + (id * 37) %% 90000 ELSE NULL END, "
                         f"CASE WHEN id %% 100 < 45 THEN {_number('id')} ELSE '' END, "
                         f"CASE WHEN id %% 100 < 45 THEN {when} ELSE NULL END, "
                         f"CASE WHEN id %% 100 < 93 THEN {when} ELSE NULL END")
            suffix = "" if attempt == 1 else f" || '-{attempt}'"
            cursor.execute(
                f"INSERT INTO {calls} (campaign_id, contact_id, batch_id, client_identifier, attempt, state, "
                f"phonon_uuid, provider_code, provider_message, updated_at, outcome, outcome_note, hangup_cause, "
                f"keys, talk_ms, answered_number, connected_at, outcome_at, pull_attempts) "
                f"SELECT %s, id, NULL, %s || '-' || id{suffix}, {attempt}, 'placed', "
                f"'r-' || %s || '-' || id || '-{attempt}', 200, 'Success', {when}, {outcome}, '', {cause}, {keys}, "
                f"{extra}, 0 FROM {contacts} WHERE contact_list_id = %s",
                [campaign.pk, campaign.token, campaign.pk, contact_list.pk],
            )
    now = timezone.now()
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.RUNNING, planned_at=now - datetime.timedelta(days=29),
        started_at=now - datetime.timedelta(days=29), redial_outcomes=["busy", "no_answer"],
        redial_after_seconds=7200, max_attempts=3, redials_checked_until=now,
        key_labels="1=confirmed, 2=cancel",
    )
    tallies.calls_recount(campaign_id=campaign.pk)
    outcome_tallies.outcomes_recount(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign
