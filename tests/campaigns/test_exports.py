import csv
import io

import pytest

from campaigns.models import Campaign, Contact, ContactList, RejectedRow
from campaigns.reports import excel_safe, rejected_rows_csv, template_csv
from dialer.models import Batch, Call
from dialer.results import RESULT_COLUMNS, export_results_csv

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
def campaign(flow):
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
    )
    second = Contact.objects.create(
        contact_list=contact_list, line=3, primary_number="919812345679", numbers=["919812345679"]
    )
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
    assert rows[0] == RESULT_COLUMNS
    assert rows[1] == [
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
    assert rows[2] == ["tok1-2", "919812345679", "", "", "skipped", "", "'-dnc list", "919812345679", ""]


def test_the_rejected_rows_report_is_excel_safe(flow):
    contact_list = ContactList.objects.create(flow=flow, name="x")
    RejectedRow.objects.create(contact_list=contact_list, line=4, column="tel1", value="=2+3", reason="bad")
    out = io.StringIO()

    rejected_rows_csv(contact_list, out)

    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ["line", "column", "value", "reason"],
        ["4", "tel1", "'=2+3", "bad"],
    ]


def test_the_template_names_the_variables_the_flow_used_before(flow, import_file):
    empty = io.StringIO()
    template_csv(flow, empty)
    import_file(b"tel1,$flow.key.Name,$flow.key.amount\n919812345678,Asha,10\n")
    used = io.StringIO()
    template_csv(flow, used)

    assert empty.getvalue() == "tel1,tel2,starttime,$flow.key.name\r\n"
    assert used.getvalue() == "tel1,tel2,starttime,$flow.key.Name,$flow.key.amount\r\n"
