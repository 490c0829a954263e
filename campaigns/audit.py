"""The campaign's audit trail: who launched, paused, resumed, cancelled, edited or re-prioritised it.

The actions (dialer.campaign_actions) take `actor`, passed here as `by`: the user who asked (a page,
admin), a label in words ("API key CRM nightly"), or None (the system, a script). They record the
event in their own transaction, after the change succeeded.
"""

from campaigns.models import Campaign, CampaignEvent

Action = CampaignEvent.Action


def actor_words(by) -> str:
    if by is None:
        return ""
    if hasattr(by, "get_username"):
        return by.get_username()
    return str(by)[:200]


def campaign_audit_record(*, campaign_id: int, action: str, by=None, detail: str = "") -> CampaignEvent:
    return CampaignEvent.objects.create(
        campaign_id=campaign_id,
        action=action,
        actor=by if hasattr(by, "get_username") else None,
        actor_label=actor_words(by),
        detail=detail[:500],
    )


def campaign_audit_trail(campaign: Campaign, *, limit: int = 50) -> list[CampaignEvent]:
    return list(CampaignEvent.objects.filter(campaign=campaign).order_by("-created_at", "-id")[:limit])
