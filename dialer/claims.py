"""Who owns a batch: the compare-and-set claim with a lease, its release, and the lost-claim signal."""

import datetime
import uuid

from django.conf import settings
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from dialer.models import Batch

S = Batch.Status


def lease_until() -> datetime.datetime:
    return timezone.now() + datetime.timedelta(seconds=settings.DISPATCH_LEASE_SECONDS)


def batch_claim(*, batch_id: int) -> str | None:
    """Take the batch for this worker. Returns the claim token, or None if someone else has it."""
    now = timezone.now()
    token = uuid.uuid4().hex
    claimed = (
        Batch.objects.filter(pk=batch_id)
        .filter(Q(status=S.QUEUED) | Q(status=S.SENDING, lease_until__lt=now))
        .update(status=S.SENDING, claim_token=token, lease_until=lease_until(), updated_at=now)
    )
    return token if claimed == 1 else None


def claimed(batch_id: int, token: str):
    return Batch.objects.filter(pk=batch_id, status=S.SENDING, claim_token=token)


def attempt_taken_back(delivered_before: bool) -> dict:
    """The fields that take back an attempt recorded for a request that then never left (dispatch
    records it before asking for a grant). Only the claim's holder can have changed them since, so
    the value it loaded is the truth; had the worker died instead, the record would stay, which
    only errs on the safe side (the batch is resent byte for byte)."""
    return {"attempts": F("attempts") - 1, "maybe_delivered": delivered_before}


def batch_release(*, batch_id: int, token: str, wait_seconds: float = 0.0,
                  unsent_delivered_before: bool | None = None) -> bool:
    """Hand a claimed batch back unsent, to be queued again after `wait_seconds`, in one statement.
    `unsent_delivered_before` (not None): take back the attempt recorded for it (attempt_taken_back)."""
    fields = {}
    if unsent_delivered_before is not None:
        fields = attempt_taken_back(unsent_delivered_before)
        status = S.UNCERTAIN if unsent_delivered_before else S.PLANNED
    else:
        status = Case(When(maybe_delivered=True, then=Value(S.UNCERTAIN)), default=Value(S.PLANNED))
    return bool(
        claimed(batch_id, token).update(
            status=status, claim_token="", lease_until=None,
            next_attempt_at=timezone.now() + datetime.timedelta(seconds=wait_seconds) if wait_seconds else None,
            updated_at=timezone.now(), **fields,
        )
    )


class LostClaim(Exception):
    """The lease ran out and another worker owns the batch now."""
