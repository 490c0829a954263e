"""One status that explains itself: what a campaign is doing now, why, and what comes next.

The live panel, the lists, the dashboard and the API read it through dialer.read_model, so no two
parts of a page can disagree about a campaign.
"""

import datetime
from dataclasses import dataclass, field
from functools import cached_property

from django.utils import timezone

from campaigns.clock import duration_words, elapsed_words, starts_words, zoned_time
from campaigns.models import Campaign
from campaigns.windows import campaign_in_window, next_window_opening
from dialer.models import Batch, Call
from dialer.progress import Progress, campaign_progress, progress_by_campaign
from dialer.retry_status import Retrying, retrying_by_campaign
from dialer.settling import CANCELLED_BEFORE_SENT
from dialer.sharing import Share, limit_share
from dialer.start_times import scheduled_later
from dialer.throughput import Estimate, Measured, accepted_lately, accepted_per_minute, finish_estimate

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
    of their accounts with the calls each got accepted lately, the shares, the retries, the codes
    that paused them."""

    def __init__(self, campaigns: list[Campaign], now: datetime.datetime):
        self.campaigns = campaigns
        self.now = now
        self._shares: dict[int, Share] = {}

    @cached_property
    def running(self) -> list[Campaign]:
        """The running campaigns of the accounts of the table's running campaigns."""
        accounts = {c.flow.account_id for c in self.campaigns if c.status == Campaign.Status.RUNNING}
        if not accounts:
            return []
        return list(Campaign.objects.filter(status=Campaign.Status.RUNNING, flow__account_id__in=accounts)
                    .select_related("flow__account").order_by("created_at"))

    @cached_property
    def measured(self) -> dict[int, Measured]:
        """Calls accepted per minute lately, for each of `running`."""
        return accepted_lately(self.running, now=self.now)

    @cached_property
    def last_minute(self) -> dict[int, float]:
        """Calls accepted in the last minute alone, for each of `running`: who holds the limit now."""
        return accepted_per_minute(self.running, now=self.now, minutes=1)

    @cached_property
    def retrying(self) -> dict[int, Retrying]:
        return retrying_by_campaign([c.pk for c in self.campaigns if c.status == Campaign.Status.RUNNING])

    @cached_property
    def pause_codes(self) -> dict[int, int | None]:
        """The code of each paused campaign's latest held batch (the answer that paused it)."""
        paused = [c.pk for c in self.campaigns if c.status == Campaign.Status.PAUSED]
        codes = {}
        held = Batch.objects.filter(campaign_id__in=paused, status=Batch.Status.HELD).order_by("-updated_at")
        for campaign_id, code in held.values_list("campaign_id", "response_code"):
            codes.setdefault(campaign_id, code)
        return codes

    def share(self, campaign: Campaign) -> Share:
        """The campaign's share of its account's limit (dialer.sharing), read once per campaign."""
        if campaign.pk not in self._shares:
            self._shares[campaign.pk] = limit_share(flow=campaign.flow, weight=campaign.weight,
                                                    exclude_campaign_id=campaign.pk)
        return self._shares[campaign.pk]

    def estimate(self, campaign: Campaign, progress: Progress) -> Estimate:
        """The one finishing estimate: the calls still to send (planned or not) at the measured pace,
        bounded by the share."""
        unplanned = max(0, campaign.contact_list.imported_count - progress.total) if campaign.planned_at is None else 0
        return finish_estimate(calls_left=progress.pending + unplanned,
                               allowed_per_minute=self.share(campaign).calls_per_minute,
                               measured=self.measured.get(campaign.pk), now=self.now)


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
    elif campaign.started_at and campaign.status == Campaign.Status.RUNNING:
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
        return StatusExplained("completed", "Completed", _outcome_words(campaign, progress, now), times=times)
    if status == Campaign.Status.CANCELLED:
        # (the reason is shown once, as "Why")
        return StatusExplained("cancelled", f"Cancelled: {cancelled_words(campaign, progress)}", times=times)
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
        return StatusExplained("scheduled", f"Scheduled: starts {starts_words(campaign.start_at, zone, now=now)}",
                               planning, primary_action="edit", times=times)
    if not campaign_in_window(campaign, now):
        opening = next_window_opening(campaign, now)
        when = f": starts {starts_words(opening, zone, now=now)}" if opening else ""
        detail = "Nothing is sent outside the calling window."
        if opening and zone != "UTC":
            detail = f"It opens {zoned_time(opening, zone, utc=True)}. {detail}"
        return StatusExplained("waiting_window", f"Waiting for the window{when}",
                               f"{detail} {planning[0].upper()}{planning[1:]}." if planning else detail,
                               primary_action="edit", times=times)
    if planning and status == Campaign.Status.SCHEDULED:
        return _planning(campaign, planning, times)
    if status == Campaign.Status.SCHEDULED:
        return StatusExplained("starting", "Starting: the first requests go out in a few seconds", times=times)
    retrying = facts.retrying.get(campaign.pk)
    if retrying:
        return StatusExplained(
            "retrying", retrying.in_words(zone),
            "The same requests are sent again, byte for byte: nobody is called twice. No call is counted as sent "
            "until the provider accepts it.",
            next_step="If it goes on, pause the campaign and ask the provider's support whether their service is "
                      "down.", primary_action="pause", times=times,
        )
    if planning and not progress.pending:
        return _planning(campaign, planning, times)  # all of what is planned so far is sent
    if not progress.pending:
        return StatusExplained("finishing", "Finishing: waiting for the provider's last answers", times=times)
    return _sending(campaign, progress, facts, times, planning)


def _sending(campaign, progress, facts: StatusFacts, times, planning: str) -> StatusExplained:
    share = facts.share(campaign)
    mine = facts.last_minute.get(campaign.pk, 0)
    others = sum(facts.last_minute.get(pk, 0) for pk, _, _ in share.sharing_with)
    limit = share.limit_per_minute
    # Another campaign of the account holds the limit when it took most of the recent room and this
    # one got almost nothing.
    if share.sharing_with and others >= 0.8 * limit and mine < 0.1 * limit:
        busiest = share.sharing_with[0][1]
        left = sum(p.pending for p in progress_by_campaign([pk for pk, _, _ in share.sharing_with]).values())
        return StatusExplained(
            "waiting_limit", f"Waiting for the provider's limit (shared with “{busiest}”"
            f"{' and others' if len(share.sharing_with) > 1 else ''}; {duration_words(left / limit * 60)})",
            f"The account is allowed up to {limit:,} calls a minute on this endpoint, whichever campaign sends "
            "them.", times=times,
        )
    estimate = facts.estimate(campaign, progress)
    accepted = round(facts.measured[campaign.pk].per_minute) if campaign.pk in facts.measured else 0
    return StatusExplained(
        "sending", f"Sending ({estimate.left_words}{'; ' + planning if planning else ''})",
        f"{accepted:,} call{'s' if accepted != 1 else ''} a minute accepted by the provider lately; "
        f"{share.in_words()}.", primary_action="pause", times=times,
    )


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


def cancelled_words(campaign: Campaign, progress: Progress) -> str:
    """"120 placed, 280 not sent (cancelled)": what a cancel left, counting the contacts never planned."""
    accepted = progress.placed + progress.accepted_unknown
    unplanned = max(0, campaign.contact_list.imported_count - progress.total) if campaign.planned_at is None else 0
    not_sent = unplanned + Call.objects.filter(
        campaign=campaign, state=Call.State.SKIPPED, provider_message=CANCELLED_BEFORE_SENT).count()
    parts = [f"{accepted:,} placed"]
    if progress.rejected:
        parts.append(f"{progress.rejected:,} rejected")
    parts.append(f"{not_sent:,} not sent (cancelled)")
    skipped = progress.skipped - (not_sent - unplanned)
    if skipped:
        parts.append(f"{skipped:,} skipped before sending")
    return ", ".join(parts)


def _outcome_words(campaign: Campaign, progress: Progress, now) -> str:
    accepted = progress.placed + progress.accepted_unknown
    parts = [f"{accepted:,} of {progress.total:,} call{'s' if progress.total != 1 else ''} accepted by the provider"]
    if progress.rejected:
        parts.append(f"{progress.rejected:,} rejected")
    if progress.skipped:
        parts.append(f"{progress.skipped:,} skipped")
    words = ", ".join(parts) + "."
    later = scheduled_later(campaign, now=now)
    if later:
        calls = sum(n for _, n in later)
        words += (f" {calls:,} call{'s are' if calls != 1 else ' is'} scheduled at the provider for later, "
                  f"the first {starts_words(later[0][0], campaign.timezone, now=now)}.")
    return words
