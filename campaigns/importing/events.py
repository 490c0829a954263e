"""The webhooks' outbox rows for a list's import: imported, refused or failed, in the same transaction."""

from campaigns.models import ContactList
from events.recording import event_record


def list_event_record(contact_list_id: int, event: str, **facts) -> None:
    account_id = ContactList.objects.filter(pk=contact_list_id).values_list("flow__account_id", flat=True).first()
    event_record(account=account_id, type=event, payload={"object": "list", "id": contact_list_id, **facts})
