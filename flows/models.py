"""Accounts (the provider's client IDs), their flows (with the encrypted security-id) and DIDs."""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from core.encrypted_fields import EncryptedTextField
from phonon.envelope import PublicKeyRefused, validate_public_key
from phonon.limits import FLOW_ID_LENGTH, FLOW_ID_PATTERN

flow_id_validator = RegexValidator(
    rf"^{FLOW_ID_PATTERN.pattern}$",
    f"A flow-id is exactly {FLOW_ID_LENGTH} letters or digits, as the provider issues it.",
)
did_validator = RegexValidator(r"^\+?[0-9]{6,15}$", "A DID is a phone number of 6 to 15 digits.")


def new_intake_token() -> str:
    # 12 hex characters (48 bits), lower case: some mail systems lower-case the local part.
    return secrets.token_hex(6)


def new_report_token() -> str:
    # 32 URL-safe characters (192 bits): the delivery-report URL carries no other credential.
    return secrets.token_urlsafe(24)


def _check_public_key(pem: str) -> None:
    try:
        validate_public_key(pem)
    except PublicKeyRefused as refused:
        raise ValidationError({"public_key_pem": str(refused)}) from refused


class Account(models.Model):
    """A customer account at the provider (its client ID), with the managers who work on it."""

    name = models.CharField(max_length=200)
    client_id = models.CharField("provider client ID", max_length=64, unique=True)
    holder_email = models.EmailField(blank=True, help_text="Receives intake summaries.")
    managers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="accounts",
        help_text="Campaign managers who see and act on this account's flows and campaigns.",
    )
    # The dialling cap (DESIGN.md invariant 7): at most `calls_per_number` calls to one number in
    # `cap_days` days, across every campaign and channel of the account; checked when calls are planned.
    calls_per_number = models.PositiveSmallIntegerField(
        "calls per number", default=1, validators=[MinValueValidator(1)],
        help_text="Dialling cap: at most this many calls to one number…",
    )
    cap_days = models.PositiveSmallIntegerField(
        "in days", default=1, validators=[MinValueValidator(1)],
        help_text="…within this many days, across all campaigns and channels. Calls over it are skipped.",
    )
    warn_outside_indian_hours = models.BooleanField(
        "warn outside Indian calling hours", default=True,
        help_text="Ask the manager to confirm a calling window outside 09:00–21:00 for a list of Indian numbers.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(calls_per_number__gte=1) & models.Q(cap_days__gte=1), name="account_cap_positive"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.client_id})"


class Flow(models.Model):
    class Kind(models.TextChoices):
        MULTICAST = "multicast", "Outbound multicast"
        DIALER = "dialer", "Outbound dialer"

    class Mode(models.TextChoices):
        REALTIME = "realtime", "Real time"
        BULK = "bulk", "Bulk"

    class ApiVersion(models.TextChoices):
        PRODUCTION = "1.0", "1.0 (production version)"
        TEST = "TEST", "TEST (version in testing)"

    class EncryptionProfile(models.TextChoices):
        OAEP_GCM = "oaep-gcm", "RSA-OAEP-SHA256 + AES-256-GCM"
        PKCS1_CBC = "pkcs1-cbc", "RSA PKCS#1 v1.5 + AES-256-CBC"
        PKCS1_ECB = "pkcs1-ecb", "RSA PKCS#1 v1.5 + AES-256-ECB (legacy)"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="flows")
    flow_id = models.CharField("flow-id", max_length=FLOW_ID_LENGTH, unique=True, validators=[flow_id_validator])
    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.MULTICAST)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.REALTIME)
    api_version = models.CharField(max_length=8, choices=ApiVersion.choices, default=ApiVersion.PRODUCTION)
    security_id = EncryptedTextField("security-id", help_text="From the flow's Edit Flow page at the provider.")
    encrypted = models.BooleanField(
        default=False, help_text="Send through the encrypted dialer endpoint (dialer flows only)."
    )
    encryption_profile = models.CharField(
        max_length=16, choices=EncryptionProfile.choices, default=EncryptionProfile.OAEP_GCM
    )
    public_key_pem = models.TextField(
        "provider public key (PEM)", blank=True, help_text="RSA, at least 2048 bits."
    )
    # The listener checklist: a flow runs at the provider only once its listener is activated.
    activation_requested_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    # Intake
    intake_address = models.EmailField(
        blank=True, help_text="Explicit mail intake address (keep it unguessable); empty means the pattern."
    )
    intake_token = models.CharField(
        max_length=32, default=new_intake_token,
        help_text="The secret in the pattern's address (calls+<flow-id>.<token>@…): mail to the flow without it "
        "is never read. Rotate it when the address leaked.",
    )
    allowed_senders = models.TextField(
        blank=True, help_text="Addresses (one a line; @domain for a whole domain) allowed to mail lists in."
    )
    report_token = models.CharField(
        max_length=64, default=new_report_token, editable=False, unique=True,
        help_text="The secret in the flow's delivery-report URL (the provider pushes outcomes to it). "
        "Rotate it when the URL leaked, and give the provider the new one.",
    )
    auto_launch = models.BooleanField(
        default=False, help_text="Launch every list that arrives by mail or SFTP as a campaign at once."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["flow_id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(encrypted=True) | models.Q(kind="dialer"),
                name="flow_encrypted_only_for_dialer",
            ),
        ]

    def __str__(self):
        return f"{self.flow_id} {self.name}".strip()

    def save(self, *args, **kwargs):
        # The key is validated on every save, not only in forms: a flow with a key we cannot
        # encrypt to would fail on its first batch instead of here.
        if self.public_key_pem.strip():
            _check_public_key(self.public_key_pem)
        super().save(*args, **kwargs)

    def clean(self):
        if self.encrypted:
            if self.kind != self.Kind.DIALER:
                raise ValidationError({"encrypted": "Only dialer flows have an encrypted endpoint."})
            if not self.public_key_pem.strip():
                raise ValidationError({"public_key_pem": "An encrypted flow needs the provider's RSA public key."})
        if self.public_key_pem.strip():
            _check_public_key(self.public_key_pem)

    @property
    def listener_warning(self) -> str:
        """Why calls may not connect, in words, while the listener is not marked activated; else ""."""
        if self.activated_at:
            return ""
        step = (
            "its activation was requested but is not marked done yet"
            if self.activation_requested_at
            else "its activation has not even been requested yet"
        )
        return (
            f"The listener of flow {self.flow_id} is not marked as activated: the provider runs a flow only once "
            f"it has activated its listener, and {step}, so calls may not connect."
        )

    @property
    def endpoint(self) -> str:
        """The rate-limit endpoint the flow's requests go to."""
        if self.kind == self.Kind.MULTICAST and self.mode == self.Mode.BULK:
            return "bulk"
        return "realtime"


class DID(models.Model):
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="dids")
    number = models.CharField(max_length=20, validators=[did_validator])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "DID"
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["flow", "number"], name="did_unique_per_flow")]

    def __str__(self):
        return self.number
