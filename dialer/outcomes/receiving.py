"""A pushed delivery report, stored before the provider is answered (the view is a thin wrapper).

What the sender is told, and what is kept, for every kind of body:
- a report for one of the flow's calls (or one that may be a call held as "accepted, UUID
  unknown"): stored as pending, 200; a worker applies it;
- too large: its first bytes kept as "oversized", 413;
- not a report: kept as "malformed", 400;
- a uuid of another flow's call: kept as "refused" and logged, 422;
- a uuid that is no call of ours: kept as "unmatched", 422.
Nothing is lost: every body that reached a flow's URL is a row a person can look at.

The common case costs one statement: the report is inserted as pending only if its uuid is one of
the flow's calls, in autocommit, so the 200 is sent once the row is committed. Several web threads
commit at once and PostgreSQL flushes their commits together (group commit, synchronous all the
same); grouping them in the process first was measured slower (see api.report_wsgi).
"""

import ipaddress
import logging
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.db import IntegrityError, connection
from django.utils import timezone

from dialer.models import Call, OutcomeReport
from dialer.outcomes import matching, tasks
from flows.models import Flow
from flows.report_tokens import flow_for_report_token, report_tokens_forget
from phonon.reports import ReportMalformed, parse_push

log = logging.getLogger(__name__)

NO_FLOW = "No flow has this report URL (it may have been rotated)."
SENDER_REFUSED = "This sender's address is not on the report allow-list."


@dataclass(frozen=True)
class Answer:
    """What the report URL answers: a status and a small JSON object."""

    status: int
    payload: dict


def body_read_limit() -> int:
    """Bytes to read of a body: one past the limit tells an oversized body; the rest is never read."""
    return settings.OUTCOME_REPORT_MAX_BYTES + 1


def report_take(*, token: str, body: bytes, remote_addr: str | None) -> Answer:
    """Everything the report URL does with one request (the Django view and the lean WSGI path both
    call this): the flow by its secret (404), the allow-list (403), then the body stored (2xx/4xx)."""
    flow = flow_for_report_token(token)
    if flow is None:
        return Answer(404, {"error": NO_FLOW})
    if not sender_allowed(remote_addr):
        return Answer(403, {"error": SENDER_REFUSED})
    try:
        received = report_receive(flow=flow, body=body, remote_addr=remote_addr)
    except IntegrityError:
        # The flow was deleted while this process still remembered its secret: nothing to keep
        # the body against, so the sender hears what it would hear a moment later.
        report_tokens_forget()
        if flow_for_report_token(token) is None:
            return Answer(404, {"error": NO_FLOW})
        raise
    if received.stored_for_applying:
        tasks.apply_soon()
        return Answer(received.http_status, {"status": "stored", "report": received.report_id})
    return Answer(received.http_status, {"error": received.message, "report": received.report_id})


@dataclass(frozen=True)
class Received:
    http_status: int
    message: str
    report_id: int | None = None

    @property
    def stored_for_applying(self) -> bool:
        return self.http_status < 300


def report_receive(
    *, flow: Flow, body: bytes, remote_addr: str | None, source: str = OutcomeReport.Source.PUSH
) -> Received:
    limit = settings.OUTCOME_REPORT_MAX_BYTES
    if len(body) > limit:
        report = _keep(
            flow,
            body[:limit],
            remote_addr,
            source,
            OutcomeReport.Status.OVERSIZED,
            f"The body was {len(body)} bytes; at most {limit} are taken (kept cut).",
        )
        return Received(413, f"The report is larger than {limit} bytes.", report.pk)
    try:
        parsed = parse_push(body, zone=settings.PHONON_TIMEZONE)
    except ReportMalformed as error:
        report = _keep(flow, body, remote_addr, source, OutcomeReport.Status.MALFORMED, str(error))
        return Received(400, f"Not a delivery report: {error}", report.pk)
    uuid = parsed.phonon_uuid
    report_id = _keep_if_ours(flow, body, remote_addr, source, uuid)
    if report_id is not None:
        return Received(200, "Stored.", report_id)
    if matching.flow_may_hold_unknown_uuids(flow_id=flow.pk):
        report = _keep(flow, body, remote_addr, source, OutcomeReport.Status.PENDING, "", uuid)
        return Received(200, "Stored.", report.pk)
    if matching.uuid_of_another_flow(flow_id=flow.pk, phonon_uuid=uuid):
        log.warning("Delivery report for flow %s refused: uuid %s is a call of another flow", flow.flow_id, uuid)
        report = _keep(
            flow,
            body,
            remote_addr,
            source,
            OutcomeReport.Status.REFUSED,
            "The uuid is a call of another flow: not applied.",
            uuid,
        )
        return Received(422, "The phonon-uuid is not one of this flow's calls.", report.pk)
    report = _keep(
        flow, body, remote_addr, source, OutcomeReport.Status.UNMATCHED, "No call of this flow has this uuid.", uuid
    )
    return Received(422, "The phonon-uuid is not one of this flow's calls.", report.pk)


def _keep(flow, body: bytes, remote_addr, source, status, note, uuid="") -> OutcomeReport:
    return OutcomeReport.objects.create(
        flow_id=flow.pk,
        source=source,
        status=status,
        remote_addr=_address_or_none(remote_addr),
        phonon_uuid=uuid[:64],
        body=_text(body),
        note=note,
    )


def _keep_if_ours(flow, body: bytes, remote_addr, source, uuid: str) -> int | None:
    """The report stored as pending, committed, if the uuid is one of the flow's calls: its id, or
    None when it is not (nothing stored then: the caller decides what the body is). One statement
    in autocommit: it has committed when it returns."""
    fields = {field.name: field for field in OutcomeReport._meta.concrete_fields}
    values = [
        flow.pk,
        source,
        OutcomeReport.Status.PENDING,
        fields["received_at"].get_db_prep_value(timezone.now(), connection),
        fields["remote_addr"].get_db_prep_value(_address_or_none(remote_addr), connection),
        uuid[:64],
        _text(body),
        "",
    ]
    with connection.cursor() as cursor:
        cursor.execute(_insert_if_ours_sql(connection.vendor), [*values, uuid[:64], flow.pk])
        row = cursor.fetchone()
    return row[0] if row else None


@lru_cache(maxsize=4)
def _insert_if_ours_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    calls = quote(Call._meta.db_table)
    campaigns = quote(Call._meta.get_field("campaign").related_model._meta.db_table)
    columns = ("flow_id", "source", "status", "received_at", "remote_addr", "phonon_uuid", "body", "note")
    return (
        f"INSERT INTO {quote(OutcomeReport._meta.db_table)} ({', '.join(map(quote, columns))}) "
        f"SELECT {', '.join(['%s'] * len(columns))} WHERE EXISTS (SELECT 1 FROM {calls} "
        # The call is found by its uuid on the calls' partial index (its condition repeated), never
        # by the flow's campaigns' calls: the unary + keeps SQLite's planner off campaign_id's index.
        f"INNER JOIN {campaigns} ON +{calls}.campaign_id = {campaigns}.id "
        f"WHERE {calls}.phonon_uuid = %s AND NOT ({calls}.phonon_uuid = '') AND {campaigns}.flow_id = %s) "
        f"RETURNING {quote('id')}"
    )


def _text(body: bytes) -> str:
    # PostgreSQL's text holds no NUL: one in a (malformed) body would make it impossible to keep.
    return body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _address_or_none(remote_addr: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(remote_addr or ""))
    except ValueError:
        return None


def sender_allowed(remote_addr: str | None) -> bool:
    """OUTCOME_REPORT_ALLOWED_ADDRESSES (addresses or networks); empty allows every sender."""
    allowed = settings.OUTCOME_REPORT_ALLOWED_ADDRESSES
    if not allowed:
        return True
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in _networks(tuple(allowed)))


@lru_cache(maxsize=8)
def _networks(allowed: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(network, strict=False) for network in allowed)
