"""The `calls.outcomes` webhook event: the calls whose outcome changed, batched per campaign, at
most one event per campaign each OUTCOME_EVENT_SECONDS (beat runs `outcome_events_record`), so a
receiver keeps up at the bulk rate. Changes wait in OutcomeChange (written with the change)."""

from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Campaign
from dialer.models import Call, OutcomeChange
from dialer.outcomes.columns import talk_seconds
from dialer.outcomes.tallies import summary_of
from events.models import Event
from events.recording import event_record

# Calls one event carries at most; more wait for the next round (the receiver is never flooded).
EVENT_MAX_CALLS = 5000


def outcome_changes_note(calls: list[Call]) -> None:
    """In the applying transaction: these calls' outcomes changed."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {OutcomeChange._meta.db_table} (campaign_id, call_id, created_at) VALUES (%s, %s, %s)",
            [(call.campaign_id, call.pk, now) for call in calls],
        )


def outcome_events_record() -> int:
    """One `calls.outcomes` event per campaign with changes waiting; returns how many were recorded."""
    campaign_ids = list(OutcomeChange.objects.values_list("campaign_id", flat=True).distinct().order_by())
    recorded = 0
    for campaign_id in campaign_ids:
        with transaction.atomic():
            changes = OutcomeChange.objects.filter(campaign_id=campaign_id).order_by("id")
            if connection.vendor == "postgresql":
                changes = changes.select_for_update(skip_locked=True)
            rows = list(changes.values_list("id", "call_id")[:EVENT_MAX_CALLS])
            if not rows:
                continue
            campaign = Campaign.objects.select_related("flow").filter(pk=campaign_id).first()
            OutcomeChange.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
            if campaign is None:
                continue
            calls = Call.objects.filter(pk__in={call_id for _, call_id in rows}).order_by("id")
            event_record(
                account=campaign.flow.account_id,
                type=Event.Type.CALLS_OUTCOMES,
                payload={
                    "object": "campaign",
                    "id": campaign.pk,
                    "name": campaign.name,
                    "outcomes": summary_of(campaign.pk).as_dict(),
                    "calls": [_call(call) for call in calls],
                    "more": OutcomeChange.objects.filter(campaign_id=campaign_id).exists(),
                },
            )
            recorded += 1
    return recorded


def _call(call: Call) -> dict:
    return {
        "id": call.pk,
        "client_identifier": call.client_identifier,
        "phonon_uuid": call.phonon_uuid,
        "outcome": call.outcome,
        "hangup_cause": call.hangup_cause,
        "answered_number": call.answered_number,
        "talk_seconds": float(talk_seconds(call.talk_ms)) if call.talk_ms is not None else None,
        "keys": call.keys,
        "connected_at": call.connected_at.isoformat() if call.connected_at else None,
    }
