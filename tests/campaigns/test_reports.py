"""Files for the people who send call lists: rejected rows to fix and upload again, the template."""

import csv
import io

import pytest

from campaigns.models import ContactList, RejectedRow
from campaigns.reports import rejected_rows_csv, rejected_rows_to_fix_csv, template_csv

pytestmark = pytest.mark.django_db


def test_the_rejected_rows_report_is_the_original_rows_with_the_reason_and_uploads_again(flow, import_file):
    # given a file with two bad rows
    contact_list = import_file(
        b"tel1,tel2,$flow.key.name\n919812345678,,Asha\n12345,,=HYPERLINK(1)\n+91 98123 45679,abc,Ravi\n"
    )
    out = io.StringIO()

    # when the report is written
    rejected_rows_to_fix_csv(contact_list, out)

    # then it is the original header and rows, then the line, column and reason
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == ["tel1", "tel2", "$flow.key.name", "rejected_line", "rejected_column", "rejected_reason"]
    assert rows[1][:5] == ["12345", "", "'=HYPERLINK(1)", "3", "tel1"]
    assert rows[2][:5] == ["+91 98123 45679", "abc", "Ravi", "4", "tel2"]

    # and once fixed, the report itself uploads again: the rejected_* columns are ignored
    rows[1][0], rows[2][1] = "919812345670", ""
    fixed = io.StringIO()
    csv.writer(fixed).writerows(rows)
    again = import_file(fixed.getvalue().encode())
    assert (again.imported_count, again.rejected_count) == (2, 0)
    assert set(again.contacts.values_list("primary_number", flat=True)) == {"919812345670", "919812345679"}
    assert set(again.contacts.values_list("variables", flat=True)[0]) == {"name"}


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
