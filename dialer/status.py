"""One status that explains itself: what a campaign is doing now, why, and what comes next.

The live panel, the lists and the dashboard all read `campaign_status_explained`, so no two parts
of a page can disagree about a campaign.
"""

import datetime
import math
from dataclasses import dataclass, field
from functools import cached_property

from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.clock import duration_words, elapsed_words, zoned_time
from campaigns.models import Campaign
from campaigns.windows import campaign_in_window, next_window_opening
from dialer.models import Batch, BatchAttempt
from dialer.progress import Progress, campaign_progress, progress_by_campaign
from dialer.ratelimit import rate_for

# Who can fix a pause by the provider, and the first thing to do: managers cannot edit flows.
FIXES = {
    202: ("an admin", "Ask an admin to update the flow's security-id in admin (copied from the flow's Edit Flow "
                      "page at the provider), then resume."),
    203: ("an admin", "Ask an admin to check the flow's api-version in admin, then resume."),
    204: ("the provider", "Ask the provider's support to fix the flow's SMS gateway, then resume."),
    207: ("an admin", "Ask an admin to attach the flow's DIDs and the provider to activate its listener, "
                      "then resume."),
    208: ("the provider", "Ask the provider's support for a caller mask for the flow, then resume."),
    211: ("the account's owner", "Ask whoever pays for the account to renew its validity with the provider, "
                                 "then resume."),
    212: ("the account's owner", "Ask whoever pays for the account to top up its balance with the provider, "
                                 "then resume."),
    301: ("an admin", "Ask an admin to check the flow-id in admin against the provider's console, then resume."),
    304: ("the flow's designer", "Ask whoever builds the flow to publish a version (or launch with the TEST "
                                 "version), then resume."),
    401: ("an admin", "Ask an admin to whitelist our server's IP address in the provider's console, then resume."),
}


@dataclass
class LimitShare:
    """The account's limit on one endpoint and the running campaigns that share it."""

    per_minute: float
    campaigns: list = field(default_factory=list)

    def per_minute_each(self, *, extra: int = 0) -> float:
        return self.per_minute / max(1, len(self.campaigns) + extra)


def limit_share(*, account_id: int, endpoint: str, exclude_campaign_id: int | None = None) -> LimitShare:
    running = Campaign.objects.filter(status=Campaign.Status.RUNNING, flow__account_id=account_id).select_related(
        "flow"
    ).order_by("created_at")
    return _share_among(running, account_id=account_id, endpoint=endpoint, exclude_campaign_id=exclude_campaign_id)


def _share_among(running, *, account_id: int, endpoint: str, exclude_campaign_id: int | None) -> LimitShare:
    """The endpoint's limit per minute, and those of the running campaigns (flows loaded) that share it."""
    rate = rate_for(endpoint)
    return LimitShare(rate.calls * 60 / rate.seconds, [
        c for c in running
        if c.flow.account_id == account_id and c.flow.endpoint == endpoint and c.pk != exclude_campaign_id
    ])


@dataclass
class StatusExplained:
    state: str  # a CSS-safe key: waiting_window, waiting_limit, sending, paused, ...
    headline: str
    detail: str = ""
    next_step: str = ""
    fixed_by: str = ""
    primary_action: str = ""  # "resume", "pause", "edit" or "": the button that leads
    times: list[tuple[str, str]] = field(default_factory=list)  # (label, text)


class StatusFacts:
    """What explaining statuses reads beyond each campaign and its progress, read once for a whole
    table of campaigns (a query each, on first need) instead of once per row: the running campaigns
    of their accounts with the calls each sent in the last minute, the codes that paused them."""

    def __init__(self, campaigns: list[Campaign], now: datetime.datetime):
        self.campaigns = campaigns
        self.minute_ago = now - datetime.timedelta(seconds=60)

    @cached_property
    def running(self) -> list[Campaign]:
        """The running campaigns of the accounts of the table's running campaigns, oldest first, each
        with the calls it sent to the provider in the last minute (retries included), in one query."""
        accounts = {c.flow.account_id for c in self.campaigns if c.status == Campaign.Status.RUNNING}
        if not accounts:
            return []
        sent = (BatchAttempt.objects.filter(batch__campaign=OuterRef("pk"), created_at__gte=self.minute_ago)
                .values("batch__campaign").annotate(calls=Sum("batch__call_count")).values("calls"))
        return list(Campaign.objects.filter(status=Campaign.Status.RUNNING, flow__account_id__in=accounts)
                    .select_related("flow").annotate(sent_last_minute=Coalesce(Subquery(sent), 0))
                    .order_by("created_at"))

    @cached_property
    def pause_codes(self) -> dict[int, int | None]:
        """The code of each paused campaign's latest held batch (the answer that paused it)."""
        paused = [c.pk for c in self.campaigns if c.status == Campaign.Status.PAUSED]
        codes = {}
        held = Batch.objects.filter(campaign_id__in=paused, status=Batch.Status.HELD).order_by("-updated_at")
        for campaign_id, code in held.values_list("campaign_id", "response_code"):
            codes.setdefault(campaign_id, code)
        return codes

    def limit_share(self, campaign: Campaign) -> LimitShare:
        """As limit_share(), the campaign itself left out, from the running campaigns read once."""
        return _share_among(self.running, account_id=campaign.flow.account_id, endpoint=campaign.flow.endpoint,
                            exclude_campaign_id=campaign.pk)

    def sent_in_last_minute(self, campaigns) -> int:
        sent = {c.pk: c.sent_last_minute for c in self.running}
        return sum(sent.get(c.pk, 0) for c in campaigns)


def statuses_explained(campaigns: list[Campaign], progress: dict[int, Progress], *,
                       now: datetime.datetime | None = None) -> dict[int, StatusExplained]:
    """campaign_status_explained for a table of campaigns, each fact read once for all of them."""
    now = now or timezone.now()
    facts = StatusFacts(campaigns, now)
    return {c.pk: campaign_status_explained(c, progress=progress[c.pk], now=now, facts=facts) for c in campaigns}


def _times(campaign: Campaign, now) -> list[tuple[str, str]]:
    zone = campaign.timezone
    times = []
    if campaign.started_at:
        times.append(("Started", zoned_time(campaign.started_at, zone)))
    elif campaign.start_at and campaign.start_at > now:
        times.append(("Starts", zoned_time(campaign.start_at, zone, utc=True)))
    if campaign.finished_at:
        times.append(("Finished", zoned_time(campaign.finished_at, zone)))
        if campaign.started_at:
            times.append(("Took", elapsed_words((campaign.finished_at - campaign.started_at).total_seconds())))
    elif campaign.started_at and campaign.status != Campaign.Status.PAUSED:  # a paused campaign is not running
        times.append(("Running for", elapsed_words((now - campaign.started_at).total_seconds())))
    return times


def campaign_status_explained(campaign: Campaign, *, progress: Progress | None = None,
                              now: datetime.datetime | None = None, facts: StatusFacts | None = None
                              ) -> StatusExplained:
    """The campaign's status in words, the reason for any wait, and the next step."""
    now = now or timezone.now()
    progress = progress or campaign_progress(campaign)
    facts = facts or StatusFacts([campaign], now)
    zone = campaign.timezone
    times = _times(campaign, now)
    status = campaign.status
    if status == Campaign.Status.DRAFT:
        return StatusExplained("draft", "Draft: not launched", times=times)
    if status == Campaign.Status.COMPLETED:
        return StatusExplained("completed", "Completed", _outcome_words(progress), times=times)
    if status == Campaign.Status.CANCELLED:
        detail = campaign.status_reason
        if campaign.planned_at is None:
            detail = f"{detail} {_cancelled_while_planning(campaign, progress)}".strip()
        return StatusExplained("cancelled", "Cancelled", detail, times=times)
    if status == Campaign.Status.PAUSED:
        code = facts.pause_codes.get(campaign.pk)
        if code in FIXES:
            fixed_by, step = FIXES[code]
            return StatusExplained("paused", f"Paused by the provider: {campaign.status_reason}", next_step=step,
                                   fixed_by=fixed_by, times=times)
        return StatusExplained("paused", "Paused", campaign.status_reason, next_step="Resume to send the rest.",
                               primary_action="resume", times=times)
    planning = _planning_words(campaign, progress)
    if campaign.start_at and campaign.start_at > now and status == Campaign.Status.SCHEDULED:
        return StatusExplained("scheduled", f"Scheduled: starts {zoned_time(campaign.start_at, zone, utc=True)}",
                               planning, primary_action="edit", times=times)
    if planning and status == Campaign.Status.SCHEDULED:
        return _planning(campaign, planning, times)
    if not campaign_in_window(campaign, now):
        opening = next_window_opening(campaign, now)
        when = f" (opens {zoned_time(opening, zone, utc=True)})" if opening else ""
        return StatusExplained("waiting_window", f"Waiting for the calling window{when}",
                               "Nothing is sent outside the calling window.", primary_action="edit", times=times)
    if status == Campaign.Status.SCHEDULED:
        return StatusExplained("starting", "Starting: the first requests go out in a few seconds", times=times)
    if planning and not progress.pending:
        return _planning(campaign, planning, times)  # all of what is planned so far is sent
    if not progress.pending:
        return StatusExplained("finishing", "Finishing: waiting for the provider's last answers", times=times)
    return _sending(campaign, progress, facts, times, planning)


def _sending(campaign, progress, facts: StatusFacts, times, planning: str) -> StatusExplained:
    share = facts.limit_share(campaign)
    mine = facts.sent_in_last_minute([campaign])
    others = facts.sent_in_last_minute(share.campaigns)
    # Another campaign of the account holds the limit when it took most of the last minute's room
    # and this one got almost nothing.
    if share.campaigns and others >= 0.8 * share.per_minute and mine < 0.1 * share.per_minute:
        busiest = share.campaigns[0]
        left = sum(p.pending for p in progress_by_campaign([other.pk for other in share.campaigns]).values())
        wait = duration_words(left / share.per_minute * 60)
        return StatusExplained(
            "waiting_limit", f"Waiting for the provider's limit (shared with “{busiest.name}”"
            f"{' and others' if len(share.campaigns) > 1 else ''}; {wait})",
            f"The account may send {math.floor(share.per_minute):,} calls a minute on this endpoint, "
            "whichever campaign sends them.", times=times,
        )
    pace = mine or share.per_minute_each(extra=1)
    # While planning goes on, what is left is the list's contacts not yet final (planned or not).
    unplanned = max(0, campaign.contact_list.imported_count - progress.total) if planning else 0
    left = duration_words((progress.pending + unplanned) / pace * 60)
    return StatusExplained("sending", f"Sending ({left} left{'; ' + planning if planning else ''})",
                           f"{mine:,} call{'s' if mine != 1 else ''} sent in the last minute.",
                           primary_action="pause", times=times)


def _planning(campaign: Campaign, planning: str, times) -> StatusExplained:
    """Nothing to send until the planner has planned more: it is what the campaign waits for."""
    return StatusExplained(
        "planning", f"{planning[0].upper()}{planning[1:]}", f"Each call is put into a request of up to "
        f"{campaign.batch_size} calls; the first requests go out as soon as the first ones are planned.",
        primary_action="pause" if campaign.status == Campaign.Status.RUNNING else "", times=times,
    )


def _planning_words(campaign: Campaign, progress: Progress) -> str:
    """"planning: 12,000 of 1,000,000 contacts planned" while the planner goes on, else ""."""
    if campaign.planned_at is not None:
        return ""
    contacts = max(campaign.contact_list.imported_count, progress.total)
    return f"planning: {progress.total:,} of {contacts:,} contacts planned"


def _cancelled_while_planning(campaign: Campaign, progress: Progress) -> str:
    unplanned = campaign.contact_list.imported_count - progress.total
    if unplanned <= 0:
        return ""
    return (f"Cancelled before its planning ended: {unplanned:,} of the list's contacts were never planned, "
            "so they have no calls.")


def _outcome_words(progress: Progress) -> str:
    accepted = progress.placed + progress.accepted_unknown
    parts = [f"{accepted:,} of {progress.total:,} call{'s' if progress.total != 1 else ''} accepted by the provider"]
    if progress.rejected:
        parts.append(f"{progress.rejected:,} rejected")
    if progress.skipped:
        parts.append(f"{progress.skipped:,} skipped")
    return ", ".join(parts) + "."
