"""Stored delivery reports applied to their calls: legs kept once per cdrId, the outcome derived
again from all of a call's legs and written only forward, the tallies moved in the same
transaction. Safe to run twice and in any order; a worker killed half way applies nothing.

Two paths, one transaction a chunk. On PostgreSQL the bulk goes through applying_sql (set-based:
parsed, derived and written in the database), and only the reports it does not read come here.
On SQLite (development and tests, one writer) every report comes here: its JSON functions could
read the bodies, but its date functions keep milliseconds only and have no time-zone arithmetic,
so the times would differ from Python's reading; Python is the reference the SQL is tested against.
"""

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from dialer.models import Call, CallLeg, CallMessage, CallOutcome, OutcomeReport
from dialer.outcomes import applying_sql, matching
from dialer.outcomes.deriving import call_derive, leg_richer
from dialer.outcomes.events import outcome_changes_note
from dialer.outcomes.tallies import GIVEN_UP, Delta
from phonon.causes import moves_forward
from phonon.reports import Key, Leg, Report, ReportMalformed, parse_push

log = logging.getLogger(__name__)

# Reports applied in one transaction: large enough that each statement carries many rows.
APPLY_BATCH = 500
# A report that matched no call while its flow had sends in flight is tried again this often, for
# this long after it came, before it is left unmatched for a person.
RETRY_SECONDS = 10
RETRY_FOR = datetime.timedelta(hours=1)
CALL_FIELDS = (
    "outcome",
    "outcome_note",
    "hangup_cause",
    "answered_number",
    "talk_ms",
    "keys",
    "connected_at",
    "outcome_at",
)


@dataclass
class Applied:
    reports: int = 0
    calls_changed: int = 0
    unmatched: int = 0
    refused: int = 0
    malformed: int = 0
    deferred: int = 0


def pending_report_ids(*, limit: int = APPLY_BATCH, older_than: datetime.datetime | None = None) -> list[int]:
    reports = OutcomeReport.objects.filter(status=OutcomeReport.Status.PENDING)
    if older_than is not None:
        reports = reports.filter(received_at__lt=older_than)
    return list(reports.order_by("id").values_list("id", flat=True)[:limit])


def reports_apply(*, report_ids: list[int] | None = None, limit: int = APPLY_BATCH) -> Applied:
    """Apply stored pending reports (these, or the oldest `limit`), in one transaction: on
    PostgreSQL in a few set-based statements (applying_sql), the reports it does not read and
    every report on SQLite here, one by one in Python."""
    applied = Applied()
    with transaction.atomic():
        reports = (
            OutcomeReport.objects.filter(status=OutcomeReport.Status.PENDING)
            .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=timezone.now()))
            .order_by("id")
        )
        if report_ids is not None:
            reports = reports.filter(pk__in=report_ids)
        if connection.vendor == "postgresql":
            # Two appliers take disjoint reports; the calls are locked too.
            ids = list(reports.select_for_update(skip_locked=True).values_list("id", flat=True)[:limit])
            if not ids:
                return applied
            ids = applying_sql.reports_apply_sql(ids, timezone.now(), applied)
            if not ids:
                return applied
            reports = OutcomeReport.objects.filter(pk__in=ids).order_by("id")
        reports = list(
            reports.only(
                "id",
                "flow_id",
                "body",
                "source",
                "phonon_uuid",
                "received_at",
                "retry_at",
                "status",
                "note",
                "applied_at",
                "call_id",
            )[:limit]
        )
        if not reports:
            return applied
        _apply(reports, applied)
    return applied


def _apply(reports: list[OutcomeReport], applied: Applied) -> None:
    now = timezone.now()
    zone = settings.PHONON_TIMEZONE
    parsed: dict[int, Report] = {}
    for report in reports:
        try:
            parsed[report.pk] = parse_push(report.body.encode(), zone=zone)
        except ReportMalformed as error:
            _finish(report, OutcomeReport.Status.MALFORMED, str(error), now)
            applied.malformed += 1
    calls = _calls_of(reports, parsed)
    for report in reports:
        if report.pk not in parsed:
            continue
        uuid = parsed[report.pk].phonon_uuid
        if (report.flow_id, uuid) in calls:
            continue
        call = matching.call_for_unknown_uuid(flow_id=report.flow_id, report=parsed[report.pk])
        if call is not None:
            calls[(report.flow_id, uuid)] = call
            continue
        if matching.uuid_of_another_flow(flow_id=report.flow_id, phonon_uuid=uuid):
            _finish(report, OutcomeReport.Status.REFUSED, "The uuid is a call of another flow: not applied.", now)
            log.warning("Outcome report %s refused: uuid %s belongs to another flow", report.pk, uuid)
            applied.refused += 1
        elif report.received_at > now - RETRY_FOR and matching.flow_has_calls_in_flight(flow_id=report.flow_id):
            report.retry_at = now + datetime.timedelta(seconds=RETRY_SECONDS)
            report.note = "No call has this uuid yet, but the flow has sends whose answer is not read: tried again."
            applied.deferred += 1
        else:
            _finish(
                report,
                OutcomeReport.Status.UNMATCHED,
                "No call of this flow has this uuid, and no call held as accepted with its uuid unknown "
                "matches the callee number and time.",
                now,
            )
            applied.unmatched += 1
    legs_by_call = _merge_legs(reports, parsed, calls)
    _store_messages(reports, parsed, calls)
    delta = Delta()
    changed = []
    for call in {call.pk: call for call in calls.values()}.values():
        derived = call_derive(legs_by_call.get(call.pk, []))
        if derived.outcome == CallOutcome.UNKNOWN:
            continue
        outcome = derived.outcome.value
        if outcome != call.outcome and not moves_forward(call.outcome, outcome):
            continue  # never backwards (answered stays answered)
        new = {
            "outcome": outcome,
            "outcome_note": "",
            "hangup_cause": derived.hangup_cause,
            "answered_number": derived.answered_number,
            "talk_ms": derived.talk_ms,
            "keys": derived.keys,
            "connected_at": derived.connected_at,
        }
        if all(getattr(call, name) == value for name, value in new.items()):
            continue
        old_key = GIVEN_UP if call.outcome == CallOutcome.UNKNOWN and call.outcome_note else call.outcome
        delta.move(
            call.campaign_id, old=old_key, new=outcome, old_talk=call.talk_ms or 0, new_talk=derived.talk_ms or 0
        )
        delta.keys_changed(call.campaign_id, old=call.keys, new=derived.keys)
        for name, value in new.items():
            setattr(call, name, value)
        call.outcome_at = now
        changed.append(call)
    if changed:
        _update_rows(Call, CALL_FIELDS, changed)
        outcome_changes_note(changed)
    delta.write(shard=reports[0].pk)
    by_call = {(flow_id, uuid): call.pk for (flow_id, uuid), call in calls.items()}
    for report in reports:
        report_parsed = parsed.get(report.pk)
        if report_parsed is None or report.status != OutcomeReport.Status.PENDING:
            continue
        call_id = by_call.get((report.flow_id, report_parsed.phonon_uuid))
        if call_id is not None:
            report.call_id = call_id
            _finish(report, OutcomeReport.Status.APPLIED, "", now)
            applied.reports += 1
    _update_rows(OutcomeReport, ("status", "note", "applied_at", "call", "retry_at"), reports)
    applied.calls_changed += len(changed)


def insert_rows(model, names, objects) -> None:
    """Insert these rows with these fields in a few statements, without Django's per-value work
    (bulk_create of the legs took half of the applying time)."""
    if not objects:
        return
    fields = [model._meta.get_field(name) for name in names]
    table = model._meta.db_table
    columns = ", ".join(field.column for field in fields)
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: the `connection` proxy costs a lookup a value
    rows = [[field.get_db_prep_save(getattr(obj, field.attname), db) for field in fields] for obj in objects]
    placeholder = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), APPLY_BATCH):
            chunk = rows[start : start + APPLY_BATCH]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([placeholder] * len(chunk))}",
                [value for row in chunk for value in row],
            )


def _update_rows(model, names, objects) -> None:
    """Write these fields of these rows in one statement (Django's bulk_update builds a CASE per
    field and row, which took most of the applying time)."""
    fields = [model._meta.get_field(name) for name in names]
    table, pk = model._meta.db_table, model._meta.pk.column
    db = connections[DEFAULT_DB_ALIAS]
    rows = [[obj.pk, *[field.get_db_prep_save(getattr(obj, field.attname), db) for field in fields]] for obj in objects]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            casts = [
                "bigint",
                *[field.db_type(connection).split("(")[0].replace("serial", "integer") for field in fields],
            ]
            placeholder = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
            columns = ", ".join(f"{field.column} = v.{field.column}" for field in fields)
            names_sql = ", ".join(["id", *[field.column for field in fields]])
            for start in range(0, len(rows), APPLY_BATCH):
                chunk = rows[start : start + APPLY_BATCH]
                cursor.execute(
                    f"UPDATE {table} AS t SET {columns} FROM (VALUES {', '.join([placeholder] * len(chunk))}) "
                    f"AS v({names_sql}) WHERE t.{pk} = v.id",
                    [value for row in chunk for value in row],
                )
        else:
            columns = ", ".join(f"{field.column} = %s" for field in fields)
            cursor.executemany(f"UPDATE {table} SET {columns} WHERE {pk} = %s", [[*row[1:], row[0]] for row in rows])


def _finish(report: OutcomeReport, status: str, note: str, now) -> None:
    report.status, report.note, report.applied_at = status, note, now


def _calls_of(reports, parsed) -> dict[tuple[int, str], Call]:
    """{(flow id, uuid): Call} for the reports' uuids among their flows' calls, locked on PostgreSQL
    (in id order, so that two appliers never wait on each other in a circle)."""
    by_flow: dict[int, set[str]] = {}
    for report in reports:
        if report.pk in parsed:
            by_flow.setdefault(report.flow_id, set()).add(parsed[report.pk].phonon_uuid)
    found = {}
    for flow_id, uuids in by_flow.items():
        calls = Call.objects.filter(phonon_uuid__in=uuids, campaign__flow_id=flow_id).order_by("id")
        if connection.vendor == "postgresql":
            calls = calls.select_for_update(of=("self",))
        for call in calls.only("id", "campaign_id", "phonon_uuid", "contact_id", *CALL_FIELDS):
            found[(flow_id, call.phonon_uuid)] = call
    return found


def _merge_legs(reports, parsed, calls) -> dict[int, list[Leg]]:
    """Store the reports' legs (new cdrIds added, a richer copy replacing a poorer one) and return
    every leg of the touched calls."""
    incoming: dict[tuple[int, str], tuple[Leg, int]] = {}
    for report in reports:
        report_parsed = parsed.get(report.pk)
        call = calls.get((report.flow_id, report_parsed.phonon_uuid)) if report_parsed else None
        if call is None:
            continue
        for leg in report_parsed.legs:
            key = (call.pk, leg.cdr_id)
            held = incoming.get(key)
            if held is None or leg_richer(leg, held[0]):
                incoming[key] = (leg, report.pk)
    call_ids = {call.pk for call in calls.values()}
    stored = {(row.call_id, row.cdr_id): row for row in CallLeg.objects.filter(call_id__in=call_ids)}
    to_create, to_update = [], []
    for (call_id, cdr_id), (leg, report_id) in incoming.items():
        row = stored.get((call_id, cdr_id))
        if row is None:
            row = CallLeg(call_id=call_id, cdr_id=cdr_id)
            _fill(row, leg, report_id)
            to_create.append(row)
            stored[(call_id, cdr_id)] = row
        elif leg_richer(leg, leg_of(row)):
            _fill(row, leg, report_id)
            to_update.append(row)
    insert_rows(CallLeg, ("call", "cdr_id", *LEG_FIELDS), to_create)
    if to_update:
        CallLeg.objects.bulk_update(to_update, LEG_FIELDS, batch_size=APPLY_BATCH)
    legs: dict[int, list[Leg]] = {}
    for (call_id, _), row in stored.items():
        legs.setdefault(call_id, []).append(leg_of(row))
    return legs


LEG_FIELDS = (
    "report",
    "callee_number",
    "did_number",
    "started_at",
    "ringing_at",
    "rang",
    "connected_at",
    "ended_at",
    "duration_ms",
    "hangup_cause",
    "remote_hangup",
    "keys",
    "raw",
)


def _fill(row: CallLeg, leg: Leg, report_id: int) -> None:
    row.report_id = report_id
    for name in (
        "callee_number",
        "did_number",
        "started_at",
        "ringing_at",
        "rang",
        "connected_at",
        "ended_at",
        "duration_ms",
        "hangup_cause",
        "remote_hangup",
        "raw",
    ):
        setattr(row, name, getattr(leg, name))
    row.keys = [{"key": key.key, "at": key.at.isoformat() if key.at else None, "label": key.label} for key in leg.keys]


def leg_of(row: CallLeg) -> Leg:
    return Leg(
        cdr_id=row.cdr_id,
        callee_number=row.callee_number,
        did_number=row.did_number,
        started_at=row.started_at,
        ringing_at=row.ringing_at,
        rang=row.rang,
        connected_at=row.connected_at,
        ended_at=row.ended_at,
        duration_ms=row.duration_ms,
        hangup_cause=row.hangup_cause,
        remote_hangup=row.remote_hangup,
        keys=tuple(
            Key(
                press.get("key", ""),
                datetime.datetime.fromisoformat(press["at"]) if press.get("at") else None,
                press.get("label", ""),
            )
            for press in row.keys or []
        ),
    )


def _store_messages(reports, parsed, calls) -> None:
    rows = []
    for report in reports:
        report_parsed = parsed.get(report.pk)
        call = calls.get((report.flow_id, report_parsed.phonon_uuid)) if report_parsed else None
        if call is None:
            continue
        for kind, items in ((CallMessage.Kind.SMS, report_parsed.sms), (CallMessage.Kind.EMAIL, report_parsed.emails)):
            for item in items:
                rows.append(
                    CallMessage(
                        call_id=call.pk,
                        kind=kind,
                        message_id=str(item.get("id") or "")[:200],
                        recipient=str(item.get("to") or "")[:200],
                        sender=str(item.get("from") or "")[:200],
                        text=str(item.get("text") or item.get("subject") or ""),
                        status=str(item.get("deliveryStatus") or "")[:64],
                        sent_at=str(item.get("sendTime") or "")[:64],
                        raw=item,
                    )
                )
    if rows:
        CallMessage.objects.bulk_create(rows, ignore_conflicts=True, batch_size=APPLY_BATCH)
