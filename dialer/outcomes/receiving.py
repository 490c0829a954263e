"""A pushed delivery report, stored before the provider is answered (the view is a thin wrapper).

What the sender is told, and what is kept, for every kind of body:
- a report for one of the flow's calls (or one that may be a call held as "accepted, UUID
  unknown"): stored as pending, 200; a worker applies it;
- too large: its first bytes kept as "oversized", 413;
- not a report: kept as "malformed", 400;
- a uuid of another flow's call: kept as "refused" and logged, 422;
- a uuid that is no call of ours: kept as "unmatched", 422.
Nothing is lost: every body that reached a flow's URL is a row a person can look at.
"""

import ipaddress
import logging
from dataclasses import dataclass

from django.conf import settings

from dialer.models import Call, OutcomeReport
from dialer.outcomes import matching
from flows.models import Flow
from phonon.reports import ReportMalformed, parse_push

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Received:
    http_status: int
    message: str
    report_id: int | None = None

    @property
    def stored_for_applying(self) -> bool:
        return self.http_status < 300


def flow_for_token(token: str) -> Flow | None:
    if not token or len(token) > 64:
        return None
    return Flow.objects.filter(report_token=token).only("id", "flow_id").first()


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
    ours = Call.objects.filter(phonon_uuid=uuid, campaign__flow_id=flow.pk).exists()
    if ours or matching.flow_may_hold_unknown_uuids(flow_id=flow.pk):
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
        remote_addr=remote_addr or None,
        phonon_uuid=uuid[:64],
        body=body.decode("utf-8", errors="replace"),
        note=note,
    )


def sender_allowed(remote_addr: str | None) -> bool:
    """OUTCOME_REPORT_ALLOWED_ADDRESSES (addresses or networks); empty allows every sender."""
    allowed = settings.OUTCOME_REPORT_ALLOWED_ADDRESSES
    if not allowed:
        return True
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network, strict=False) for network in allowed)
