"""A file named for a start time that has passed, arriving by mail or SFTP: refused with the importer's
one sentence, in the mail reply and in the SFTP report (no browser there to confirm "start now")."""

import csv

import pytest

from campaigns.models import ContactList
from intake.mailbox import mailbox_poll
from intake.sftp import file_intake_poll
from tests.intake.conftest import csv_bytes, deliver, listing, make_mail, summaries, upload

pytestmark = pytest.mark.django_db
SENTENCE = (
    "The start time in the file name, 08 Feb 2020 21:12 (Asia/Kolkata), has passed; rename the file with a time "
    "still to come, or without its upload_ddMMyyyyHHmmss to call at once."
)


def test_the_mail_reply_says_the_start_time_in_the_name_has_passed(flow, mailbox, smtp_sink):
    # given a mail carrying the provider's own example name, dated 2020
    deliver(mailbox, make_mail(attachments=[("list_upload_08022020211200.csv", csv_bytes(2))]))

    # when the mailbox is polled
    mailbox_poll(mailbox_id=mailbox.pk)

    # then nothing is imported and the sender is told why, in one sentence
    assert ContactList.objects.get().status == ContactList.Status.REFUSED
    [reply] = smtp_sink.received()
    text = reply.get_body(preferencelist=("plain",)).get_content()
    assert "Your call list was not imported." in text
    assert f"list_upload_08022020211200.csv: refused. {SENTENCE}" in text


def test_the_sftp_report_says_the_start_time_in_the_name_has_passed(flow, sftp_intake, sftp_server, smtp_sink):
    # given a file in Upload named for 8 Feb 2020
    name = "C129113_ZH0RKJvh_upload_08022020211200.csv"
    upload(sftp_server.root, name, csv_bytes(2))

    # when the folder is polled twice (the first look only notes the file)
    file_intake_poll(intake_id=sftp_intake.pk)
    stats = file_intake_poll(intake_id=sftp_intake.pk)

    # then the file goes to Failure with the sentence in its report, and in the holder's summary
    assert (stats["success"], stats["failure"]) == (0, 1)
    assert listing(sftp_server.root, "Failure") == [name, f"{name}.report.csv"]
    report = list(csv.reader((sftp_server.root / "Failure" / f"{name}.report.csv").open()))
    assert report == [["error"], [SENTENCE]]
    [summary] = summaries(smtp_sink)
    assert SENTENCE in summary.get_body().get_content()
