"""The campaign state machine: the allowed transitions, each a compare-and-set.

    draft -> scheduled -> running <-> paused
    running -> completed
    any state but completed/cancelled -> cancelled

Every transition is a compare-and-set on the status column, so two actors (a manager clicking
pause while a worker completes the campaign) can never both win. A manager's actions are in
dialer.campaign_actions, beside this; the dialer's workers use this module alone (start a due
campaign, pause one the provider refuses, dialer.settling to complete or settle one).
"""

from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign
from events.recording import event_record

Status = Campaign.Status

ALLOWED_FROM = {
    Status.SCHEDULED: (Status.DRAFT,),
    Status.RUNNING: (Status.SCHEDULED, Status.PAUSED),
    Status.PAUSED: (Status.RUNNING,),
    Status.COMPLETED: (Status.RUNNING,),
    Status.CANCELLED: (Status.DRAFT, Status.SCHEDULED, Status.RUNNING, Status.PAUSED),
}
# What a manager may still change: a campaign not sending now; its redial rules until it ends.
EDITABLE = (Status.DRAFT, Status.SCHEDULED, Status.PAUSED)
ACTIVE = (Status.SCHEDULED, Status.RUNNING, Status.PAUSED)
RULES_CHANGEABLE = (Status.DRAFT, *ACTIVE)


def campaign_transition(
    campaign_id: int, to: str, *, reason: str = "", event: str = "", event_facts=None, when=None, **fields
) -> bool:
    """Compare-and-set the status; when it wins, the webhooks' event is recorded in the same transaction.
    `when`: further conditions on the row, checked in the same UPDATE (a lookup dict)."""
    now = timezone.now()
    with transaction.atomic():
        updated = Campaign.objects.filter(pk=campaign_id, status__in=ALLOWED_FROM[to], **(when or {})).update(
            status=to, status_reason=reason, updated_at=now, **fields
        )
        if updated == 1 and event:
            campaign_event_record(campaign_id, event, status=to, status_reason=reason, **(event_facts or {}))
    return updated == 1


def campaign_event_record(campaign_id: int, event: str, **facts) -> None:
    """The webhooks' outbox row, in the transaction of the transition it reports."""
    account_id = Campaign.objects.filter(pk=campaign_id).values_list("flow__account_id", flat=True).first()
    event_record(account=account_id, type=event, payload={"object": "campaign", "id": campaign_id, **facts})


def campaign_status(campaign_id: int) -> str:
    """The status as stored now (workers re-read it right before a request leaves)."""
    return Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).get()


def campaign_start(*, campaign_id: int) -> bool:
    """scheduled -> running, once planned and due (the dispatch tick calls this)."""
    return campaign_transition(campaign_id, Status.RUNNING, started_at=timezone.now(), event="campaign.started")


def campaign_pause_by_system(*, campaign_id: int, reason: str, provider_code: int | None = None) -> bool:
    """running -> paused by the dialer itself (the provider refused the flow's settings, say)."""
    facts = {"provider_code": provider_code}
    return campaign_transition(campaign_id, Status.PAUSED, reason=reason, event="campaign.paused", event_facts=facts)
