"""A campaign's share of its account's provider limit, weighted by priority as the limiter weighs it
(dialer.ratelimit), in figures and in words: the one share model of the pages, the review and the API.

The limiter in Redis knows which campaigns are asking now, with their weights; when it cannot be
read, the account's running campaigns on the endpoint stand in, with their priorities' weights.
"""

import datetime
import math
from dataclasses import dataclass, field
from fractions import Fraction

from django.utils import timezone

from campaigns.models import Campaign
from campaigns.windows import campaign_in_window
from dialer import ratelimit


def limit_per_minute(endpoint: str) -> int:
    """The provider's limit on this endpoint, calls a minute (phonon.limits.Rate, from the settings)."""
    return ratelimit.rate_for(endpoint).per_minute


@dataclass(frozen=True)
class Share:
    fraction: Fraction  # of the account's limit on this endpoint
    limit_per_minute: int
    sharing_with: list[tuple[int, str, str]] = field(default_factory=list)  # (id, name, priority) asking too
    others_elsewhere: int = 0  # campaigns of other accounts on the same limit (PHONON_RATE_SCOPE=endpoint)
    weights: tuple[int, ...] = ()  # this campaign's and each other asking campaign's, as the limiter weighs them
    window_calls: int = 0  # the limit: this many calls
    window_seconds: float = 0.0  # per this many seconds

    @property
    def calls_per_minute(self) -> int:
        return round(self.limit_per_minute * self.fraction)

    @property
    def fraction_in_words(self) -> str:
        if self.fraction == 1:
            return "the whole of the account's limit"
        return f"{self.fraction.numerator}/{self.fraction.denominator} of the account's limit"

    def in_words(self) -> str:
        """"allowed up to 400 calls/min, 2/3 of the account's limit, shared with 'Bulk renewals' (low)\""""
        text = f"allowed up to {self.calls_per_minute:,} calls/min, {self.fraction_in_words}"
        names = [f"'{name}' ({priority})" for _, name, priority in self.sharing_with]
        if self.others_elsewhere:
            names.append(f"{self.others_elsewhere} campaign{'s' if self.others_elsewhere > 1 else ''} "
                         "of other accounts")
        if names:
            text += ", shared with " + _joined(names)
        return text

    def turns_in_words(self, calls_per_request: int) -> str:
        """Why the shares hold over several windows and not within each one, when a window of the limit
        holds fewer requests than one round of the limiter's turns (the lowest weight's one request,
        each other campaign's in proportion); "" when a window holds a round, or nobody shares."""
        if len(self.weights) < 2 or not self.window_calls or calls_per_request < 1:
            return ""
        per_window = max(self.window_calls // calls_per_request, 1)
        round_requests = math.ceil(sum(self.weights) / min(self.weights))
        if round_requests <= per_window:
            return ""
        windows = math.ceil(round_requests / per_window)
        return (
            f"The shares hold over every {windows} windows of the limit, not within each one: a window "
            f"({self.window_calls:,} calls per {self.window_seconds:g} s) holds {per_window} request"
            f"{'s' if per_window > 1 else ''} of {calls_per_request:,} calls, and one round of the turns between "
            f"these campaigns takes {round_requests} requests, so the one of lowest priority sends nothing in some "
            f"windows. Batches of {max(self.window_calls // round_requests, 1):,} calls or fewer would share "
            "every window."
        )

    def finish_at(self, pending_calls: int, now: datetime.datetime | None = None) -> datetime.datetime | None:
        """When the calls still waiting would have left at the whole share (the fastest allowed)."""
        if not self.calls_per_minute:
            return None
        return (now or timezone.now()) + datetime.timedelta(minutes=pending_calls / self.calls_per_minute)


def limit_share(*, flow, weight: int, exclude_campaign_id: int | None = None) -> Share:
    """The share a campaign of this weight on this flow gets beside the campaigns asking now."""
    rate = ratelimit.rate_for(flow.endpoint)
    try:
        usage = ratelimit.limiter_usage(endpoint=flow.endpoint, account_client_id=flow.account.client_id, rate=rate)
        asking = {int(who): w for who, w in usage.asking.items() if who.isdigit()}
        others = Campaign.objects.filter(pk__in=asking, status=Campaign.Status.RUNNING)
    except ratelimit.LimiterUnavailable:
        asking = None
        others = Campaign.objects.filter(status=Campaign.Status.RUNNING, flow__account_id=flow.account_id,
                                         flow__endpoint=flow.endpoint)
    others = [other for other in others.exclude(pk=exclude_campaign_id).select_related("flow").order_by("name")]
    # The limiter's own weights, so the figures say what it does even mid-way through a change.
    weights = (weight, *(asking[other.pk] if asking is not None else other.weight for other in others))
    mine = [other for other in others if other.flow.account_id == flow.account_id]
    return Share(
        fraction=Fraction(weight, sum(weights)),
        limit_per_minute=rate.per_minute,
        sharing_with=[(other.pk, other.name, other.get_priority_display().lower()) for other in mine],
        others_elsewhere=len(others) - len(mine),
        weights=weights, window_calls=rate.calls, window_seconds=rate.seconds,
    )


def campaign_share(campaign: Campaign) -> Share | None:
    """The share the limiter gives a running campaign now; None when it is not sending (not running,
    outside its calling window)."""
    if campaign.status != Campaign.Status.RUNNING or not campaign_in_window(campaign, timezone.now()):
        return None
    return limit_share(flow=campaign.flow, weight=campaign.weight, exclude_campaign_id=campaign.pk)


def _joined(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
