"""Campaign results as CSV: the documented columns first, Excel-safe, named after the campaign."""

import csv
import datetime
import io

import pytest

from campaigns.models import Campaign, Contact, ContactList
from campaigns.reports import excel_safe
from dialer.models import Batch, BatchAttempt, Call
from dialer.outcomes.columns import OUTCOME_COLUMNS
from dialer.outcomes.tallies import outcomes_recount
from dialer.results import RESULT_COLUMNS, export_results_csv, results_filename
from dialer.tallies import calls_recount

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value", ["=1+1", "+91 98", "-2", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")'])
def test_formula_looking_cells_are_neutralised(value):
    assert excel_safe(value) == "'" + value


@pytest.mark.parametrize(
    "value, expected", [("Asha", "Asha"), (None, ""), (205, "205"), ("919812345678", "919812345678")]
)
def test_other_cells_are_left_alone(value, expected):
    assert excel_safe(value) == expected


@pytest.fixture
def campaign(acme_flow):
    flow = acme_flow
    contact_list = ContactList.objects.create(flow=flow, name="June", status=ContactList.Status.IMPORTED)
    campaign = Campaign.objects.create(name="June", contact_list=contact_list, flow=flow, token="tok1")
    batch = Batch.objects.create(
        campaign=campaign,
        sequence=1,
        endpoint="realtime",
        call_count=2,
        request_id="c46e46f4-dc58-4839-9483-f7dd9aac28a0",
    )
    first = Contact.objects.create(
        contact_list=contact_list,
        line=2,
        primary_number="919812345678",
        numbers=["919812345678", "919887654321"],
        external_id="=cmd|' /C calc'!A0",
        variables={"name": "Asha", "amount": "=1+1"},
    )
    second = Contact.objects.create(
        contact_list=contact_list, line=3, primary_number="919812345679", numbers=["919812345679"],
        variables={"name": "Ravi"},
    )
    BatchAttempt.objects.create(batch=batch, number=1, outcome=BatchAttempt.Outcome.ANSWERED)
    sent = datetime.datetime(2026, 12, 2, 5, 0, tzinfo=datetime.UTC)
    BatchAttempt.objects.filter(batch=batch).update(created_at=sent)
    Call.objects.create(
        campaign=campaign,
        contact=first,
        batch=batch,
        client_identifier="tok1-1",
        state=Call.State.PLACED,
        phonon_uuid="501c78ee",
        provider_code=200,
        provider_message="Success",
    )
    Call.objects.create(
        campaign=campaign,
        contact=second,
        client_identifier="tok1-2",
        state=Call.State.SKIPPED,
        provider_message="-dnc list",
    )
    calls_recount()
    return campaign


def test_results_keep_the_documented_column_order_and_are_excel_safe(campaign):
    out = io.StringIO()

    count = export_results_csv(campaign, out)

    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert count == 2
    assert rows[0][:7] == [
        "client_identifier",
        "numbers",
        "request_id",
        "phonon_uuid",
        "state",
        "provider_code",
        "provider_message",
    ]
    assert rows[0] == [*RESULT_COLUMNS, "$flow.key.name", "$flow.key.amount"]
    assert rows[1][:9] == [
        "tok1-1",
        "919812345678;919887654321",
        "c46e46f4-dc58-4839-9483-f7dd9aac28a0",
        "501c78ee",
        "placed",
        "200",
        "Success",
        "919812345678",
        "'=cmd|' /C calc'!A0",
    ]
    # then, for managers: the campaign, when the request went (in its zone), the result in words,
    # the call's outcome (none reported yet), the file's line, the contact's attempts and the variables
    assert rows[1][9:] == [
        "June", "2026-12-02T10:30:00+05:30",
        "Placed: the provider accepted the call request and gave it a UUID; not that the customer answered.",
        "unknown", "", "", "", "", "", "",
        "2", "1", "", "Asha", "'=1+1",
    ]
    assert rows[2][:9] == ["tok1-2", "919812345679", "", "", "skipped", "", "'-dnc list", "919812345679", ""]
    assert rows[2][9:11] == ["June", ""] and rows[2][-2:] == ["Ravi", ""]


def test_the_results_file_is_named_after_the_campaign_and_its_day(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(
        name="March reminders: wave 2", started_at=datetime.datetime(2026, 3, 1, 20, 0, tzinfo=datetime.UTC))
    campaign.refresh_from_db()

    assert results_filename(campaign) == "march-reminders-wave-2_2026-03-02_results.csv"  # 01:30 IST the next day


def test_results_carry_each_call_s_outcome_with_times_in_the_campaign_s_zone(campaign):
    call = Call.objects.get(campaign=campaign, client_identifier="tok1-1")
    Call.objects.filter(pk=call.pk).update(
        outcome="answered", hangup_cause=16, answered_number="919887654321", talk_ms=42_500, keys="19",
        connected_at=datetime.datetime(2026, 12, 2, 5, 1, 2, tzinfo=datetime.UTC),
    )
    outcomes_recount(campaign_id=campaign.pk)  # the outcome was written behind the product's back
    out = io.StringIO()
    export_results_csv(campaign, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert {key: rows[0][key] for key in OUTCOME_COLUMNS} == {
        "outcome": "answered", "hangup_cause": "16", "answered_number": "919887654321", "talk_seconds": "42.500",
        "keys": "19", "connected_at": "2026-12-02T10:31:02.000+05:30", "hangup_cause_words": "16 normal call clearing",
    }
    assert rows[1]["outcome"] == "unknown"
