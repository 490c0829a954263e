"""Reads on campaigns' calls: counts by state and summaries, shared by pages, admin, commands and the API."""

from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Count

from campaigns.models import Campaign
from dialer import tallies
from dialer.models import Batch, Call
from dialer.redials.history import redial_summary
from phonon.codes import ResponseCode

FINAL_CALL_STATES = tuple(Call.FINAL_STATES)
ACCEPTED_STATES = (Call.State.PLACED, Call.State.ACCEPTED_UNKNOWN)

# Each outcome in one line, for managers: the provider accepting a request is not a customer answering.
OUTCOME_EXPLANATIONS = {
    Call.State.PLACED: "The provider accepted the call request and gave it a UUID; not that the customer answered.",
    Call.State.ACCEPTED_UNKNOWN: "The provider had already accepted this request (a resend was recognised), "
                                 "so the call's UUID is not known; not that the customer answered.",
    Call.State.REJECTED: "The provider refused the call request; its code and message say why.",
    Call.State.SKIPPED: "Not sent: the number is on a do-not-call list, over the dialling cap or called "
                        "recently, its start time was outside the window, the campaign was cancelled, or the "
                        "provider left it out.",
    Call.State.MAYBE_PLACED: "The campaign was cancelled after this call's request was sent but before its answer "
                             "could be read: the provider may have placed it. It was not sent again.",
    Call.State.PENDING: "Not sent yet.",
}


def outcome_words(state: str) -> str:
    """`Placed: the provider accepted ...` for exports."""
    return f"{Call.State(state).label}: {OUTCOME_EXPLANATIONS[state][0].lower()}{OUTCOME_EXPLANATIONS[state][1:]}"


@dataclass
class Progress:
    counts: dict[str, int] = field(default_factory=lambda: {state: 0 for state in Call.State.values})

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def final(self) -> int:
        return sum(self.counts[state] for state in FINAL_CALL_STATES)

    @property
    def percent(self) -> int:
        # Floor, so 100 % is shown only when every call really is final.
        return self.final * 100 // self.total if self.total else 0

    @property
    def to_send(self) -> int:
        """The calls meant to leave: every call but the skipped ones (never meant to, or cancelled)."""
        return self.total - self.skipped

    @property
    def sent(self) -> int:
        """Calls the provider answered for good: accepted or rejected."""
        return self.placed + self.accepted_unknown + self.rejected

    @property
    def sent_percent(self) -> int:
        """Progress against the calls to send, not against the skipped ones (floor: 100 % means all)."""
        return self.sent * 100 // self.to_send if self.to_send else (100 if self.total else 0)

    @property
    def sent_of_all_percent(self) -> int:
        """Sent against every call, skipped ones included: a cancelled campaign's bar."""
        return self.sent * 100 // self.total if self.total else 0

    @property
    def placed(self) -> int:
        return self.counts[Call.State.PLACED]

    @property
    def accepted_unknown(self) -> int:
        return self.counts[Call.State.ACCEPTED_UNKNOWN]

    @property
    def rejected(self) -> int:
        return self.counts[Call.State.REJECTED]

    @property
    def skipped(self) -> int:
        return self.counts[Call.State.SKIPPED]

    @property
    def maybe_placed(self) -> int:
        return self.counts[Call.State.MAYBE_PLACED]

    @property
    def pending(self) -> int:
        return self.counts[Call.State.PENDING]


def progress_by_campaign(campaign_ids: list[int]) -> dict[int, Progress]:
    """Call counts by state for several campaigns, from the stored tallies (dialer.tallies): a few
    rows per campaign, however many calls it has."""
    progress = {campaign_id: Progress() for campaign_id in campaign_ids}
    for campaign_id, counts in tallies.counts_by_campaign(campaign_ids).items():
        progress[campaign_id].counts.update(counts)
    return progress


def skip_reasons(campaign: Campaign, *, limit: int = 10) -> list[tuple[str, int]]:
    """Why the campaign's calls were skipped (do-not-call list, dialling cap, cancel, ...), with how
    many each, most first."""
    rows = (
        Call.objects.filter(campaign=campaign, state=Call.State.SKIPPED)
        .values_list("provider_message")
        .annotate(n=Count("id"))
        .order_by("-n", "provider_message")[:limit]
    )
    return [(reason or "no reason recorded", n) for reason, n in rows]


def campaign_progress(campaign: Campaign) -> Progress:
    return progress_by_campaign([campaign.pk])[campaign.pk]


def campaign_summary(campaign: Campaign) -> dict:
    """The counts `launch_campaign --wait` prints (a stable contract: never rename a field)."""
    progress = campaign_progress(campaign)
    return {
        "campaign_id": campaign.pk,
        "status": campaign.status,
        "contacts": progress.total,
        "placed": progress.placed,
        "accepted_unknown": progress.accepted_unknown,
        "rejected": progress.rejected,
        "skipped": progress.skipped,
        "maybe_placed": progress.maybe_placed,
        "batches": campaign.batches.count(),
        **redial_summary(campaign, calls=progress.total),
    }


def split_summary(campaign: Campaign) -> str:
    """What sending refused requests again in halves came to, in words: "3 calls refused: invalid
    contact number (205); 497 placed after splitting." Empty when no request was split."""
    if not Batch.objects.filter(campaign=campaign, status=Batch.Status.SPLIT).exists():
        return ""
    halves = Batch.objects.filter(campaign=campaign, depth__gt=0)
    rows = Call.objects.filter(batch__in=halves).values_list("state", "provider_code").annotate(n=Count("id"))
    refused, placed, waiting = Counter(), 0, 0
    for state, code, n in rows.order_by():
        if state == Call.State.REJECTED:
            refused[code] += n
        elif state in ACCEPTED_STATES:
            placed += n
        elif state == Call.State.PENDING:
            waiting += n
    parts = [f"{_calls(n)} refused: {_code_in_words(code)}" for code, n in sorted(refused.items(), key=str)]
    parts.append(f"{placed:,} placed after splitting")
    if waiting:
        parts.append(f"{_calls(waiting)} still being sent in smaller requests")
    return "; ".join(parts) + "."


def _calls(n: int) -> str:
    return f"{n:,} call" if n == 1 else f"{n:,} calls"


def _code_in_words(code: int | None) -> str:
    known = ResponseCode.lookup(code)
    return f"{known.message.lower()} ({known.value})" if known else f"provider code {code}"
