"""Writing events: the one function the lower layers call when something happens."""

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from events.models import Event

SEQUENCE_TRIES = 5


def event_record(*, account, type: str, payload: dict) -> Event:
    """Record that something happened. Call it inside the transaction of the change it records
    (it joins that transaction; alone, it is its own). `account` is an Account or its id.

    The event gets the next sequence number of its object (payload "object" and "id"). The callers
    change that object's row in the same transaction, which holds the row until commit, so two
    events of one object are numbered one after the other; the unique constraint is the backstop."""
    if type not in Event.Type.values:
        raise ValueError(f"Unknown event type {type!r}.")
    object_type, object_id = str(payload.get("object", "")), payload.get("id")
    for attempt in range(SEQUENCE_TRIES):
        try:
            with transaction.atomic():
                last = Event.objects.filter(object_type=object_type, object_id=object_id).aggregate(
                    last=Max("sequence")
                )["last"]
                return Event.objects.create(
                    account_id=getattr(account, "pk", account),
                    type=type,
                    occurred_at=timezone.now(),
                    payload=payload,
                    object_type=object_type,
                    object_id=object_id,
                    sequence=(last or 0) + 1,
                )
        except IntegrityError:
            if attempt == SEQUENCE_TRIES - 1:
                raise
    raise AssertionError("unreachable")
