"""Changing a campaign's redial rules after launch: while it is scheduled, running or paused.

The planner reads the rules afresh under the campaign's lock each time it runs, so a change applies
to every redial not yet planned; a redial already planned is a call like any other (cancel the
campaign to stop it). Raising max attempts or adding an outcome makes the planner look at every
outcome again, not only the recent ones.
"""

from django.utils import timezone

from campaigns.lifecycle import TransitionRefused
from campaigns.models import Campaign
from campaigns.redial_rules import RedialRules, rules_fields

CHANGEABLE = (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED, Campaign.Status.RUNNING, Campaign.Status.PAUSED)


def campaign_redials_edit(*, campaign: Campaign, rules: RedialRules, key_labels: str | None = None) -> Campaign:
    # Looked at afresh under rules that redial; kept (it marks that redials were planned) otherwise.
    fresh = {"redials_checked_until": None} if rules.active else {}
    if key_labels is not None:
        fresh["key_labels"] = key_labels
    updated = Campaign.objects.filter(pk=campaign.pk, status__in=CHANGEABLE).update(
        **rules_fields(rules), **fresh, updated_at=timezone.now()
    )
    campaign.refresh_from_db()
    if updated != 1:
        raise TransitionRefused(
            f"A {campaign.get_status_display().lower()} campaign's redial rules can no longer change."
        )
    return campaign
