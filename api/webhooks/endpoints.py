"""Webhook endpoints: register (the secret is returned once), rotate the secret, disable."""

import datetime

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from api.webhooks.addresses import AddressRefused, url_check
from api.webhooks.models import WebhookEndpoint
from api.webhooks.signing import new_secret
from events.models import Event


def webhook_endpoint_validate(*, url: str, events: list[str] | None) -> tuple[str, list[str]]:
    """The URL and event types cleaned, or ValueError with a sentence."""
    url = (url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError as error:
        raise ValueError(f"{url!r} is not a web address (https://...).") from error
    try:
        url_check(url)
    except AddressRefused as refused:
        raise ValueError(str(refused)) from refused
    events = list(dict.fromkeys(events or []))
    unknown = [name for name in events if name not in Event.Type.values]
    if unknown:
        raise ValueError(f"Unknown event type {unknown[0]!r}; the types are {', '.join(Event.Type.values)}.")
    return url, events


def webhook_endpoint_create(
    *, account, url: str, events: list[str] | None = None, description: str = "", created_by=None
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint of the account; the second value is its signing secret, shown once.
    Raises ValueError with a sentence."""
    url, events = webhook_endpoint_validate(url=url, events=events)
    if WebhookEndpoint.objects.filter(account=account, url=url).exists():
        # Two endpoints at one address would deliver every event twice.
        raise ValueError(f"{url} already receives this account's events; delete that webhook first to start "
                         "again with a new secret.")
    secret = new_secret()
    endpoint = WebhookEndpoint.objects.create(
        account=account, url=url, events=events, secret=secret, description=description[:200], created_by=created_by
    )
    return endpoint, secret


MAX_OVERLAP = datetime.timedelta(days=7)


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint, overlap: datetime.timedelta) -> str:
    """A new signing secret, returned once. For `overlap` the old one signs too (a second signature
    in each header), so receivers can switch without losing a delivery; 0 drops it at once.
    Raises ValueError with a sentence."""
    if not datetime.timedelta(0) <= overlap <= MAX_OVERLAP:
        raise ValueError("The old secret may keep signing for 0 to 7 days (168 hours).")
    secret = new_secret()
    endpoint.previous_secret = endpoint.secret if overlap else ""
    endpoint.previous_secret_expires_at = timezone.now() + overlap if overlap else None
    endpoint.secret = secret
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    return secret


def webhook_endpoint_disable(*, endpoint: WebhookEndpoint) -> None:
    """Nothing more is sent to it; pending deliveries fail on their next try."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)
