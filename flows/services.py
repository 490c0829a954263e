"""Writes on accounts and flows."""

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from flows.models import DID, Account, Flow, new_intake_token, new_report_token
from flows.report_tokens import report_tokens_forget


def flow_upsert(
    *,
    flow_id: str,
    security_id: str,
    kind: str = "multicast",
    mode: str = "realtime",
    api_version: str = "1.0",
    encrypted: bool = False,
    public_key_pem: str = "",
    encryption_profile: str = "oaep-gcm",
    dids: list[str] = (),
    account_client_id: str = "default",
    name: str = "",
) -> tuple[Flow, bool]:
    """Create the flow or bring it to the given settings. Raises ValidationError on bad input."""
    with transaction.atomic():
        account, _ = Account.objects.get_or_create(
            client_id=account_client_id, defaults={"name": f"Account {account_client_id}"}
        )
        flow = Flow.objects.filter(flow_id=flow_id).first()
        created = flow is None
        flow = flow or Flow(flow_id=flow_id)
        flow.account = account
        flow.security_id = security_id
        flow.kind = kind
        flow.mode = mode
        flow.api_version = api_version
        flow.encrypted = encrypted
        flow.encryption_profile = encryption_profile
        if public_key_pem or not encrypted:
            flow.public_key_pem = public_key_pem
        flow.name = name or flow.name
        flow.full_clean()
        flow.save()
        for number in dids:
            # The number's own validators only: the (flow, number) constraint is what get_or_create
            # relies on, and Django 5.2 checks constraints even with validate_unique=False.
            DID(flow=flow, number=number).full_clean(validate_unique=False, validate_constraints=False)
            DID.objects.get_or_create(flow=flow, number=number)
    return flow, created


def flow_mark_activation_requested(*, flow: Flow) -> None:
    Flow.objects.filter(pk=flow.pk).update(activation_requested_at=timezone.now())


def flow_mark_activated(*, flow: Flow) -> None:
    Flow.objects.filter(pk=flow.pk).update(activated_at=timezone.now())


def flow_intake_token_rotate(*, flow: Flow) -> str:
    """Give the flow a new secret in its mail intake address; mail to the old address is never read."""
    flow.intake_token = new_intake_token()
    Flow.objects.filter(pk=flow.pk).update(intake_token=flow.intake_token, updated_at=timezone.now())
    return flow.intake_token


DEFAULT_INTAKE_PATTERN = "calls+{flow_id}@example.com"


def intake_pattern() -> str:
    return settings.MAIL_INTAKE_PATTERN or DEFAULT_INTAKE_PATTERN


def flow_intake_address(flow: Flow) -> str:
    """Where mail for this flow goes: its explicit address, or the pattern with `<flow-id>.<secret>`."""
    return flow.intake_address or intake_pattern().replace("{flow_id}", f"{flow.flow_id}.{flow.intake_token}")


def flow_report_url(flow: Flow) -> str:
    """The address the provider pushes this flow's delivery reports to: SITE_URL and the secret."""
    return settings.SITE_URL + reverse("outcome_report", kwargs={"token": flow.report_token})


def flow_report_token_rotate(*, flow: Flow) -> str:
    """A new secret in the flow's report URL: the old URL is refused from now on (give the provider
    the new one). Returns the new URL."""
    flow.report_token = new_report_token()
    Flow.objects.filter(pk=flow.pk).update(report_token=flow.report_token, updated_at=timezone.now())
    report_tokens_forget()
    return flow_report_url(flow)
