"""What people pressed: a campaign's keys summarised per question, in the manager's words.

A flow that asks several questions gets the keys in order (Call.keys, "12" = 1 to the first
question, 2 to the second); question N is the N-th key a person pressed. The manager's mapping
(Campaign.key_labels, `1=confirmed, 2=cancel`, campaigns.key_labels) turns digits into words on the
page, in the export and the API. Only answered calls carry keys, and an answered contact is never
called again, so each contact counts once. A "pressed" filter narrows calls to one answer, and a
contact list of the people who gave it can be launched as a new campaign.
"""

import hashlib
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db.models import Count, Q
from django.db.models.functions import Substr

from campaigns.key_labels import parse_key_labels
from campaigns.models import Campaign, ContactList
from dialer.list_copies import contact_list_copied_from_calls
from dialer.models import Call
from dialer.outcomes import tallies as outcome_tallies

MAX_QUESTIONS = 10
# A bound on the one change the tallies do not show (see survey_results).
CACHE_SECONDS = 60


def key_labels_of(campaign: Campaign) -> dict[str, str]:
    try:
        return parse_key_labels(campaign.key_labels)
    except ValueError:
        return {}  # stored before a rule tightened: shown as digits


def keys_in_words(keys: str, labels: dict[str, str]) -> str:
    """`12` -> `confirmed, cancel` (a key without words stays a digit)."""
    return ", ".join(labels.get(key, key) for key in keys)


@dataclass(frozen=True)
class Answer:
    key: str
    words: str
    contacts: int
    percent: int  # of the question's answers, rounded


@dataclass(frozen=True)
class Question:
    number: int
    answered: int
    answers: list[Answer] = field(default_factory=list)


@dataclass(frozen=True)
class SurveyResults:
    pressed: int  # contacts who pressed anything
    questions: list[Question]
    labels: dict[str, str]

    @property
    def several_questions(self) -> bool:
        return len(self.questions) > 1


def survey_results(campaign: Campaign, *, tallies=None) -> SurveyResults:
    """The campaign's answers per question, in the manager's words. The counts are one GROUP BY over
    the campaign's calls with keys (few distinct key strings, read along call_keys_idx), kept in the
    cache under the stored outcome and key tallies they were counted with (`tallies`: the campaign's
    dialer.outcomes.tallies Summary, read for the page anyway). A report that changes what a call's
    person pressed moves those tallies in the transaction that changes the call, so the next read
    counts again; only a report that reorders keys a call already had, with the same talk time, moves
    none of them, and shows at most CACHE_SECONDS late."""
    if tallies is None:
        tallies = outcome_tallies.summary_of(campaign.pk)
    key = f"redials:survey:{campaign.pk}:{_tallies_fingerprint(tallies)}"
    found = cache.get(key)
    if found is None:
        found = pressed_counts(campaign)
        cache.set(key, found, CACHE_SECONDS)
    pressed, counts = found
    return _results(pressed, counts, key_labels_of(campaign))


def _tallies_fingerprint(tallies) -> str:
    """What the stored tallies say of the campaign's reports (not of its accepted calls, which grow
    with every request sent and do not change what was pressed), hashed short."""
    reported = sorted((outcome, n) for outcome, n in tallies.counts.items() if outcome != "unknown")
    text = repr((reported, tallies.talk_ms, tallies.given_up, [(key, n) for key, n, _ in tallies.keys]))
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def pressed_counts(campaign: Campaign) -> tuple[int, dict[int, dict[str, int]]]:
    rows = (
        Call.objects.filter(campaign_id=campaign.pk)
        .exclude(keys="")
        .values("keys")
        .annotate(n=Count("*"))  # not Count("pk"): the count is then read from call_keys_idx alone
        .values_list("keys", "n")
        .order_by()
    )
    counts: dict[int, dict[str, int]] = {}
    pressed = 0
    for keys, n in rows:
        pressed += n
        for position, key in enumerate(keys[:MAX_QUESTIONS], start=1):
            question = counts.setdefault(position, {})
            question[key] = question.get(key, 0) + n
    return pressed, counts


def _results(pressed: int, counts: dict[int, dict[str, int]], labels: dict[str, str]) -> SurveyResults:
    questions = []
    for number in sorted(counts):
        answered = sum(counts[number].values())
        answers = [
            Answer(key=key, words=labels.get(key, ""), contacts=n, percent=round(100 * n / answered))
            for key, n in sorted(counts[number].items(), key=lambda item: (-item[1], item[0]))
        ]
        questions.append(Question(number=number, answered=answered, answers=answers))
    return SurveyResults(pressed=pressed, questions=questions, labels=labels)


def pressed_count(survey: SurveyResults, *, key: str, question: int | None = None, tallies=None) -> int | None:
    """How many calls the "pressed" filter finds, from what is already read: to question N, the
    survey's count (N up to MAX_QUESTIONS); to any question, the stored key tally (a call counts
    once whatever the times it pressed the key). None when neither knows."""
    if question:
        if question > MAX_QUESTIONS:
            return None
        found = next((q for q in survey.questions if q.number == question), None)
        return next((a.contacts for a in found.answers if a.key == key), 0) if found else 0
    if tallies is None:
        return None
    return next((n for pressed, n, _ in tallies.keys if pressed == key), 0)


def pressed_filter(*, key: str, question: int | None = None) -> Q:
    """Calls whose person pressed `key` (to question N, or to any)."""
    if question:
        return Q(pressed_at_question=key)
    return Q(keys__contains=key)


def calls_pressed(calls, *, key: str, question: int | None = None):
    if question:
        calls = calls.annotate(pressed_at_question=Substr("keys", question, 1))
    return calls.filter(pressed_filter(key=key, question=question))


def answer_list(*, campaign: Campaign, key: str, question: int | None = None, created_by=None) -> ContactList:
    """A new imported list holding a copy of each contact who gave this answer (one INSERT ...
    SELECT, as dialer.campaign_actions.campaign_retry_list does), to launch through the review.
    Raises ValueError in words."""
    labels = key_labels_of(campaign)
    said = labels.get(key, f"pressed {key}")
    to = f" to question {question}" if question else ""
    count = calls_pressed(Call.objects.filter(campaign=campaign), key=key, question=question).count()
    if not count:
        raise ValueError(f"Nobody in this campaign gave the answer “{said}”{to}.")
    if question:
        condition, params = "SUBSTR(k.keys, %s, 1) = %s", [question, key]
    else:
        condition, params = "k.keys LIKE %s", [f"%{key}%"]
    return contact_list_copied_from_calls(
        campaign=campaign, name=f"{campaign.name}: {said}{to}", count=count, created_by=created_by,
        calls_where=f"k.keys <> '' AND {condition}", params=params,
    )
