import csv
import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import Campaign, Contact, ContactList
from dialer.models import Call

pytestmark = pytest.mark.django_db


def run(*args):
    out = io.StringIO()
    try:
        call_command(*args, stdout=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


def test_import_contacts_prints_counts_and_the_report_path(flow, tmp_path):
    path = tmp_path / "june.csv"
    path.write_bytes(b"tel1,$flow.key.name\n919812345678,Asha\n12,Bad\n919887654321,Ravi\n")

    status, output = run("import_contacts", str(path), "--flow", "o9vJavuB", "--name", "June")

    result = json.loads(output)
    assert status == 0
    assert set(result) == {"contact_list_id", "imported", "rejected", "report"}
    assert (result["imported"], result["rejected"]) == (2, 1)
    contact_list = ContactList.objects.get(pk=result["contact_list_id"])
    assert contact_list.name == "June" and contact_list.source == ContactList.Source.COMMAND
    report = list(csv.reader(Path(result["report"]).open(newline="")))
    assert report[0] == ["line", "column", "value", "reason"] and report[1][:3] == ["3", "tel1", "12"]


def test_import_contacts_reports_null_when_nothing_was_rejected(flow, tmp_path):
    path = tmp_path / "june.csv"
    path.write_bytes("tel1;$flow.key.name\n919812345678;José\n".encode("cp1252"))

    status, output = run("import_contacts", str(path), "--flow", str(flow.pk), "--encoding", "cp1252")

    assert status == 0
    assert json.loads(output)["report"] is None
    assert Contact.objects.get().variables == {"name": "José"}


def test_import_contacts_exits_1_with_the_sentence_for_a_refused_file(flow, tmp_path):
    path = tmp_path / "june.csv"
    path.write_bytes(b"name,city\nAsha,Pune\n")

    status, output = run("import_contacts", str(path), "--flow", "o9vJavuB")

    assert status == 1
    assert list(json.loads(output)) == ["error"]
    assert "no tel1 column" in json.loads(output)["error"]


def test_import_contacts_exits_1_for_a_wrong_extension(flow, tmp_path):
    path = tmp_path / "june.xlsx"
    path.write_bytes(b"PK")

    status, output = run("import_contacts", str(path), "--flow", "o9vJavuB")

    assert status == 1 and ".csv and .zip" in json.loads(output)["error"]


def test_import_contacts_exits_1_for_an_unknown_flow(db, tmp_path):
    path = tmp_path / "june.csv"
    path.write_bytes(b"tel1\n919812345678\n")

    status, output = run("import_contacts", str(path), "--flow", "NOSUCH01")

    assert status == 1 and "NOSUCH01" in json.loads(output)["error"]


@pytest.fixture
def campaign(flow):
    contact_list = ContactList.objects.create(flow=flow, name="June", status=ContactList.Status.IMPORTED)
    campaign = Campaign.objects.create(name="June", contact_list=contact_list, flow=flow, token="tok9")
    contact = Contact.objects.create(
        contact_list=contact_list, line=2, primary_number="919812345678", numbers=["919812345678"], external_id="@evil"
    )
    Call.objects.create(campaign=campaign, contact=contact, client_identifier="tok9-1", state=Call.State.PENDING)
    return campaign


def test_export_results_writes_to_stdout_or_a_file(campaign, tmp_path):
    status, output = run("export_results", str(campaign.pk))
    target = tmp_path / "out.csv"
    run("export_results", str(campaign.pk), "-o", str(target))

    rows = list(csv.reader(io.StringIO(output)))
    assert status == 0
    assert rows[0][0] == "client_identifier" and rows[1][0] == "tok9-1" and rows[1][8] == "'@evil"
    assert list(csv.reader(target.open(newline=""))) == rows


def test_export_results_refuses_an_unknown_campaign(db):
    with pytest.raises(CommandError):
        call_command("export_results", "999999")
