"""The file poller against a real SFTP server (asyncssh, password login, chroot) on 127.0.0.1, and the
drop folder with the same layout on this machine."""

import csv
import datetime
from io import BytesIO

import asyncssh
import pytest

from campaigns.models import Campaign, ContactList
from intake.files import intake_file_take
from intake.models import IntakeFile, SeenRemoteFile, SftpIntake
from intake.sftp import file_intake_poll
from tests.factories import make_flow
from tests.intake.conftest import SUMMARY_TO, csv_bytes, listing, summaries, upload

pytestmark = pytest.mark.django_db

def poll_twice(intake) -> dict:
    """Two looks: the first notes each file, the second takes the ones that did not change."""
    first = file_intake_poll(intake_id=intake.pk)
    assert first["taken"] == 0, first
    return file_intake_poll(intake_id=intake.pk)


def test_both_file_name_forms_route_to_the_flow_with_the_start_time_from_the_name(flow, sftp_intake, sftp_server,
                                                                                     smtp_sink):
    # given two files in Upload, one with a start time in its name
    upload(sftp_server.root, "C129113_ZH0RKJvh.csv", csv_bytes(2))
    upload(sftp_server.root, "C129113_ZH0RKJvh_upload_08022030211200.csv", csv_bytes(3, first=50))

    # when the folder is polled twice
    stats = poll_twice(sftp_intake)

    # then both became lists of the flow, from SFTP, the second with the common start time
    assert (stats["taken"], stats["success"], stats["error"]) == (2, 2, "")
    plain = ContactList.objects.get(original_filename="C129113_ZH0RKJvh.csv")
    timed = ContactList.objects.get(original_filename="C129113_ZH0RKJvh_upload_08022030211200.csv")
    assert plain.flow == timed.flow == flow
    assert plain.source == timed.source == ContactList.Source.SFTP
    assert (plain.imported_count, timed.imported_count) == (2, 3)
    assert plain.common_start_at is None
    assert timed.common_start_at.isoformat() == "2030-02-08T15:42:00+00:00"  # 21:12 Asia/Kolkata
    # and both left Upload for Success, each with its report beside it
    assert listing(sftp_server.root, "Upload") == []
    assert listing(sftp_server.root, "Success") == [
        "C129113_ZH0RKJvh.csv", "C129113_ZH0RKJvh.csv.report.csv",
        "C129113_ZH0RKJvh_upload_08022030211200.csv", "C129113_ZH0RKJvh_upload_08022030211200.csv.report.csv",
    ]
    report = (sftp_server.root / "Success" / "C129113_ZH0RKJvh.csv.report.csv").read_text()
    assert report.strip() == "line,column,value,reason"
    # and the account holder got one summary naming both
    [summary] = summaries(smtp_sink)
    assert summary["Subject"] == "Call lists taken from Acme SFTP: 2 of 2 imported"
    text = summary.get_body().get_content()
    assert "C129113_ZH0RKJvh.csv: 2 rows imported, 0 rows rejected." in text
    assert "common start time 08 Feb 2030 21:12 (Asia/Kolkata)" in text
    assert text.count("Moved to Success.") == 2


def test_bad_files_end_in_failure_with_a_report_saying_why(flow, sftp_intake, sftp_server, smtp_sink):
    make_flow(flow_id="OtherAcc", client_id="C555555")
    upload(sftp_server.root, "C129113_ZH0RKJvh.csv", csv_bytes(2, bad=1))  # imported, one row rejected
    upload(sftp_server.root, "C555555_OtherAcc.csv", csv_bytes(1))  # someone else's user ID
    upload(sftp_server.root, "C129113_Missing1.csv", csv_bytes(1))  # no such flow
    upload(sftp_server.root, "customers.csv", csv_bytes(1))  # not the naming scheme
    upload(sftp_server.root, "C129113_ZH0RKJvh_upload_01012030000000.zip", b"not a zip at all")

    stats = poll_twice(sftp_intake)

    assert (stats["success"], stats["failure"]) == (1, 4)
    assert listing(sftp_server.root, "Upload") == []
    assert listing(sftp_server.root, "Success") == ["C129113_ZH0RKJvh.csv", "C129113_ZH0RKJvh.csv.report.csv"]
    rejected = (sftp_server.root / "Success" / "C129113_ZH0RKJvh.csv.report.csv").read_text().splitlines()
    assert rejected[0] == "line,column,value,reason" and rejected[1].startswith("4,tel1,12,")
    failure = sftp_server.root / "Failure"

    def reason(name):
        rows = list(csv.reader((failure / f"{name}.report.csv").open()))
        assert rows[0] == ["error"] and len(rows) == 2
        return rows[1][0]

    assert "gives user ID C555555, but this folder belongs to account C129113" in reason("C555555_OtherAcc.csv")
    assert 'Account C129113 has no flow "Missing1"' in reason("C129113_Missing1.csv")
    assert "does not follow C<UserID>_<FlowID>.csv" in reason("customers.csv")
    assert "not a readable ZIP archive" in reason("C129113_ZH0RKJvh_upload_01012030000000.zip")
    assert (failure / "C555555_OtherAcc.csv").exists()
    # only files whose name routed became lists
    assert sorted(ContactList.objects.values_list("original_filename", "status")) == [
        ("C129113_ZH0RKJvh.csv", "imported"), ("C129113_ZH0RKJvh_upload_01012030000000.zip", "refused"),
    ]
    [summary] = summaries(smtp_sink)
    assert summary["Subject"] == "Call lists taken from Acme SFTP: 1 of 5 imported"
    assert "customers.csv: refused." in summary.get_body().get_content()


def test_a_file_still_being_written_is_not_taken_until_it_stops_changing(flow, sftp_intake, sftp_server, smtp_sink):
    # given a file being written
    upload(sftp_server.root, "C129113_ZH0RKJvh.csv", csv_bytes(2))

    # the first look only notes it
    assert file_intake_poll(intake_id=sftp_intake.pk)["taken"] == 0
    # it grows before the second look, which therefore does not take it either
    upload(sftp_server.root, "C129113_ZH0RKJvh.csv", csv_bytes(5), age=30)
    assert file_intake_poll(intake_id=sftp_intake.pk)["taken"] == 0
    assert ContactList.objects.count() == 0
    assert listing(sftp_server.root, "Upload") == ["C129113_ZH0RKJvh.csv"]

    # once it is the same at two looks it is taken, whole
    assert file_intake_poll(intake_id=sftp_intake.pk)["taken"] == 1
    assert ContactList.objects.get().imported_count == 5


def test_two_looks_too_close_together_do_not_take_a_file(settings, flow, sftp_intake, sftp_server):
    settings.INTAKE_FILE_SETTLE_SECONDS = 3600
    upload(sftp_server.root, "C129113_ZH0RKJvh.csv", csv_bytes(2))

    file_intake_poll(intake_id=sftp_intake.pk)
    file_intake_poll(intake_id=sftp_intake.pk)

    assert ContactList.objects.count() == 0
    SeenRemoteFile.objects.update(looked_at=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
    assert file_intake_poll(intake_id=sftp_intake.pk)["taken"] == 1


def test_partial_upload_names_are_never_taken(flow, sftp_intake, sftp_server):
    upload(sftp_server.root, "C129113_ZH0RKJvh.csv.filepart", csv_bytes(2))
    upload(sftp_server.root, ".C129113_ZH0RKJvh.csv", csv_bytes(2))

    poll_twice(sftp_intake)

    assert ContactList.objects.count() == 0
    assert listing(sftp_server.root, "Upload") == [".C129113_ZH0RKJvh.csv", "C129113_ZH0RKJvh.csv.filepart"]


def test_a_wrong_pinned_host_key_refuses_to_connect(flow, sftp_intake, sftp_server, smtp_sink):
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    sftp_intake.host_key = other
    sftp_intake.save()
    upload(sftp_server.root, "C129113_ZH0RKJvh.csv", csv_bytes(2))

    stats = file_intake_poll(intake_id=sftp_intake.pk)

    presented = asyncssh.import_public_key(sftp_server.host_key_line).get_fingerprint()
    assert stats["error"].startswith(f"The SFTP server 127.0.0.1:{sftp_server.port} presented host key {presented}")
    assert "not the pinned key" in stats["error"] and "the connection was refused" in stats["error"]
    sftp_intake.refresh_from_db()
    assert sftp_intake.last_error == stats["error"]
    assert SeenRemoteFile.objects.count() == 0
    assert listing(sftp_server.root, "Upload") == ["C129113_ZH0RKJvh.csv"]


def test_no_pinned_host_key_refuses_and_shows_the_servers_key(flow, sftp_intake, sftp_server):
    sftp_intake.host_key = ""
    sftp_intake.save()

    stats = file_intake_poll(intake_id=sftp_intake.pk)

    assert "No host key is pinned" in stats["error"]
    assert sftp_server.host_key_line.split()[1] in stats["error"]


def test_a_wrong_password_is_said_in_words_without_the_password(flow, sftp_intake, caplog):
    sftp_intake.password = "guess-1234"
    sftp_intake.save()

    stats = file_intake_poll(intake_id=sftp_intake.pk)

    assert stats["error"] == (
        f"The SFTP server 127.0.0.1:{sftp_intake.port} refused the login of acme (wrong password or key)."
    )
    assert "guess-1234" not in caplog.text


def test_an_auto_launch_flow_launches_each_file_at_its_start_time(flow, sftp_intake, sftp_server):
    flow.auto_launch = True
    flow.save()
    upload(sftp_server.root, "C129113_ZH0RKJvh_upload_08022030211200.csv", csv_bytes(2))

    poll_twice(sftp_intake)

    campaign = Campaign.objects.get()
    assert campaign.status == Campaign.Status.SCHEDULED
    assert campaign.start_at.isoformat() == "2030-02-08T15:42:00+00:00"
    assert IntakeFile.objects.get().campaign == campaign


def test_a_resumed_claim_moves_the_file_without_importing_it_again(flow, sftp_intake, sftp_server, smtp_sink):
    # given a poller that imported a file and died before moving it
    upload(sftp_server.root, "C129113_ZH0RKJvh.csv", csv_bytes(2))
    file_intake_poll(intake_id=sftp_intake.pk)
    seen = SeenRemoteFile.objects.get()
    intake_file = IntakeFile.objects.create(channel="sftp", file_intake=sftp_intake, filename=seen.name)


    intake_file_take(intake_file=intake_file, flow=flow, source="sftp", open_file=lambda: BytesIO(csv_bytes(2)))
    old = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    SeenRemoteFile.objects.filter(pk=seen.pk).update(status="taking", claimed_at=old, intake_file=intake_file)

    # when the next poll runs after the claim went stale
    stats = file_intake_poll(intake_id=sftp_intake.pk)

    # then the file is moved with its report, and there is still one list
    assert stats["success"] == 1
    assert ContactList.objects.count() == 1
    assert listing(sftp_server.root, "Success") == ["C129113_ZH0RKJvh.csv", "C129113_ZH0RKJvh.csv.report.csv"]
    assert SeenRemoteFile.objects.count() == 0
    assert len(summaries(smtp_sink)) == 1


def test_a_drop_folder_works_the_same_without_sftp(flow, tmp_path, smtp_mailbox, smtp_sink):
    account = flow.account
    account.holder_email = SUMMARY_TO
    account.save()
    base = tmp_path / "drop"
    base.mkdir()
    intake = SftpIntake.objects.create(
        name="Acme drop", account=account, mode=SftpIntake.Mode.LOCAL, base_folder=str(base), notify_via=smtp_mailbox
    )
    upload(base, "C129113_ZH0RKJvh_upload_08022030211200.csv", csv_bytes(2))
    upload(base, "C999_ZH0RKJvh.csv", csv_bytes(1))

    stats = poll_twice(intake)

    assert (stats["success"], stats["failure"], stats["error"]) == (1, 1, "")
    contact_list = ContactList.objects.get()
    assert contact_list.source == ContactList.Source.DROP
    assert contact_list.common_start_at.isoformat() == "2030-02-08T15:42:00+00:00"
    assert listing(base, "Upload") == []
    assert listing(base, "Success") == [
        "C129113_ZH0RKJvh_upload_08022030211200.csv", "C129113_ZH0RKJvh_upload_08022030211200.csv.report.csv",
    ]
    assert listing(base, "Failure") == ["C999_ZH0RKJvh.csv", "C999_ZH0RKJvh.csv.report.csv"]
    [summary] = summaries(smtp_sink)
    assert "Acme drop" in summary["Subject"]


def test_a_missing_drop_folder_is_said_in_words(flow, tmp_path):
    intake = SftpIntake.objects.create(
        name="Gone", account=flow.account, mode=SftpIntake.Mode.LOCAL, base_folder=str(tmp_path / "nope")
    )

    stats = file_intake_poll(intake_id=intake.pk)

    assert stats["error"] == f'The drop folder "{tmp_path / "nope"}" does not exist.'
