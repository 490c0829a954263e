"""Redials: the rules as typed, and the planner that makes a new call for each contact not reached
(dialer.redials.planning), against the sandbox provider and real delivery reports."""

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.donotcall.lists import dnc_entries_add, dnc_own_list
from campaigns.models import Campaign
from campaigns.redial_rules import NO_REDIALS, campaign_rules, parse_duration, redial_rules
from dialer import campaign_actions, settling
from dialer.campaign_actions import campaign_redials_edit
from dialer.models import Batch, Call
from dialer.outcomes import applying
from dialer.outcomes.receiving import report_receive
from dialer.redials.planning import campaign_plan_redials, running_campaigns_plan_redials
from dialer.redials.waiting import _awaiting_sql, _waiting_sql, campaign_redials_settled, redials_waiting
from dialer.tallies import tallies_differ
from flows.models import Account
from tests.dialer.outcome_reports import leg, report
from tests.dialer.test_dispatch import drain, running_campaign
from tests.factories import make_flow

# The tests' rules wait a second; the planner is told it is a few seconds later.
LATER = datetime.timedelta(seconds=5)

# --- The rules as a manager types them ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("45", 45)]
)
def test_a_redial_delay_is_read_in_seconds_minutes_hours_or_days(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "2 hours", "h", "2x", "-5m", "1h junk"])
def test_a_delay_written_otherwise_is_refused_with_an_example(text):
    with pytest.raises(ValueError, match="90s, 30m, 2h"):
        parse_duration(text)


def test_asking_for_redials_fills_in_what_was_left_out():
    rules = redial_rules(outcomes="busy,no_answer")
    assert (rules.outcomes, rules.after_seconds, rules.max_attempts) == (("busy", "no_answer"), 7200, 3)
    assert redial_rules() is NO_REDIALS and not NO_REDIALS.active
    assert redial_rules(max_attempts=2).outcomes == ("busy", "no_answer")


def test_answered_and_unknown_can_never_be_redialled():
    for outcome in ("answered", "unknown", "maybe"):
        with pytest.raises(ValueError, match="A redial outcome is one of busy, no_answer, failed"):
            redial_rules(outcomes=outcome)


@pytest.mark.parametrize("attempts", [0, 11, "x"])
def test_max_attempts_is_1_to_10(attempts):
    with pytest.raises(ValueError, match="Max attempts"):
        redial_rules(outcomes="busy", max_attempts=attempts)


def test_the_rules_read_as_a_sentence():
    assert redial_rules(outcomes="busy,no_answer", after="30m", max_attempts=3).words() == (
        "Busy or no answer: called again 30m after, up to 3 attempts in all"
    )


# --- Planning redials ------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fast_dispatch(settings):
    settings.PHONON_READ_TIMEOUT = 1.0
    settings.DISPATCH_GRANT_MAX_WAIT = 0.5
    settings.PHONON_REALTIME_RATE = "100000/60"


def with_rules(contacts=6, **rules):
    rules.setdefault("outcomes", "busy,no_answer")
    rules.setdefault("after", "1s")
    rules.setdefault("max_attempts", 3)
    flow = make_flow()
    # The account's cap (1 call a day by default) would stop every redial: raised here, tested below.
    Account.objects.filter(pk=flow.account_id).update(calls_per_number=10)
    campaign = running_campaign(flow, contacts, redials=redial_rules(**rules))
    drain(campaign)
    return flow, campaign


CAUSES = {"answered": None, "busy": "17", "no_answer": "19", "rejected": "21", "unreachable": "1"}


def report_outcome(flow, call: Call, outcome: str) -> None:
    number = call.contact.primary_number
    if outcome == "answered":
        body = report(call.phonon_uuid, leg(f"cdr-{call.pk}", number, connected=True, keys="1"))
    else:
        body = report(call.phonon_uuid, leg(f"cdr-{call.pk}", number, cause=CAUSES[outcome], rang=outcome != "busy"))
    report_receive(flow=flow, body=body, remote_addr="127.0.0.1")
    applying.reports_apply()


def last_calls(campaign) -> list[Call]:
    """Each contact's call of the highest attempt, in contact order."""
    calls = Call.objects.filter(campaign=campaign).select_related("contact").order_by("contact_id", "attempt")
    return list({call.contact_id: call for call in calls}.values())


def report_round(flow, campaign, outcomes) -> None:
    for call, outcome in zip(last_calls(campaign), outcomes, strict=True):
        if outcome and call.state == Call.State.PLACED and call.outcome == "unknown":
            report_outcome(flow, call, outcome)


@pytest.mark.django_db
def test_busy_and_no_answer_contacts_get_a_new_call_with_its_own_identifier_after_the_delay(sandbox):
    flow, campaign = with_rules(after="1h")
    first_identifiers = set(Call.objects.filter(campaign=campaign).values_list("client_identifier", flat=True))
    report_round(flow, campaign, ["answered", "busy", "no_answer", "rejected", "unreachable", None])

    assert campaign_plan_redials(campaign_id=campaign.pk).redials == 0  # the hour has not passed
    planned = campaign_plan_redials(campaign_id=campaign.pk, now=timezone.now() + datetime.timedelta(hours=2))

    assert planned.redials == 2 and planned.skipped == 0
    redials = list(Call.objects.filter(campaign=campaign, attempt=2).order_by("contact_id"))
    firsts = {call.contact_id: call for call in Call.objects.filter(campaign=campaign, attempt=1)}
    assert [firsts[call.contact_id].outcome for call in redials] == ["busy", "no_answer"]
    for call in redials:
        assert call.client_identifier == f"{firsts[call.contact_id].client_identifier}-2"
        assert call.state == Call.State.PENDING and call.batch is not None
    # First calls keep their identifiers; the planner made one batch for the two.
    assert set(Call.objects.filter(campaign=campaign, attempt=1).values_list("client_identifier", flat=True)) == (
        first_identifiers
    )
    assert Batch.objects.filter(calls__attempt=2).distinct().count() == 1
    assert not tallies_differ(campaign_id=campaign.pk)


@pytest.mark.django_db
def test_a_redial_is_sent_as_a_new_request_and_planned_only_once(sandbox):
    flow, campaign = with_rules()
    report_round(flow, campaign, ["busy"] * 6)
    later = timezone.now() + LATER
    assert campaign_plan_redials(campaign_id=campaign.pk, now=later).redials == 6
    assert campaign_plan_redials(campaign_id=campaign.pk, now=later).redials == 0
    Campaign.objects.filter(pk=campaign.pk).update(redials_checked_until=None)  # even looking at all again
    assert campaign_plan_redials(campaign_id=campaign.pk, now=later).redials == 0

    drain(campaign)
    sent = [entry["client-identifier"] for entry in sandbox.provider.ledger()]
    assert len(sent) == 12 and len(set(sent)) == 12
    assert sorted(identifier for identifier in sent if identifier.endswith("-2")) == sorted(
        Call.objects.filter(campaign=campaign, attempt=2).values_list("client_identifier", flat=True)
    )
    assert not Call.objects.filter(campaign=campaign, attempt=2).exclude(state=Call.State.PLACED).exists()


@pytest.mark.django_db
def test_no_contact_gets_more_calls_than_max_attempts_and_the_campaign_then_completes(sandbox):
    flow, campaign = with_rules(max_attempts=3)
    now = timezone.now()
    for _ in range(4):
        report_round(flow, campaign, ["busy", "no_answer", "answered", "busy", "busy", "rejected"])
        now += LATER
        campaign_plan_redials(campaign_id=campaign.pk, now=now)
        drain(campaign)
    attempts = {}
    for contact_id, attempt in Call.objects.filter(campaign=campaign).values_list("contact_id", "attempt"):
        attempts[contact_id] = max(attempts.get(contact_id, 0), attempt)
    assert sorted(attempts.values()) == [1, 1, 3, 3, 3, 3]
    assert campaign_redials_settled(campaign_id=campaign.pk)
    # Completed by the send of its last batch: the last attempts' outcomes can ask for nothing more.
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.COMPLETED


@pytest.mark.django_db
def test_a_campaign_waits_for_its_redials_and_for_outcomes_that_may_ask_for_one(sandbox):
    flow, campaign = with_rules(after="1h")
    assert not settling.campaign_complete_if_done(campaign_id=campaign.pk)  # no outcome yet
    waiting = redials_waiting(campaign)
    assert (waiting.redials, waiting.awaiting_outcome) == (0, 6)

    report_round(flow, campaign, ["answered", "answered", "answered", "answered", "busy", "no_answer"])
    waiting = redials_waiting(campaign)
    assert (waiting.redials, waiting.awaiting_outcome) == (2, 0)
    first_outcome = Call.objects.filter(campaign=campaign, outcome="busy").get().outcome_at
    assert waiting.next_at >= first_outcome + datetime.timedelta(hours=1) - datetime.timedelta(seconds=1)
    assert not settling.campaign_complete_if_done(campaign_id=campaign.pk)

    campaign_plan_redials(campaign_id=campaign.pk, now=timezone.now() + datetime.timedelta(hours=2))
    drain(campaign)
    report_round(flow, campaign, ["answered"] * 6)
    assert settling.campaign_complete_if_done(campaign_id=campaign.pk)


@pytest.mark.django_db
@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="SQLite's plan: PostgreSQL matches bound values")
def test_the_panels_counts_read_the_partial_indexes_on_sqlite(sandbox):
    # given a campaign with rules (SQLite uses a partial index only when the query holds its terms)
    _, campaign = with_rules(after="1h")
    rules = campaign_rules(campaign)
    # then each count of the redial panel reads its partial index
    for (sql, params), index in ((_waiting_sql(campaign, rules), "call_redial_due_idx"),
                                 (_awaiting_sql(campaign, rules), "call_awaiting_outcome_idx")):
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN SELECT COUNT(*) {sql}", params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert f"USING INDEX {index}" in plan, plan


@pytest.mark.django_db
def test_no_redial_is_planned_outside_the_window_or_while_paused(sandbox):
    flow, campaign = with_rules()
    report_round(flow, campaign, ["busy"] * 6)
    later = timezone.now() + LATER
    local_hour = later.astimezone(datetime.timezone(datetime.timedelta(hours=5, minutes=30))).hour
    closed = f"{(local_hour + 2) % 24:02d}:00-{(local_hour + 3) % 24:02d}:00"
    Campaign.objects.filter(pk=campaign.pk).update(
        window_start=datetime.time.fromisoformat(closed[:5]), window_end=datetime.time.fromisoformat(closed[6:])
    )
    assert campaign_plan_redials(campaign_id=campaign.pk, now=later).redials == 0

    Campaign.objects.filter(pk=campaign.pk).update(window_start=datetime.time(0), window_end=None)
    campaign_actions.campaign_pause(campaign=campaign)
    assert campaign_plan_redials(campaign_id=campaign.pk, now=later).redials == 0
    campaign_actions.campaign_resume(campaign=campaign)
    assert campaign_plan_redials(campaign_id=campaign.pk, now=later).redials == 6


@pytest.mark.django_db
def test_a_cancelled_campaign_plans_no_redial(sandbox):
    flow, campaign = with_rules()
    report_round(flow, campaign, ["busy"] * 6)
    campaign_actions.campaign_cancel(campaign=campaign)
    assert running_campaigns_plan_redials(now=timezone.now() + LATER) == 0
    assert not Call.objects.filter(campaign=campaign, attempt=2).exists()


@pytest.mark.django_db
def test_a_number_put_on_the_do_not_call_list_after_its_first_call_is_not_redialled(sandbox):
    flow, campaign = with_rules()
    report_round(flow, campaign, ["busy"] * 6)
    listed = last_calls(campaign)[0].contact
    dnc_entries_add(dnc_list=dnc_own_list(account=flow.account), numbers=[listed.primary_number])

    planned = campaign_plan_redials(campaign_id=campaign.pk, now=timezone.now() + LATER)
    assert (planned.redials, planned.skipped) == (6, 1)
    skipped = Call.objects.get(campaign=campaign, contact=listed, attempt=2)
    assert skipped.state == Call.State.SKIPPED and skipped.batch is None
    assert "do-not-call" in skipped.provider_message
    drain(campaign)
    assert [entry["contact-numbers"][0] for entry in sandbox.provider.ledger()].count(listed.primary_number) == 1
    assert not tallies_differ(campaign_id=campaign.pk)


@pytest.mark.parametrize(
    "outcomes",
    [
        ["busy"] * 8,  # dense: the contacts are read along the key from the first due to the last
        ["busy", None, None, None, None, None, None, "no_answer"],  # sparse: looked up one id at a time
    ],
)
@pytest.mark.django_db
def test_the_due_contacts_dense_or_sparse_are_each_judged_and_redialled_once(sandbox, outcomes):
    flow, campaign = with_rules(contacts=8)
    report_round(flow, campaign, outcomes)
    due = [call.contact for call, outcome in zip(last_calls(campaign), outcomes, strict=True) if outcome]
    dnc_entries_add(dnc_list=dnc_own_list(account=flow.account), numbers=[due[-1].primary_number])

    planned = campaign_plan_redials(campaign_id=campaign.pk, now=timezone.now() + LATER)
    assert (planned.redials, planned.skipped) == (len(due), 1)
    redials = {call.contact_id: call for call in Call.objects.filter(campaign=campaign, attempt=2)}
    assert sorted(redials) == sorted(contact.pk for contact in due)
    assert redials[due[-1].pk].state == Call.State.SKIPPED
    assert {redials[contact.pk].state for contact in due[:-1]} == {Call.State.PENDING}
    assert not tallies_differ(campaign_id=campaign.pk)


@pytest.mark.django_db
def test_the_dialling_cap_counts_a_contacts_earlier_attempts(sandbox):
    flow, campaign = with_rules(max_attempts=3)
    Account.objects.filter(pk=flow.account_id).update(calls_per_number=2, cap_days=7)
    now = timezone.now()
    report_round(flow, campaign, ["busy"] * 6)
    now += LATER
    assert campaign_plan_redials(campaign_id=campaign.pk, now=now).skipped == 0
    drain(campaign)
    report_round(flow, campaign, ["busy"] * 6)
    now += LATER
    planned = campaign_plan_redials(campaign_id=campaign.pk, now=now)
    assert (planned.redials, planned.skipped) == (6, 6)
    assert set(Call.objects.filter(campaign=campaign, attempt=3).values_list("provider_message", flat=True)) == {
        "over the dialling cap (2 calls per 7 days)"
    }
    drain(campaign)
    assert len(sandbox.provider.ledger()) == 12
    assert settling.campaign_complete_if_done(campaign_id=campaign.pk)


@pytest.mark.django_db
def test_rules_changed_while_running_apply_to_the_redials_not_yet_planned(sandbox):
    flow, campaign = with_rules(outcomes="busy", max_attempts=2)
    report_round(flow, campaign, ["busy", "no_answer", None, None, None, None])
    later = timezone.now() + LATER
    assert campaign_plan_redials(campaign_id=campaign.pk, now=later).redials == 1
    campaign_redials_edit(campaign=campaign, rules=redial_rules(outcomes="busy,no_answer", after="1s", max_attempts=2))
    assert campaign_plan_redials(campaign_id=campaign.pk, now=later).redials == 1
    assert Call.objects.filter(campaign=campaign, attempt=2).count() == 2


@pytest.mark.django_db
def test_redials_planned_in_slices_make_each_contacts_redial_once(sandbox):
    flow, campaign = with_rules()
    report_round(flow, campaign, ["busy"] * 6)
    later = timezone.now() + LATER
    slices = []
    while True:
        planned = campaign_plan_redials(campaign_id=campaign.pk, now=later, limit=4)
        slices.append(planned.redials)
        if not planned.more:
            break
    assert slices == [4, 2]
    assert Call.objects.filter(campaign=campaign, attempt=2).values("contact").distinct().count() == 6
    assert sorted(Batch.objects.filter(calls__attempt=2).distinct().values_list("call_count", flat=True)) == [2, 4]
    assert not tallies_differ(campaign_id=campaign.pk)


@pytest.mark.django_db
def test_a_series_of_rounds_reads_on_after_the_last_contact_planned_with_the_first_rounds_cutoff(sandbox):
    flow, campaign = with_rules()
    report_round(flow, campaign, ["busy"] * 6)
    later = timezone.now() + LATER
    first = campaign_plan_redials(campaign_id=campaign.pk, now=later, limit=4)
    assert (first.redials, first.more) == (4, True)
    planned_first = set(Call.objects.filter(campaign=campaign, attempt=2).values_list("contact_id", flat=True))
    assert first.after == {2: max(planned_first)}  # the third attempt had nobody due: not read again

    rest = campaign_plan_redials(campaign_id=campaign.pk, now=later, limit=4, resume=first)
    assert (rest.redials, rest.more) == (2, False)
    contacts = list(Call.objects.filter(campaign=campaign, attempt=2).values_list("contact_id", flat=True))
    assert len(contacts) == len(set(contacts)) == 6 and min(set(contacts) - planned_first) > max(planned_first)
    assert Campaign.objects.get(pk=campaign.pk).redials_checked_until == first.cutoff


@pytest.mark.django_db
def test_a_round_after_the_rules_changed_reads_every_contact_again(sandbox):
    flow, campaign = with_rules(outcomes="busy", max_attempts=2)
    report_round(flow, campaign, ["no_answer", "busy", "busy", "busy", "busy", "busy"])
    later = timezone.now() + LATER
    first = campaign_plan_redials(campaign_id=campaign.pk, now=later, limit=4)
    assert (first.redials, first.more) == (4, True)

    campaign_redials_edit(campaign=campaign, rules=redial_rules(outcomes="busy,no_answer", after="1s", max_attempts=2))
    # The first contact (no answer) lies before where the series stopped: it is read again all the same.
    assert campaign_plan_redials(campaign_id=campaign.pk, now=later, limit=4, resume=first).redials == 2
    assert Call.objects.filter(campaign=campaign, attempt=2).count() == 6
