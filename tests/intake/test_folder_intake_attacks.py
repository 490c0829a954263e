"""Attacks on the drop folder and the SFTP folder of issue 24 (findings 3, 4 and 5), with real files on
disk and the real SFTP server: a hard link to another account's file, a report name linked to another
account's file over SFTP, a name swapped for a link between the SFTP lstat and the open, names that are
not UTF-8 or end in a newline. Good files beside the bad ones are still taken."""

import json
import os
from io import StringIO

import pytest
from django.core.management import call_command

from campaigns.models import Campaign, ContactList
from intake.folders import UPLOAD, FolderError, LocalFolder, SftpFolder
from intake.models import IntakeFile, MailIntake, Security, SftpIntake
from intake.sftp import file_intake_poll
from tests.factories import make_flow
from tests.intake.conftest import SUMMARY_TO, csv_bytes, listing, summaries, upload

pytestmark = pytest.mark.django_db

GOOD = "C129113_ZH0RKJvh_upload_08022030211200.csv"


def drop_intake(flow, base, smtp_mailbox=None, name="Acme drop") -> SftpIntake:
    account = flow.account
    account.holder_email = SUMMARY_TO
    account.save()
    for folder in ("Upload", "Success", "Failure"):
        (base / folder).mkdir(parents=True, exist_ok=True)
    return SftpIntake.objects.create(
        name=name, account=account, mode=SftpIntake.Mode.LOCAL, base_folder=str(base), notify_via=smtp_mailbox
    )


def poll_twice(intake) -> dict:
    """Two looks (the second takes the files that did not change); the counts of both added up."""
    first = file_intake_poll(intake_id=intake.pk)
    second = file_intake_poll(intake_id=intake.pk)
    return {
        key: first[key] + second[key] if isinstance(value, int) and key != "intake" else value
        for key, value in second.items()
    }


@pytest.fixture
def auto_flow(flow):
    flow.auto_launch = True
    flow.save()
    return flow


@pytest.fixture
def victim_file(tmp_path):
    """Account B's call list, in B's own folder."""
    make_flow(flow_id="VICTIM01", client_id="C777")
    folder = tmp_path / "victim" / "Success"
    folder.mkdir(parents=True)
    path = folder / "C777_VICTIM01.csv"
    path.write_bytes(csv_bytes(4, first=900))
    return path


# --- Finding 3: hard links ------------------------------------------------------------------------------


def test_a_hard_link_to_another_accounts_file_is_never_imported_and_the_good_file_beside_it_is(
    auto_flow, tmp_path, victim_file, smtp_mailbox, smtp_sink
):
    # given in A's Upload a hard link to B's list, named as A's call list, and a good file of A's
    base = tmp_path / "attacker"
    intake = drop_intake(auto_flow, base, smtp_mailbox)
    os.link(victim_file, base / "Upload" / "C129113_ZH0RKJvh.csv")
    upload(base, GOOD, csv_bytes(2))

    # when A's folder is polled (twice: the second look takes complete files), and once more
    stats = poll_twice(intake)
    file_intake_poll(intake_id=intake.pk)

    # then the hard link was never read or moved, and was reported once
    assert (stats["success"], stats["refused"], stats["error"]) == (1, 1, "")
    assert listing(base, "Upload") == ["C129113_ZH0RKJvh.csv"]
    assert victim_file.read_bytes() == csv_bytes(4, first=900)
    refusal = IntakeFile.objects.get(filename="C129113_ZH0RKJvh.csv").refusal
    assert "is a hard link" in refusal and "not read" in refusal
    # and only the good file became a list (and a campaign, the flow auto-launches)
    assert list(ContactList.objects.values_list("original_filename", flat=True)) == [GOOD]
    assert Campaign.objects.count() == 1
    texts = [summary.get_body().get_content() for summary in summaries(smtp_sink)]
    assert sum("is a hard link" in text for text in texts) == 1


def test_a_hard_link_made_after_the_listing_is_not_read(flow, tmp_path, victim_file):
    # given a drop folder listed while the file was a file of its own
    base = tmp_path / "drop"
    intake = drop_intake(flow, base)
    upload(base, "C129113_ZH0RKJvh.csv", csv_bytes(2))
    with LocalFolder(intake) as folder:
        [entry] = folder.list_upload()
        assert entry.regular

        # when the name is replaced by a hard link to another account's file before it is opened
        os.unlink(base / UPLOAD / entry.name)
        os.link(victim_file, base / UPLOAD / entry.name)

        # then opening it refuses and reads nothing
        with pytest.raises(FolderError, match="is a hard link"):
            with folder.open_upload(entry.name):
                pass


# --- Finding 4: SFTP reports through a link, a swap between lstat and open --------------------------------


def test_an_sftp_report_name_linked_to_another_accounts_file_is_replaced_never_written_through(
    flow, sftp_intake, sftp_server, smtp_sink
):
    # given on the SFTP server another account's file, and a link to it where a refused file's report goes
    other = sftp_server.root / "other-account"
    other.mkdir()
    precious = other / "C777_VICTIM01.csv"
    precious.write_bytes(b"tel1\n919800000001\n")
    (sftp_server.root / "Failure").mkdir()
    os.symlink(precious, sftp_server.root / "Failure" / "badname.csv.report.csv")
    upload(sftp_server.root, "badname.csv", csv_bytes(2))
    upload(sftp_server.root, GOOD, csv_bytes(2))

    # when the folder is polled
    stats = poll_twice(sftp_intake)

    # then the other account's file is untouched, and the report is a file of its own in Failure
    assert (stats["success"], stats["failure"], stats["error"]) == (1, 1, "")
    assert precious.read_bytes() == b"tel1\n919800000001\n"
    report = sftp_server.root / "Failure" / "badname.csv.report.csv"
    assert not report.is_symlink() and "does not follow" in report.read_text()
    assert listing(sftp_server.root, "Failure") == ["badname.csv", "badname.csv.report.csv"]
    # and the good file was taken
    assert list(ContactList.objects.values_list("original_filename", flat=True)) == [GOOD]


def test_an_sftp_name_swapped_for_a_link_between_the_lstat_and_the_open_is_not_read(
    flow, sftp_intake, sftp_server, victim_file
):
    # given a file in the SFTP Upload folder
    upload(sftp_server.root, "C129113_ZH0RKJvh.csv", csv_bytes(2))
    target = sftp_server.root / "Upload" / "C129113_ZH0RKJvh.csv"
    with SftpFolder(sftp_intake) as folder:
        real_lstat = folder.sftp.lstat

        async def lstat_then_swap(path):
            # the real server answers the lstat; right after, the name becomes a link to B's file
            attrs = await real_lstat(path)
            target.unlink()
            os.symlink(victim_file, target)
            return attrs

        folder.sftp.lstat = lstat_then_swap

        # when the file is opened, then it is refused and nothing is read
        with pytest.raises(FolderError, match="changed between the look and the open"):
            with folder.open_upload("C129113_ZH0RKJvh.csv"):
                pass
    assert not ContactList.objects.exists()


# --- Finding 5: names that are not UTF-8 or end in a newline ---------------------------------------------


@pytest.mark.parametrize("mode", ["drop", "sftp"])
def test_bad_file_names_are_refused_one_by_one_and_the_good_file_and_the_summary_still_go_through(
    flow, tmp_path, sftp_intake, sftp_server, smtp_mailbox, smtp_sink, mode
):
    # given an Upload folder holding a name that is not UTF-8, a name ending in a newline, and a good file
    if mode == "drop":
        intake = drop_intake(flow, tmp_path / "drop", smtp_mailbox)
        root = tmp_path / "drop"
    else:
        intake, root = sftp_intake, sftp_server.root
    (root / "Upload").mkdir(exist_ok=True)
    with open(os.path.join(os.fsencode(root / "Upload"), b"C129113_ZH0RKJvh\xff.csv"), "wb") as handle:
        handle.write(csv_bytes(1, first=40))
    upload(root, "C129113_ZH0RKJvh.csv\n", csv_bytes(1, first=50))
    upload(root, GOOD, csv_bytes(2))

    # when the folder is polled
    stats = poll_twice(intake)

    # then the good file was taken, and the bad names were refused, left in Upload, and reported
    assert (stats["success"], stats["refused"], stats["errors"], stats["error"]) == (1, 2, 0, "")
    assert list(ContactList.objects.values_list("original_filename", flat=True)) == [GOOD]
    assert sorted(os.listdir(os.fsencode(root / "Upload"))) == [b"C129113_ZH0RKJvh.csv\n", b"C129113_ZH0RKJvh\xff.csv"]
    refused = sorted(IntakeFile.objects.exclude(refusal="").values_list("filename", flat=True))
    assert refused == ["C129113_ZH0RKJvh.csv", "C129113_ZH0RKJvh\ufffd.csv"]
    # and the account holder's summary was sent (a name with a newline never reaches a header)
    texts = [summary.get_body().get_content() for summary in summaries(smtp_sink)]
    assert sum(text.count("control character") for text in texts) == 2
    # and a later poll reports them no more
    sent = len(summaries(smtp_sink))
    file_intake_poll(intake_id=intake.pk)
    assert IntakeFile.objects.count() == 3 and len(summaries(smtp_sink)) == sent


def test_poll_intake_goes_on_to_the_next_intake_after_bad_names(flow, tmp_path, smtp_mailbox, smtp_sink):
    # given account A's drop folder with a name that is not UTF-8, and account B's with a good file
    first = drop_intake(flow, tmp_path / "a", smtp_mailbox, name="A drop")
    with open(os.path.join(os.fsencode(tmp_path / "a" / "Upload"), b"C129113_\xfe.csv"), "wb") as handle:
        handle.write(csv_bytes(1))
    other = make_flow(flow_id="OTHER001", client_id="C555")
    second = drop_intake(other, tmp_path / "b", smtp_mailbox, name="B drop")
    upload(tmp_path / "b", "C555_OTHER001.csv", csv_bytes(2))

    # when poll_intake runs twice
    for _ in range(2):
        out = StringIO()
        call_command("poll_intake", "--only", "files", stdout=out)

    # then both intakes were polled, and B's file was taken
    polls = {poll["intake"]: poll for poll in json.loads(out.getvalue())["file_intakes"]}
    assert polls[first.pk]["error"] == "" and polls[second.pk]["success"] == 1
    assert ContactList.objects.get().flow == other


def test_poll_intake_says_which_intake_failed_and_polls_the_next(flow, tmp_path, smtp_mailbox, smtp_sink):
    # given a mailbox whose host name makes the IMAP library itself fail (an empty label: the idna codec
    # raises UnicodeError), and a drop folder with a good file
    MailIntake.objects.create(
        name="Broken",
        imap_host="imap..example.com",
        imap_security=Security.TLS,
        username="x",
        password="y",
        from_address="lists@campaigns.example",
    )
    intake = drop_intake(flow, tmp_path / "drop", smtp_mailbox)
    upload(tmp_path / "drop", GOOD, csv_bytes(2))

    # when poll_intake runs twice
    for _ in range(2):
        out, err = StringIO(), StringIO()
        call_command("poll_intake", stdout=out, stderr=err)

    # then the broken mailbox's poll is said to have failed, and the folder after it was polled
    result = json.loads(out.getvalue())
    broken = [poll for poll in result["mailboxes"] if poll["error"].startswith("The poll failed")]
    assert len(broken) == 1 and "UnicodeError" in broken[0]["error"]
    assert "The poll failed (UnicodeError)" in err.getvalue()
    assert [poll["success"] for poll in result["file_intakes"] if poll["intake"] == intake.pk] == [1]
    assert ContactList.objects.get().original_filename == GOOD
