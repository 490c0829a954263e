"""Secrets at rest: text fields stored encrypted with MultiFernet under FIELD_ENCRYPTION_KEYS.

The first key encrypts; every key decrypts, so a key can be rotated in (newest first), every row
re-encrypted with `rotate_encryption_keys`, and the old key then dropped.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

TOKEN_PREFIX = "fernet:"


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError) as error:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64 bytes each)."
        ) from error


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt_text(value: str) -> str:
    return TOKEN_PREFIX + fernet().encrypt(value.encode()).decode()


def decrypt_text(stored: str) -> str:
    if not stored.startswith(TOKEN_PREFIX):
        raise ImproperlyConfigured("An encrypted field holds a value that is not encrypted.")
    try:
        return fernet().decrypt(stored[len(TOKEN_PREFIX) :].encode()).decode()
    except InvalidToken as error:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS (was a key dropped too early?)."
        ) from error


def rotate_text(stored: str) -> str:
    """Re-encrypt a stored value under the newest key."""
    return TOKEN_PREFIX + fernet().rotate(stored[len(TOKEN_PREFIX) :].encode()).decode()


class EncryptedTextField(models.TextField):
    """A text field whose value is a Fernet token in the database and plain text in Python."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt_text(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt_text(value)


def mask_secret(value: str | None) -> str:
    """Show a secret as its last 4 characters, as admins and pages do."""
    if not value:
        return ""
    return "••••" + value[-4:] if len(value) > 4 else "••••"
