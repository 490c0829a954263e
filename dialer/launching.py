"""Launching a campaign: create it, schedule it, and have a worker plan its batches."""

from django.db import transaction

from campaigns.lifecycle import campaign_create, campaign_schedule
from campaigns.models import Campaign, ContactList
from dialer.tasks import plan_campaign_task


def campaign_launch(*, contact_list: ContactList, **options) -> Campaign:
    """Create and schedule a campaign, and ask a worker to plan its batches once this commits."""
    campaign = campaign_create(contact_list=contact_list, **options)
    campaign_schedule(campaign=campaign)
    campaign_plan_soon(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


def campaign_plan_soon(*, campaign_id: int) -> None:
    transaction.on_commit(lambda: plan_campaign_task.delay(campaign_id))
