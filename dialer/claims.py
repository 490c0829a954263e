"""Who owns a batch: the compare-and-set claim with a lease, its release, and the lost-claim signal."""

import datetime
import uuid

from django.conf import settings
from django.db.models import Q
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


def batch_release(*, batch_id: int, token: str, wait_seconds: float = 0.0) -> bool:
    """Hand a claimed batch back unsent, to be queued again after `wait_seconds`."""
    return bool(
        claimed(batch_id, token).update(
            status=S.UNCERTAIN if Batch.objects.filter(pk=batch_id, maybe_delivered=True).exists() else S.PLANNED,
            claim_token="", lease_until=None,
            next_attempt_at=timezone.now() + datetime.timedelta(seconds=wait_seconds) if wait_seconds else None,
            updated_at=timezone.now(),
        )
    )


class LostClaim(Exception):
    """The lease ran out and another worker owns the batch now."""
