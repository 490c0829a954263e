"""Sending events to endpoints: fan out the outbox, claim a delivery, POST it signed, record the try.

At least once: a delivery stays pending until one attempt gets a 2xx. A worker killed mid-send
leaves its claim (a lease) to run out, and the tick queues the delivery again; receivers dedupe by
the event id. Failures retry with exponential backoff and jitter until give_up_at (24 hours).
"""

import datetime
import time
import uuid

import certifi
import urllib3
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from api.webhooks.addresses import AddressRefused, target_resolve
from api.webhooks.bodies import event_body
from api.webhooks.models import Delivery, DeliveryAttempt, WebhookEndpoint
from api.webhooks.signing import HEADER, signature_header, standard_headers
from core.backoff import backoff_seconds as retry_backoff_seconds
from events.models import Event

FAN_OUT_BATCH = 200
DUE_BATCH = 200
EXCERPT_CHARS = 500
USER_AGENT = "Phonon-Campaigns-Webhooks/1"
NO_OUTCOME = "No answer recorded: the worker stopped during this attempt."


def backoff_seconds(attempt: int) -> float:
    """The wait before a delivery is tried again (core.backoff, with the webhooks' base and cap)."""
    return retry_backoff_seconds(attempt, base=settings.WEBHOOK_BACKOFF_BASE, cap=settings.WEBHOOK_BACKOFF_CAP)


def _lease() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)


def events_fan_out(*, limit: int = FAN_OUT_BATCH) -> int:
    """One delivery per event and interested endpoint; the body is built once, here."""
    events = list(Event.objects.filter(fanned_out_at__isnull=True).select_related("account").order_by("id")[:limit])
    now = timezone.now()
    for event in events:
        endpoints = [
            endpoint
            for endpoint in WebhookEndpoint.objects.filter(account_id=event.account_id, active=True)
            if endpoint.wants(event.type)
        ]
        with transaction.atomic():
            if endpoints:
                body = event_body(event)
                give_up_at = now + datetime.timedelta(hours=settings.WEBHOOK_RETRY_HOURS)
                Delivery.objects.bulk_create(
                    [
                        Delivery(event=event, endpoint=endpoint, body=body, next_attempt_at=now, give_up_at=give_up_at)
                        for endpoint in endpoints
                    ],
                    ignore_conflicts=True,  # another tick fanned it out at the same moment
                )
            Event.objects.filter(pk=event.pk, fanned_out_at__isnull=True).update(fanned_out_at=now)
    return len(events)


def deliveries_to_queue(*, now: datetime.datetime | None = None) -> list[int]:
    """Due deliveries, each marked so that the next tick queues it again only if its message is lost
    (the lease runs out without a worker claiming it)."""
    now = now or timezone.now()
    due = Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )
    queued = []
    for delivery_id in due.order_by("next_attempt_at").values_list("pk", flat=True)[:DUE_BATCH]:
        if Delivery.objects.filter(pk=delivery_id, next_attempt_at__lte=now).update(next_attempt_at=now + _lease()):
            queued.append(delivery_id)
    return queued


def _claim(delivery_id: int, now: datetime.datetime) -> str | None:
    token = uuid.uuid4().hex
    claimed = (
        Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(claim_token=token, lease_until=now + _lease())
    )
    return token if claimed == 1 else None


def delivery_send(*, delivery_id: int) -> str:
    """One attempt: claim, record the attempt, POST, write the outcome back. Safe to run twice."""
    now = timezone.now()
    token = _claim(delivery_id, now)
    if token is None:
        return "not-claimed"
    delivery = Delivery.objects.select_related("endpoint", "event").get(pk=delivery_id)
    DeliveryAttempt.objects.filter(delivery=delivery, status_code__isnull=True, error="").update(error=NO_OUTCOME)
    number = delivery.attempts + 1
    with transaction.atomic():
        attempt = DeliveryAttempt.objects.create(delivery=delivery, number=number, started_at=now)
        Delivery.objects.filter(pk=delivery.pk).update(attempts=number)
    status_code, error, excerpt, duration_ms = _post(delivery, number)
    DeliveryAttempt.objects.filter(pk=attempt.pk).update(
        status_code=status_code, error=error, response_excerpt=excerpt, duration_ms=duration_ms
    )
    return _write_back(delivery, token, number, status_code)


def _post(delivery: Delivery, number: int) -> tuple[int | None, str, str, int | None]:
    """(status code, error in words, start of the answer, milliseconds)."""
    endpoint = delivery.endpoint
    body = delivery.body.encode()
    started = time.monotonic()
    try:
        if not endpoint.active:
            raise AddressRefused("The endpoint is disabled.")
        target = target_resolve(endpoint.url)
        secrets, timestamp, event_id = endpoint.signing_secrets(), int(time.time()), str(delivery.event.event_id)
        headers = {
            "Host": target.host if target.port in (80, 443) else f"{target.host}:{target.port}",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            HEADER: signature_header(secret=secrets, body=body, timestamp=timestamp),
            "Phonon-Event-Id": event_id,
            "Phonon-Event-Type": delivery.event.type,
            "Phonon-Event-Sequence": str(delivery.event.sequence),
            "Phonon-Delivery-Attempt": str(number),
            **standard_headers(secret=secrets, message_id=event_id, body=body, timestamp=timestamp),
        }
        timeout = urllib3.Timeout(connect=min(5.0, settings.WEBHOOK_TIMEOUT), read=settings.WEBHOOK_TIMEOUT)
        if target.scheme == "https":
            # Connect to the address that was checked; the certificate must still name the host.
            pool = urllib3.HTTPSConnectionPool(
                target.ip,
                target.port,
                timeout=timeout,
                retries=False,
                server_hostname=target.host,
                assert_hostname=target.host,
                cert_reqs="CERT_REQUIRED",
                ca_certs=certifi.where(),
            )
        else:
            pool = urllib3.HTTPConnectionPool(target.ip, target.port, timeout=timeout, retries=False)
        with pool:
            response = pool.urlopen(
                "POST",
                target.path,
                body=body,
                headers=headers,
                redirect=False,
                preload_content=False,
                assert_same_host=False,
            )
            excerpt = response.read(EXCERPT_CHARS, decode_content=True).decode("utf-8", "replace")
            response.release_conn()
        return response.status, "", excerpt, _ms(started)
    except AddressRefused as refused:
        return None, str(refused), "", None
    except urllib3.exceptions.HTTPError as error:
        return None, f"{type(error).__name__}: {error}"[:500], "", _ms(started)
    except OSError as error:
        return None, f"{type(error).__name__}: {error}"[:500], "", _ms(started)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _write_back(delivery: Delivery, token: str, number: int, status_code: int | None) -> str:
    now = timezone.now()
    mine = Delivery.objects.filter(pk=delivery.pk, claim_token=token)
    common = {"claim_token": "", "lease_until": None, "last_status_code": status_code}
    if status_code is not None and 200 <= status_code < 300:
        mine.update(status=Delivery.Status.DELIVERED, delivered_at=now, **common)
        return "delivered"
    retry_at = now + datetime.timedelta(seconds=backoff_seconds(number))
    if retry_at > delivery.give_up_at:
        mine.update(status=Delivery.Status.FAILED, **common)
        return "failed"
    mine.update(next_attempt_at=retry_at, **common)
    return "retry"


def delivery_send_again(*, delivery: Delivery) -> None:
    """A manager's "send again": pending at once, with a fresh day of retries."""
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.PENDING,
        next_attempt_at=now,
        lease_until=None,
        claim_token="",
        give_up_at=now + datetime.timedelta(hours=settings.WEBHOOK_RETRY_HOURS),
    )
