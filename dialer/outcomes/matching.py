"""Reports for calls we hold as "accepted, UUID unknown" (the provider took a resent body with 201
and never said the uuids): tied to a call of the same flow by the callee number and the time the
call was sent, or left unmatched for a person to see.
"""

import datetime

from django.db.models import Q

from dialer.models import Batch, Call
from phonon.reports import Report

# How long before a leg's start the call may have been sent and still be the one it reports on.
MATCH_WINDOW = datetime.timedelta(hours=24)
# The provider's clock and ours may differ by this much.
CLOCK_SKEW = datetime.timedelta(minutes=5)
# Calls looked at by number when the number is not the contact's first one.
SCAN_LIMIT = 5000


def call_for_unknown_uuid(*, flow_id: int, report: Report) -> Call | None:
    """The call of this flow, accepted with its uuid unknown, that one of the report's legs dialled:
    among the calls with that number, the one sent last before the leg started. Its uuid is
    written, so that the next report for it is matched directly."""
    numbers = {leg.callee_number for leg in report.legs if leg.callee_number}
    if not numbers:
        return None
    started = [leg.started_at or leg.ringing_at for leg in report.legs if leg.started_at or leg.ringing_at]
    start = min(started) if started else None
    held = Call.objects.filter(
        state=Call.State.ACCEPTED_UNKNOWN, phonon_uuid="", campaign__flow_id=flow_id
    ).select_related("contact", "batch")
    if start is not None:
        held = held.filter(Q(batch__frozen_at__isnull=True) | Q(batch__frozen_at__gte=start - MATCH_WINDOW))
    candidates = list(held.filter(contact__primary_number__in=numbers)) or [
        call for call in held.order_by("-id")[:SCAN_LIMIT] if numbers & set(call.contact.numbers or [])
    ]
    if start is not None:
        candidates = [call for call in candidates if _sent_at(call) is None or _sent_at(call) <= start + CLOCK_SKEW]
    elif len(candidates) != 1:
        return None  # no time to choose by
    if not candidates:
        return None
    call = max(
        candidates, key=lambda call: (_sent_at(call) or datetime.datetime.min.replace(tzinfo=datetime.UTC), call.pk)
    )
    # Conditional, so that two appliers never give one call two uuids.
    if not Call.objects.filter(pk=call.pk, phonon_uuid="").update(phonon_uuid=report.phonon_uuid):
        return None
    call.phonon_uuid = report.phonon_uuid
    return call


def _sent_at(call: Call):
    """When the call's request first left: its body is frozen just before the first send."""
    if not call.batch_id or not call.batch:
        return None
    return call.batch.frozen_at or call.batch.completed_at


def uuid_of_another_flow(*, flow_id: int, phonon_uuid: str) -> bool:
    return Call.objects.filter(phonon_uuid=phonon_uuid).exclude(campaign__flow_id=flow_id).exists()


# Sends whose answer is not read yet: the provider may have taken their calls already.
IN_FLIGHT = (Batch.Status.SENDING, Batch.Status.UNCERTAIN, Batch.Status.RETRY_WAIT, Batch.Status.QUEUED)


def flow_has_calls_in_flight(*, flow_id: int) -> bool:
    """A request of the flow may have reached the provider without its answer read: a report for
    one of its calls can come before we know the call's uuid."""
    return Batch.objects.filter(campaign__flow_id=flow_id, status__in=IN_FLIGHT, maybe_delivered=True).exists()


def flow_may_hold_unknown_uuids(*, flow_id: int) -> bool:
    """An unknown uuid may still be one of the flow's calls: some are held as accepted with their
    uuid unknown, or in flight."""
    held = Call.objects.filter(campaign__flow_id=flow_id, state=Call.State.ACCEPTED_UNKNOWN, phonon_uuid="")
    return held.exists() or flow_has_calls_in_flight(flow_id=flow_id)
