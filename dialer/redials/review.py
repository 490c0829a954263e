"""What a campaign's redial rules add to the launch review: how many calls at most, and whether the
account's dialling cap will stop some of them."""

from dataclasses import dataclass

from campaigns.redial_rules import NO_REDIALS, RedialRules
from flows.models import Account


@dataclass(frozen=True)
class RedialReview:
    rules: RedialRules
    to_call: int  # first calls the launch will make
    cap_calls: int
    cap_days: int

    @property
    def active(self) -> bool:
        return self.rules.active

    @property
    def most_redials(self) -> int:
        """The most calls the rules may add: every contact not reached, every time, up to the cap."""
        return self.to_call * max(0, min(self.rules.max_attempts, self.cap_calls) - 1)

    @property
    def cap_stops(self) -> bool:
        return self.active and self.cap_calls < self.rules.max_attempts

    @property
    def summary(self) -> str:
        if not self.active:
            return self.rules.words()
        return f"{self.rules.words()}; at most {self.most_redials:,} more call{'s' if self.most_redials != 1 else ''}"

    @property
    def cap_warning(self) -> str:
        if not self.cap_stops:
            return ""
        calls = f"{self.cap_calls} call{'s' if self.cap_calls != 1 else ''}"
        days = f"{self.cap_days} day{'s' if self.cap_days != 1 else ''}"
        return (
            f"The account's dialling cap ({calls} to one number per {days}) stops each contact after {calls}: "
            f"attempts beyond it are skipped, not made. Lower max attempts to {self.cap_calls}, or ask an admin "
            "to raise the cap."
        )


def redial_review(*, rules: RedialRules | None, to_call: int, account: Account) -> RedialReview:
    return RedialReview(
        rules=rules or NO_REDIALS, to_call=to_call, cap_calls=account.calls_per_number, cap_days=account.cap_days
    )


def redial_review_lines(review: RedialReview) -> list[str]:
    """For `launch_campaign`'s review on stderr."""
    lines = [f"Redials:   {review.summary}"]
    if review.cap_warning:
        lines.append(f"WARNING:   {review.cap_warning}")
    return lines
