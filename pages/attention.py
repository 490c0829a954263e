"""Dismissing entries of "Needs your attention": each manager hides what they have dealt with.

A list's rejected rows or refusal and a campaign's failed batches can be dismissed; a paused
campaign leaves the list when it is resumed or cancelled, so it is not dismissed here."""

from campaigns.models import AttentionDismissal


def without_dismissed(problems: dict, user) -> dict:
    """`problems` (pages.selectors.problems) without what `user` dismissed, counted again."""
    dismissed = AttentionDismissal.objects.filter(user=user).values_list("contact_list_id", "campaign_id")
    lists = {list_id for list_id, _ in dismissed if list_id}
    campaigns = {campaign_id for _, campaign_id in dismissed if campaign_id}
    if not lists and not campaigns:
        return problems
    kept = dict(problems)
    kept["failed"] = [campaign for campaign in problems["failed"] if campaign.pk not in campaigns]
    kept["rejected"] = [item for item in problems["rejected"] if item.pk not in lists]
    kept["refused"] = [item for item in problems["refused"] if item.pk not in lists]
    kept["count"] = len(kept["paused"]) + len(kept["failed"]) + len(kept["rejected"]) + len(kept["refused"])
    return kept


def attention_dismiss(*, user, contact_list=None, campaign=None) -> None:
    if (contact_list is None) == (campaign is None):
        raise ValueError("Dismiss one list or one campaign.")
    AttentionDismissal.objects.get_or_create(user=user, contact_list=contact_list, campaign=campaign)
