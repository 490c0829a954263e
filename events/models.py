"""Event: one thing that happened to an account's list or campaign, written in the same transaction."""

import uuid

from django.db import models

from flows.models import Account


class Event(models.Model):
    """A row of the outbox. It is written with the change it records, so a change that commits always
    has its event and a rolled-back one never does; the webhooks read the rows not yet fanned out."""

    class Type(models.TextChoices):
        LIST_IMPORTED = "list.imported", "List imported"
        LIST_REFUSED = "list.refused", "List refused"
        LIST_FAILED = "list.failed", "List import failed"
        CAMPAIGN_STARTED = "campaign.started", "Campaign started"
        CAMPAIGN_PAUSED = "campaign.paused", "Campaign paused"
        CAMPAIGN_RESUMED = "campaign.resumed", "Campaign resumed"
        CAMPAIGN_COMPLETED = "campaign.completed", "Campaign completed"
        CAMPAIGN_CANCELLED = "campaign.cancelled", "Campaign cancelled"
        # Many calls' outcomes at once: at most one event per campaign every OUTCOME_EVENT_SECONDS.
        CALLS_OUTCOMES = "calls.outcomes", "Calls' outcomes reported"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="events")
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=32, choices=Type.choices)
    occurred_at = models.DateTimeField(db_index=True)
    # The facts at the time: which object ("object", "id") and its state then (status, reason, code).
    payload = models.JSONField(default=dict)
    fanned_out_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(
                fields=["id"], condition=models.Q(fanned_out_at__isnull=True), name="event_not_fanned_out_idx"
            )
        ]

    def __str__(self):
        return f"{self.type} {self.event_id}"
