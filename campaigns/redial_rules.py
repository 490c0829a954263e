"""A campaign's redial rules: which outcomes are called again, how long after, how many attempts in all.

Read from the launch form, the API and `launch_campaign --redial busy,no_answer --redial-after 2h
--max-attempts 3`; stored on the Campaign (redial_outcomes, redial_after_seconds, max_attempts). The
dialer plans the redials (dialer.redials.planning). No rule means one attempt per contact, as before.
"""

import re
from dataclasses import dataclass

from phonon.causes import OUTCOME_WORDS, Outcome

# Outcomes a manager may have called again. Answered is never redialled (the person was reached),
# nor unknown (no report: the call may still be ringing). Unreachable and rejected may be chosen,
# but are not by default: the number does not work, or the person declined.
REDIALABLE = (Outcome.BUSY, Outcome.NO_ANSWER, Outcome.FAILED, Outcome.UNREACHABLE, Outcome.REJECTED)
DEFAULT_OUTCOMES = (Outcome.BUSY, Outcome.NO_ANSWER)
DEFAULT_AFTER_SECONDS = 2 * 3600
DEFAULT_MAX_ATTEMPTS = 3
MAX_ATTEMPTS = 10
MAX_AFTER_SECONDS = 30 * 86400
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION = re.compile(r"(?P<amount>[0-9]{1,7})\s*(?P<unit>[smhd])")


@dataclass(frozen=True)
class RedialRules:
    outcomes: tuple[str, ...] = ()
    after_seconds: int = 0
    max_attempts: int = 1

    @property
    def active(self) -> bool:
        return self.max_attempts > 1 and bool(self.outcomes)

    @property
    def redials_per_contact(self) -> int:
        return self.max_attempts - 1 if self.active else 0

    def words(self) -> str:
        """`Busy or no answer: called again 2 h after, up to 3 attempts in all`."""
        if not self.active:
            return "No redials: one attempt per contact"
        names = [OUTCOME_WORDS[Outcome(value)].lower() for value in self.outcomes]
        said = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        return (
            f"{said[0].upper()}{said[1:]}: called again {duration_text(self.after_seconds)} after, "
            f"up to {self.max_attempts} attempts in all"
        )


NO_REDIALS = RedialRules()


def parse_duration(text: str) -> int:
    """`90s`, `30m`, `2h`, `1d` (or `1h30m`) -> seconds. Raises ValueError with a sentence."""
    cleaned = (text or "").strip().lower()
    if cleaned.isdigit():
        return int(cleaned)
    position, total = 0, 0
    for match in DURATION.finditer(cleaned):
        if cleaned[position : match.start()].strip():
            break
        total += int(match["amount"]) * UNITS[match["unit"]]
        position = match.end()
    if not cleaned or position == 0 or cleaned[position:].strip():
        raise ValueError(f"Write a redial delay as 90s, 30m, 2h or 1d; got {text!r}.")
    return total


def duration_text(seconds: int) -> str:
    """The reverse of parse_duration, shortest form: 5400 -> `1h30m`, 90 -> `90s`."""
    if seconds and seconds % 60:
        return f"{seconds}s"
    parts, left = [], seconds
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts) or "0s"


def parse_outcomes(text) -> tuple[str, ...]:
    """`busy,no_answer` (or a list of names) -> the outcomes in a fixed order. Raises ValueError."""
    names = text.split(",") if isinstance(text, str) else list(text or [])
    chosen = set()
    for name in names:
        value = str(name).strip().lower().replace(" ", "_").replace("-", "_")
        if not value:
            continue
        if value not in REDIALABLE:
            allowed = ", ".join(REDIALABLE)
            raise ValueError(f"A redial outcome is one of {allowed}; got {str(name).strip()!r}.")
        chosen.add(value)
    return tuple(value.value for value in REDIALABLE if value in chosen)


def redial_rules(*, outcomes=None, after=None, max_attempts=None) -> RedialRules:
    """The rules from what a manager typed; what was left out takes the defaults once redials are
    asked for at all (any of the three given). Raises ValueError with a sentence."""
    if outcomes in (None, "", []) and after in (None, "") and max_attempts in (None, ""):
        return NO_REDIALS
    chosen = parse_outcomes(outcomes) if outcomes not in (None, "") else DEFAULT_OUTCOMES
    if after in (None, ""):
        seconds = DEFAULT_AFTER_SECONDS
    elif isinstance(after, int):
        seconds = after
    else:
        seconds = parse_duration(str(after))
    if not 1 <= seconds <= MAX_AFTER_SECONDS:
        raise ValueError("A redial waits from 1 second to 30 days after the call it follows.")
    try:
        attempts = DEFAULT_MAX_ATTEMPTS if max_attempts in (None, "") else int(max_attempts)
    except (TypeError, ValueError) as error:
        raise ValueError(f"Max attempts is a whole number from 1 to {MAX_ATTEMPTS}.") from error
    if not 1 <= attempts <= MAX_ATTEMPTS:
        raise ValueError(f"Max attempts is a whole number from 1 to {MAX_ATTEMPTS} (the first call counts).")
    if attempts > 1 and not chosen:
        raise ValueError("Choose at least one outcome to call again, or set max attempts to 1.")
    return RedialRules(outcomes=tuple(str(value) for value in chosen), after_seconds=seconds, max_attempts=attempts)


def campaign_rules(campaign) -> RedialRules:
    return RedialRules(
        outcomes=tuple(campaign.redial_outcomes or ()),
        after_seconds=campaign.redial_after_seconds,
        max_attempts=campaign.max_attempts,
    )


def rules_fields(rules: RedialRules) -> dict:
    """The Campaign fields that store these rules."""
    return {
        "redial_outcomes": list(rules.outcomes),
        "redial_after_seconds": rules.after_seconds,
        "max_attempts": rules.max_attempts,
    }
