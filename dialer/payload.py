"""What a batch sends and where: the provider's JSON (plain or sealed in the envelope) and the URL."""

import datetime
import json
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from campaigns.windows import Window
from dialer.models import Call
from dialer.start_times import call_start_time
from phonon.client import api_url
from phonon.envelope import seal


def provider_start_time(when: datetime.datetime, zone: str) -> str:
    """`YYYY-MM-DDTHH:MM:SS+05:30`, in the campaign's zone."""
    return when.astimezone(ZoneInfo(zone)).replace(microsecond=0).isoformat()


def call_entries(batch) -> list[dict]:
    campaign = batch.campaign
    now = timezone.now()
    window = Window.of(campaign)
    calls = (
        Call.objects.filter(batch=batch)
        .order_by("id")
        .values_list("client_identifier", "contact__numbers", "contact__variables", "contact__start_at")
    )
    entries, start_times = [], {}  # most calls of a batch share one start: formatted once
    for client_identifier, numbers, variables, start_at in calls:
        # A time already past means "now" to the provider (a past date would be refused); a time
        # outside the calling window is moved to its next opening.
        start = call_start_time(campaign, start_at, window=window, now=now)
        if (start_time := start_times.get(start)) is None:
            start_time = start_times[start] = provider_start_time(start, campaign.timezone)
        entries.append(
            {
                "client-identifier": client_identifier,
                "start-time": start_time,
                "contact-numbers": list(numbers),
                "keys": [{"name": f"$flow.key.{name}", "value": str(value)} for name, value in variables.items()],
            }
        )
    return entries


def body_never_left(batch) -> bool:
    """True when the batch has a frozen body that never left: it went back unsent (no grant came, a
    pause) and no send of it may have reached the provider. Such a body is built again before it
    goes, so that the lists and the cap are asked again (a number listed since it froze is never
    dialled) and no start-time in it lies on a date now past. A body that may have been delivered is
    only ever resent byte for byte."""
    if batch.body is None or batch.maybe_delivered:
        return False
    return not batch.an_attempt_went_unanswered()


def build_request_body(batch) -> bytes:
    """The exact bytes to send for this batch, built once and then frozen by the caller."""
    campaign = batch.campaign
    flow = campaign.flow
    plain = json.dumps(
        {
            "api-version": campaign.api_version,
            "security-id": flow.security_id,
            "flow-id": flow.flow_id,
            "calls": call_entries(batch),
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    if flow.encrypted:
        return seal(plain, flow_id=flow.flow_id, public_key_pem=flow.public_key_pem, profile=flow.encryption_profile)
    return plain


def flow_url(flow) -> str:
    base = settings.PHONON_BULK_BASE_URL if flow.endpoint == "bulk" else settings.PHONON_REALTIME_BASE_URL
    return api_url(base, kind=flow.kind, encrypted=flow.encrypted)
