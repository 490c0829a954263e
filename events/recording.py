"""Writing events: the one function the lower layers call when something happens."""

from django.db import transaction
from django.utils import timezone

from events.models import Event


def event_record(*, account, type: str, payload: dict) -> Event:
    """Record that something happened. Call it inside the transaction of the change it records
    (it joins that transaction; alone, it is its own). `account` is an Account or its id."""
    if type not in Event.Type.values:
        raise ValueError(f"Unknown event type {type!r}.")
    with transaction.atomic():
        return Event.objects.create(
            account_id=getattr(account, "pk", account), type=type, occurred_at=timezone.now(), payload=payload
        )
