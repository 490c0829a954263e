"""The JSON a webhook carries: the event's id, type and time, and the object as the API returns it."""

import json

from django.core.serializers.json import DjangoJSONEncoder

from api.serializers import CampaignSerializer, ContactListSerializer
from campaigns.models import Campaign, ContactList
from events.models import Event

OBJECTS = {
    "campaign": (Campaign.objects.select_related("flow"), CampaignSerializer),
    "list": (ContactList.objects.select_related("flow", "open_list"), ContactListSerializer),
}


def event_object(payload: dict) -> dict:
    """The object read now, with the facts recorded at the event laid over it (a pause's status and
    reason stay those of the pause even if the campaign was resumed since)."""
    kind = payload.get("object")
    facts = {key: value for key, value in payload.items() if key not in ("object", "id")}
    queryset, serializer = OBJECTS.get(kind, (None, None))
    found = queryset.filter(pk=payload.get("id")).first() if queryset is not None else None
    data = dict(serializer(found).data) if found is not None else {"id": payload.get("id")}
    return {"object": kind, **data, **facts}


def event_body(event: Event) -> str:
    return json.dumps(
        {
            "id": str(event.event_id),
            "type": event.type,
            "occurred_at": event.occurred_at,
            "account": event.account.client_id,
            "sequence": event.sequence,
            "data": event_object(event.payload),
        },
        cls=DjangoJSONEncoder,
        separators=(",", ":"),
    )
