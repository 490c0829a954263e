"""API keys of an account, remembered Idempotency-Key answers, and lists filled with JSON rows."""

from django.conf import settings
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey

from api.webhooks.models import Delivery, DeliveryAttempt, WebhookEndpoint  # noqa: F401 - models of this app
from campaigns.models import ContactList
from flows.models import Account


class AccountAPIKey(AbstractAPIKey):
    """A key of one account: it sees that account's flows, lists and campaigns, nothing else.
    Only a hash is stored; the visible prefix identifies it in lists and logs."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_keys")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"


class IdempotentRequest(models.Model):
    """The first answer to a POST carrying an Idempotency-Key, replayed to repeats for a day.
    `status_code` stays empty while the first request is still being handled. Keys are the account's,
    as Stripe scopes them: a CRM retrying with its second key gets the first key's answer."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="idempotent_requests")
    api_key = models.ForeignKey(AccountAPIKey, on_delete=models.CASCADE, related_name="idempotent_requests")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and parsed body.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.BinaryField(blank=True, default=b"")
    headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "key"], name="idempotency_key_once_per_account"),
        ]


class OpenList(models.Model):
    """A list filled with JSON rows over several requests. Rows are appended to a private file (one
    JSON object a line); closing the list writes them as a CSV and hands it to the importer."""

    contact_list = models.OneToOneField(ContactList, on_delete=models.CASCADE, related_name="open_list")
    rows_file = models.CharField(max_length=500, help_text="Path under MEDIA_ROOT; never served.")
    # What the committed rows occupy: an append that failed after writing is cut off here next time.
    size_bytes = models.BigIntegerField(default=0)
    rows_received = models.PositiveIntegerField(default=0)
    closed_at = models.DateTimeField(null=True, blank=True)
