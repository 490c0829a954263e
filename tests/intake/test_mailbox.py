"""The mailbox poller against a real Dovecot and a real SMTP server, both on 127.0.0.1."""

import io
import zipfile

import pytest

from campaigns.models import Campaign, ContactList
from intake.mailbox import mailbox_poll
from intake.models import IntakeFile, ProcessedMail
from tests.intake.conftest import ALICE, FLOW_ADDRESS, csv_bytes, deliver, folder_count, make_mail

pytestmark = pytest.mark.django_db


def only_reply(smtp_sink):
    messages = smtp_sink.received()
    assert len(messages) == 1, [m["Subject"] for m in messages]
    return messages[0]


def body_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def attachments_of(message) -> dict[str, str]:
    return {part.get_filename(): part.get_content() for part in message.iter_attachments()}


def test_it_imports_a_mailed_csv_and_answers_the_sender_with_the_rejected_rows(flow, mailbox, smtp_sink):
    # given a mail from an allowed sender to the flow's address, with a CSV of 3 good rows and 1 bad
    mail = make_mail(attachments=[("customers.csv", csv_bytes(3, bad=1))])
    deliver(mailbox, mail)

    # when the mailbox is polled
    stats = mailbox_poll(mailbox_id=mailbox.pk)

    # then the CSV is an imported contact list of the flow, from mail
    assert stats["handled"] == 1 and stats["error"] == ""
    contact_list = ContactList.objects.get()
    assert contact_list.flow == flow
    assert contact_list.source == ContactList.Source.MAIL
    assert contact_list.status == ContactList.Status.IMPORTED
    assert (contact_list.imported_count, contact_list.rejected_count) == (3, 1)
    assert contact_list.original_filename == "customers.csv"
    # and the sender got one answer saying so, with the rejected rows attached
    reply = only_reply(smtp_sink)
    assert reply["To"] == ALICE
    assert reply["Subject"] == "Your call list was imported. Flow ZH0RKJvh Reminders"
    assert "Today's list" not in reply.as_string()  # the sender's subject is never quoted back
    assert reply["In-Reply-To"] == mail["Message-ID"]
    assert reply["Auto-Submitted"] == "auto-replied"
    text = body_of(reply)
    assert "Your call list was imported." in text
    assert "customers.csv: 3 rows imported, 1 row rejected (see customers.csv.report.csv attached)." in text
    report = attachments_of(reply)["customers.csv.report.csv"]
    assert report.splitlines()[0] == "line,column,value,reason"
    assert report.splitlines()[1].startswith("5,tel1,12,")
    # and the mail was moved to the processed folder, seen
    assert folder_count(mailbox, "INBOX") == 0
    assert folder_count(mailbox, "Processed") == 1
    processed = ProcessedMail.objects.get()
    assert processed.status == ProcessedMail.Status.DONE
    assert processed.reply_status == ProcessedMail.ReplyStatus.SENT
    assert processed.moved_at is not None


def test_a_second_poll_finds_nothing_to_do(flow, mailbox, smtp_sink):
    deliver(mailbox, make_mail(attachments=[("a.csv", csv_bytes(2))]))
    mailbox_poll(mailbox_id=mailbox.pk)

    stats = mailbox_poll(mailbox_id=mailbox.pk)

    assert stats["handled"] == 0
    assert ContactList.objects.count() == 1
    assert len(smtp_sink.received()) == 1


def test_it_takes_every_csv_and_zip_of_one_mail_and_answers_once(flow, mailbox, smtp_sink):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("inner.csv", csv_bytes(2, first=100))
    deliver(mailbox, make_mail(attachments=[("one.csv", csv_bytes(2)), ("two.zip", archive.getvalue())]))

    mailbox_poll(mailbox_id=mailbox.pk)

    assert sorted(ContactList.objects.values_list("original_filename", "imported_count")) == [
        ("one.csv", 2), ("two.zip", 2),
    ]
    text = body_of(only_reply(smtp_sink))
    assert "one.csv: 2 rows imported, 0 rows rejected." in text
    assert "two.zip: 2 rows imported, 0 rows rejected." in text


def test_a_domain_entry_allows_everyone_at_that_domain(flow, mailbox, smtp_sink):
    deliver(mailbox, make_mail(sender="Bob <bob@partner.example>", attachments=[("l.csv", csv_bytes(1))]))

    mailbox_poll(mailbox_id=mailbox.pk)

    assert ContactList.objects.get().imported_count == 1
    assert only_reply(smtp_sink)["To"] == "bob@partner.example"


def test_a_mail_to_an_unknown_address_imports_nothing_and_tells_no_one(flow, mailbox, smtp_sink):
    deliver(mailbox, make_mail(to="calls+Nope1234.a1b2c3d4e5f6@example.com", attachments=[("l.csv", csv_bytes(1))]))

    mailbox_poll(mailbox_id=mailbox.pk)

    assert ContactList.objects.count() == 0
    assert smtp_sink.received() == []
    assert "No flow takes call lists at calls+nope1234" in ProcessedMail.objects.get().refusal
    assert folder_count(mailbox, "Processed") == 1


def test_it_answers_a_mail_without_attachment_and_imports_nothing(flow, mailbox, smtp_sink):
    deliver(mailbox, make_mail(attachments=[("logo.png", b"\x89PNG....")]))

    mailbox_poll(mailbox_id=mailbox.pk)

    assert ContactList.objects.count() == 0
    assert "The mail has no .csv or .zip attachment (it has logo.png)" in body_of(only_reply(smtp_sink))


def test_an_authenticated_sender_who_is_not_allowed_is_recorded_and_not_answered(flow, mailbox, smtp_sink):
    deliver(mailbox, make_mail(sender="mallory@elsewhere.example", attachments=[("l.csv", csv_bytes(1))]))

    mailbox_poll(mailbox_id=mailbox.pk)

    assert ContactList.objects.count() == 0
    assert smtp_sink.received() == []
    processed = ProcessedMail.objects.get()
    assert processed.authenticated
    assert "mallory@elsewhere.example is not among the allowed senders of flow ZH0RKJvh" in processed.refusal


def test_a_flow_with_no_allowed_senders_refuses_everyone(flow, mailbox, smtp_sink):
    flow.allowed_senders = ""
    flow.save()
    deliver(mailbox, make_mail(attachments=[("l.csv", csv_bytes(1))]))

    mailbox_poll(mailbox_id=mailbox.pk)

    assert ContactList.objects.count() == 0
    assert smtp_sink.received() == []
    assert "is not among the allowed senders" in ProcessedMail.objects.get().refusal


def test_it_answers_a_refused_file_with_the_importers_sentence(flow, mailbox, smtp_sink):
    garbage = bytes(range(256)) * 8
    deliver(mailbox, make_mail(attachments=[("list.csv", garbage)]))

    mailbox_poll(mailbox_id=mailbox.pk)

    contact_list = ContactList.objects.get()
    assert contact_list.status == ContactList.Status.REFUSED
    assert contact_list.imported_count == 0 and not contact_list.contacts.exists()
    reply = only_reply(smtp_sink)
    text = body_of(reply)
    assert "Your call list was not imported." in text
    assert f"list.csv: refused. {contact_list.error}" in text
    assert contact_list.error in attachments_of(reply)["list.csv.report.csv"]


def test_the_flows_explicit_address_routes_and_the_pattern_no_longer_does(flow, mailbox, smtp_sink):
    flow.intake_address = "reminders@lists.example"
    flow.save()
    deliver(mailbox, make_mail(to="Lists <Reminders@Lists.example>", attachments=[("a.csv", csv_bytes(1))]))
    deliver(mailbox, make_mail(to=FLOW_ADDRESS, attachments=[("b.csv", csv_bytes(1, first=5))]))

    mailbox_poll(mailbox_id=mailbox.pk)

    assert list(ContactList.objects.values_list("original_filename", flat=True)) == ["a.csv"]
    assert len(smtp_sink.received()) == 1  # the mail to the pattern finds no flow: nobody is told


def test_bounces_and_auto_replies_are_never_answered(flow, mailbox, smtp_sink):
    bounce = make_mail(sender="MAILER-DAEMON@customer.example", attachments=[("a.csv", csv_bytes(1))])
    auto = make_mail(attachments=[("a.csv", csv_bytes(1))])
    auto["Auto-Submitted"] = "auto-replied"
    deliver(mailbox, bounce)
    deliver(mailbox, auto)

    mailbox_poll(mailbox_id=mailbox.pk)

    assert ContactList.objects.count() == 0
    assert smtp_sink.received() == []
    assert set(ProcessedMail.objects.values_list("reply_status", flat=True)) == {ProcessedMail.ReplyStatus.SKIPPED}
    assert folder_count(mailbox, "INBOX") == 0


def test_an_auto_launch_flow_launches_the_list_at_the_start_time_in_its_name(flow, mailbox, smtp_sink):
    flow.auto_launch = True
    flow.save()
    deliver(mailbox, make_mail(attachments=[("list_upload_08022030211200.csv", csv_bytes(2))]))

    mailbox_poll(mailbox_id=mailbox.pk)

    contact_list = ContactList.objects.get()
    campaign = Campaign.objects.get(contact_list=contact_list)
    assert campaign.status == Campaign.Status.SCHEDULED
    assert campaign.start_at == contact_list.common_start_at
    assert campaign.start_at.isoformat() == "2030-02-08T15:42:00+00:00"  # 21:12 in Asia/Kolkata
    assert IntakeFile.objects.get().campaign == campaign
    assert f"Launched as campaign #{campaign.pk}." in body_of(only_reply(smtp_sink))


def test_a_wrong_imap_password_is_reported_in_words_and_never_raises(flow, mailbox, smtp_sink, caplog):
    mailbox.password = "not-the-password"
    mailbox.save()

    stats = mailbox_poll(mailbox_id=mailbox.pk)

    assert stats["error"] == f"The IMAP server 127.0.0.1:{mailbox.imap_port} refused the login of {mailbox.username}."
    mailbox.refresh_from_db()
    assert mailbox.last_error == stats["error"]
    assert "not-the-password" not in caplog.text


def test_a_reply_that_cannot_be_sent_is_retried_on_the_next_poll(flow, mailbox, smtp_sink):
    # given the SMTP password is wrong when the mail is handled
    mailbox.smtp_password = "wrong"
    mailbox.save()
    deliver(mailbox, make_mail(attachments=[("a.csv", csv_bytes(1))]))
    mailbox_poll(mailbox_id=mailbox.pk)
    processed = ProcessedMail.objects.get()
    assert processed.reply_status == ProcessedMail.ReplyStatus.FAILED
    assert "refused the user name or password" in processed.reply_error
    assert folder_count(mailbox, "Processed") == 1

    # when it is corrected and the mailbox polled again
    mailbox.smtp_password = smtp_sink.PASSWORD
    mailbox.save()
    mailbox_poll(mailbox_id=mailbox.pk)

    # then the answer goes out once, and nothing is imported again
    assert len(smtp_sink.received()) == 1
    assert ProcessedMail.objects.get().reply_status == ProcessedMail.ReplyStatus.SENT
    assert ContactList.objects.count() == 1


def test_a_mail_too_large_is_answered_without_being_downloaded(settings, flow, mailbox, smtp_sink):
    settings.MAIL_INTAKE_MAX_BYTES = 2048
    deliver(mailbox, make_mail(attachments=[("big.csv", csv_bytes(200))]))

    mailbox_poll(mailbox_id=mailbox.pk)

    assert ContactList.objects.count() == 0
    text = body_of(only_reply(smtp_sink))
    assert "larger than the 2 KB accepted; send the list as a ZIP, or through SFTP." in text


def test_a_mail_without_message_id_is_still_handled_once(flow, mailbox, smtp_sink):
    mail = make_mail(attachments=[("a.csv", csv_bytes(1))])
    del mail["Message-ID"]
    deliver(mailbox, mail)

    mailbox_poll(mailbox_id=mailbox.pk)
    mailbox_poll(mailbox_id=mailbox.pk)

    assert ContactList.objects.count() == 1
    assert len(smtp_sink.received()) == 1
    assert ProcessedMail.objects.get().message_id == ""
