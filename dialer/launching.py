"""Launching a campaign: create it, schedule it, and have a worker plan its batches."""

from django.db import transaction

from campaigns.audit import Action, campaign_audit_record
from campaigns.lifecycle import campaign_create, campaign_schedule
from campaigns.models import Campaign, ContactList
from dialer.tasks import plan_campaign_task


def campaign_launch(*, contact_list: ContactList, by=None, **options) -> Campaign:
    """Create and schedule a campaign, and ask a worker to plan its batches once this commits. `by`
    (for the audit trail) is the user who launched it, else `created_by`."""
    campaign = campaign_create(contact_list=contact_list, **options)
    campaign_schedule(campaign=campaign)
    campaign_audit_record(campaign_id=campaign.pk, action=Action.LAUNCHED, by=by or options.get("created_by"),
                          detail=f"{contact_list.name} ({contact_list.imported_count:,} contacts)")
    campaign_plan_soon(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


def campaign_plan_soon(*, campaign_id: int) -> None:
    transaction.on_commit(lambda: plan_campaign_task.delay(campaign_id))
