"""API keys: create (the whole key is returned once), revoke, and note when a key was last used."""

import datetime

from django.utils import timezone

from api.models import AccountAPIKey

# A key used many times a second is written at most this often.
LAST_USED_PRECISION = datetime.timedelta(seconds=60)


def api_key_create(*, account, name: str, created_by=None) -> tuple[AccountAPIKey, str]:
    """A new key for the account; the second value is the whole key, never stored, shown once."""
    name = (name or "").strip()
    if not name:
        raise ValueError("Give the key a name, so that you know later which system uses it.")
    if len(name) > AccountAPIKey._meta.get_field("name").max_length:
        raise ValueError("A key's name is at most 50 characters.")
    return AccountAPIKey.objects.create_key(account=account, name=name, created_by=created_by)


def api_key_revoke(*, api_key: AccountAPIKey) -> None:
    """Revoked for good: requests with it are refused from now on."""
    AccountAPIKey.objects.filter(pk=api_key.pk).update(revoked=True)


def api_key_find(raw: str) -> AccountAPIKey | None:
    """The usable key this secret belongs to, or None (unknown, revoked, expired or wrong)."""
    prefix, dot, _ = (raw or "").partition(".")
    if not dot:
        return None
    api_key = AccountAPIKey.objects.get_usable_keys().select_related("account").filter(prefix=prefix).first()
    if api_key is None or api_key.has_expired or not api_key.is_valid(raw):
        return None
    return api_key


def api_key_touch(*, api_key: AccountAPIKey) -> None:
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_PRECISION:
        AccountAPIKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
