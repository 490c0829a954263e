"""Attacks on the drop folder and the SFTP folder with real links (issue 11, finding 1): a link is
never followed, whether it is a folder of the layout, a report's name, a file in Upload, or a name
swapped for a link after the listing. Each attack ends with nothing imported, launched or written."""

import os

import pytest

from campaigns.models import Campaign, ContactList
from intake.folders import UPLOAD, FolderError, LocalFolder
from intake.models import IntakeFile, SftpIntake
from intake.sftp import file_intake_poll
from tests.factories import make_flow
from tests.intake.conftest import SUMMARY_TO, csv_bytes, listing, summaries, upload

pytestmark = pytest.mark.django_db


def drop_intake(flow, base, smtp_mailbox=None, name="Acme drop") -> SftpIntake:
    account = flow.account
    account.holder_email = SUMMARY_TO
    account.save()
    return SftpIntake.objects.create(
        name=name, account=account, mode=SftpIntake.Mode.LOCAL, base_folder=str(base), notify_via=smtp_mailbox
    )


@pytest.fixture
def victim(tmp_path):
    """Account B: its own drop folder, auto-launching everything that lands in its Upload."""
    flow = make_flow(flow_id="VICTIM01", client_id="C777", auto_launch=True)
    base = tmp_path / "victim"
    for folder in ("Upload", "Success", "Failure"):
        (base / folder).mkdir(parents=True)
    return flow, base


def test_a_failure_folder_linked_to_another_accounts_upload_is_refused(flow, tmp_path, victim):
    # given account A's Failure/ is a link to account B's Upload/, and A uploads a file that fails
    victim_flow, victim_base = victim
    base = tmp_path / "attacker"
    (base / "Upload").mkdir(parents=True)
    (base / "Success").mkdir()
    os.symlink(victim_base / "Upload", base / "Failure")
    upload(base, "C129113_VICTIM01.csv", csv_bytes(3))  # names B's flow: refused for A, so bound for Failure
    intake = drop_intake(flow, base)

    # when A's folder is polled (twice: the second look takes complete files)
    file_intake_poll(intake_id=intake.pk)
    stats = file_intake_poll(intake_id=intake.pk)

    # then the poll stops at the link, and nothing reached B's Upload, nor any list or campaign
    assert "Failure" in stats["error"] and "links are never followed" in stats["error"]
    assert listing(victim_base, "Upload") == []
    assert listing(base, "Upload") == ["C129113_VICTIM01.csv"]
    assert not ContactList.objects.exists() and not Campaign.objects.exists()


def test_a_report_name_linked_to_a_file_elsewhere_never_writes_through_the_link(flow, tmp_path):
    # given a link where the report of a refused file will be written, pointing at a precious file
    base = tmp_path / "drop"
    for folder in ("Upload", "Success", "Failure"):
        (base / folder).mkdir(parents=True)
    precious = tmp_path / "settings.py"
    precious.write_text("SECRET = 1\n")
    upload(base, "badname.csv", csv_bytes(1))
    os.symlink(precious, base / "Failure" / "badname.csv.report.csv")
    intake = drop_intake(flow, base)

    # when the file is taken and refused
    file_intake_poll(intake_id=intake.pk)
    stats = file_intake_poll(intake_id=intake.pk)

    # then the precious file is untouched and the report is a plain file in Failure
    assert stats["failure"] == 1
    assert precious.read_text() == "SECRET = 1\n"
    report = base / "Failure" / "badname.csv.report.csv"
    assert not report.is_symlink() and "does not follow" in report.read_text()
    assert sorted(name for name in listing(base, "Failure") if not name.startswith(".")) == [
        "badname.csv", "badname.csv.report.csv"
    ]


def test_a_link_in_upload_is_left_alone_and_reported_once(flow, tmp_path, smtp_mailbox, smtp_sink):
    # given a link in Upload, named as a call list, to a file outside the account's folder
    base = tmp_path / "drop"
    (base / "Upload").mkdir(parents=True)
    outside = tmp_path / "someone-elses.csv"
    outside.write_bytes(csv_bytes(5))
    os.symlink(outside, base / "Upload" / "C129113_ZH0RKJvh.csv")
    intake = drop_intake(flow, base, smtp_mailbox)

    # when the folder is polled three times
    stats = [file_intake_poll(intake_id=intake.pk) for _ in range(3)]

    # then the link was never read or moved, no list was made, and the holder was told once
    assert [s["refused"] for s in stats] == [1, 0, 0]
    assert not ContactList.objects.exists()
    assert os.path.islink(base / "Upload" / "C129113_ZH0RKJvh.csv")
    assert listing(base, "Success") == listing(base, "Failure") == []
    mails = summaries(smtp_sink)
    assert len(mails) == 1
    text = mails[0].get_body(preferencelist=("plain",)).get_content()
    assert "is a link or a folder" in text and "Left in Upload" in text
    assert IntakeFile.objects.get().refusal.startswith("“C129113_ZH0RKJvh.csv” is a link")


def test_a_name_swapped_for_a_link_after_the_listing_is_not_read(flow, tmp_path):
    # given a drop folder listed while the file was a real file
    base = tmp_path / "drop"
    base.mkdir()
    upload(base, "C129113_ZH0RKJvh.csv", csv_bytes(2))
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    intake = drop_intake(flow, base)
    with LocalFolder(intake) as folder:
        folder.ensure_layout()
        [entry] = folder.list_upload()
        assert entry.regular

        # when the name is swapped for a link before it is opened
        os.replace(base / UPLOAD / entry.name, tmp_path / "moved-away.csv")
        os.symlink(secret, base / UPLOAD / entry.name)

        # then opening it refuses, naming the reason, and reads nothing
        with pytest.raises(FolderError, match="links are never followed"):
            with folder.open_upload(entry.name):
                pass


def test_a_drop_folder_that_is_itself_a_link_is_refused(flow, tmp_path, victim):
    _, victim_base = victim
    os.symlink(victim_base, tmp_path / "drop")
    intake = drop_intake(flow, tmp_path / "drop")

    stats = file_intake_poll(intake_id=intake.pk)

    assert "cannot be opened" in stats["error"]
    assert listing(victim_base, "Upload") == [] and not ContactList.objects.exists()


def test_sftp_skips_links_and_refuses_an_oversized_file_before_downloading(
    settings, sftp_intake, sftp_server, smtp_sink
):
    # given, on the SFTP server, a link to a file outside Upload and a file over the size limit
    settings.UPLOAD_MAX_BYTES = 1000
    outside = sftp_server.root / "outside.csv"
    outside.write_bytes(csv_bytes(3))
    (sftp_server.root / "Upload").mkdir(exist_ok=True)
    os.symlink(outside, sftp_server.root / "Upload" / "C129113_ZH0RKJvh.zip")
    upload(sftp_server.root, "C129113_ZH0RKJvh.csv", csv_bytes(200))

    # when the folder is polled twice
    file_intake_poll(intake_id=sftp_intake.pk)
    stats = file_intake_poll(intake_id=sftp_intake.pk)

    # then the link stays and is reported, the big file is refused whole and moved to Failure
    assert stats["failure"] == 1
    assert not ContactList.objects.exists()
    assert listing(sftp_server.root, "Upload") == ["C129113_ZH0RKJvh.zip"]
    assert listing(sftp_server.root, "Failure") == ["C129113_ZH0RKJvh.csv", "C129113_ZH0RKJvh.csv.report.csv"]
    refusals = dict(IntakeFile.objects.values_list("filename", "refusal"))
    assert "is a link or a folder" in refusals["C129113_ZH0RKJvh.zip"]
    assert "larger than 1,000 bytes" in refusals["C129113_ZH0RKJvh.csv"]
