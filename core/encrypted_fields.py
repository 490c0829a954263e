"""Secrets at rest: fields stored encrypted with MultiFernet under FIELD_ENCRYPTION_KEYS.

The first key encrypts; every key decrypts, so a key can be rotated in (newest first), every row
re-encrypted with `rotate_encryption_keys`, and the old key then dropped.

A dump (`dumpdata`) holds the tokens, never the clear value: `value_to_string` encrypts and
`to_python` decrypts, so `loaddata` under the same keys round-trips.
"""

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction

TOKEN_PREFIX = "fernet:"
TOKEN_PREFIX_BYTES = TOKEN_PREFIX.encode()


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


def newest_fernet() -> MultiFernet:
    """The first key alone: a value it cannot read still needs an older key."""
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS[:1]))


def encrypt_text(value: str) -> str:
    return TOKEN_PREFIX + fernet().encrypt(value.encode()).decode()


def decrypt_text(stored: str) -> str:
    return decrypt_bytes(stored.encode()).decode()


def rotate_text(stored: str) -> str:
    """Re-encrypt a stored value under the newest key."""
    return rotate_bytes(stored.encode()).decode()


def encrypt_bytes(value: bytes) -> bytes:
    return TOKEN_PREFIX_BYTES + fernet().encrypt(value)


def _token(stored: bytes) -> bytes:
    if not stored.startswith(TOKEN_PREFIX_BYTES):
        raise ImproperlyConfigured("An encrypted field holds a value that is not encrypted.")
    return stored[len(TOKEN_PREFIX_BYTES) :]


def decrypt_bytes(stored: bytes, *, newest_only: bool = False) -> bytes:
    try:
        return (newest_fernet() if newest_only else fernet()).decrypt(_token(stored))
    except InvalidToken as error:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS (was a key dropped too early?)."
        ) from error


def rotate_bytes(stored: bytes) -> bytes:
    try:
        return TOKEN_PREFIX_BYTES + fernet().rotate(_token(stored))
    except InvalidToken as error:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS (was a key dropped too early?)."
        ) from error


class EncryptedTextField(models.TextField):
    """A text field whose value is a Fernet token in the database and plain text in Python."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt_text(value)

    def to_python(self, value):
        # A token (from a dump being loaded) becomes the clear value again; saving re-encrypts it.
        value = super().to_python(value)
        if isinstance(value, str) and value.startswith(TOKEN_PREFIX):
            return decrypt_text(value)
        return value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt_text(value)

    def value_to_string(self, obj):
        value = self.value_from_object(obj)
        return encrypt_text(value) if value else value


class EncryptedBinaryField(models.BinaryField):
    """Bytes stored as `fernet:<token>` and handed back as the exact bytes that were saved
    (a frozen request body that carries a security-id, for instance)."""

    def from_db_value(self, value, expression, connection):
        if value is None or len(value) == 0:
            return value
        return decrypt_bytes(bytes(value))

    def to_python(self, value):
        value = super().to_python(value)  # base64 text from a dump -> bytes
        if isinstance(value, bytes | memoryview) and bytes(value).startswith(TOKEN_PREFIX_BYTES):
            return decrypt_bytes(bytes(value))
        return value

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is not None and len(value) > 0:
            value = encrypt_bytes(bytes(value))
        return super().get_db_prep_value(value, connection, prepared)

    def value_to_string(self, obj):
        value = self.value_from_object(obj)
        if not value:
            return value
        return base64.b64encode(encrypt_bytes(bytes(value))).decode("ascii")


ENCRYPTED_FIELD_CLASSES = (EncryptedTextField, EncryptedBinaryField)


# --- Key rotation -----------------------------------------------------------------------------


def encrypted_models() -> list[tuple[type[models.Model], list[models.Field]]]:
    """Every concrete model with encrypted fields whose table exists, found through the app registry
    (a model whose migration has not run yet has no rows to re-encrypt)."""
    tables = set(connection.introspection.table_names())
    found = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed or model._meta.db_table not in tables:
            continue
        fields = [field for field in model._meta.local_concrete_fields if isinstance(field, ENCRYPTED_FIELD_CLASSES)]
        if fields:
            found.append((model, fields))
    return found


def _stored_rows(model, fields, *, after, limit):
    """Primary keys and stored tokens, read past the fields' decryption."""
    quote = connection.ops.quote_name
    pk = model._meta.pk.column
    columns = ", ".join(quote(field.column) for field in fields)
    where = "" if after is None else f"WHERE {quote(pk)} > %s "
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote(pk)}, {columns} FROM {quote(model._meta.db_table)} {where}ORDER BY {quote(pk)} LIMIT %s",
            [limit] if after is None else [after, limit],
        )
        return cursor.fetchall()


def _rotate_stored(value):
    if isinstance(value, str):
        return rotate_text(value)
    return rotate_bytes(bytes(value))


def secrets_rotate(*, batch_size: int = 500) -> dict[str, dict[str, int]]:
    """Re-encrypt every stored secret under the newest key, a batch of rows at a time.

    Each row is written with a compare-and-set on the tokens read, so a value changed meanwhile
    (already under the newest key, if every process has the new key list) is left alone and
    counted as `changed`. Running it again is harmless."""
    quote = connection.ops.quote_name
    counts = {}
    for model, fields in encrypted_models():
        label = model._meta.label
        counts[label] = {"rows": 0, "rotated": 0, "changed": 0}
        table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
        last = None
        while rows := _stored_rows(model, fields, after=last, limit=batch_size):
            with transaction.atomic():
                for pk_value, *stored in rows:
                    counts[label]["rows"] += 1
                    present = [(field, value) for field, value in zip(fields, stored) if value]
                    if not present:
                        continue
                    sets = ", ".join(f"{quote(field.column)} = %s" for field, _ in present)
                    where = " AND ".join(f"{quote(field.column)} = %s" for field, _ in present)
                    params = [_rotate_stored(value) for _, value in present]
                    params += [pk_value] + [value for _, value in present]
                    with connection.cursor() as cursor:
                        cursor.execute(f"UPDATE {table} SET {sets} WHERE {pk} = %s AND {where}", params)
                        counts[label]["rotated" if cursor.rowcount == 1 else "changed"] += 1
            last = rows[-1][0]
    return counts


def secrets_not_under_newest_key() -> dict[str, int]:
    """Per model, the stored values that the newest key alone cannot decrypt (0 everywhere:
    the older keys can be dropped)."""
    result = {}
    for model, fields in encrypted_models():
        stale = 0
        last = None
        while rows := _stored_rows(model, fields, after=last, limit=1000):
            for _, *stored in rows:
                for value in stored:
                    if not value:
                        continue
                    raw = value.encode() if isinstance(value, str) else bytes(value)
                    try:
                        decrypt_bytes(raw, newest_only=True)
                    except ImproperlyConfigured:
                        stale += 1
            last = rows[-1][0]
        result[model._meta.label] = stale
    return result


def mask_secret(value: str | None) -> str:
    """Show a secret as its last 4 characters, as admins and pages do."""
    if not value:
        return ""
    return "••••" + value[-4:] if len(value) > 4 else "••••"
