"""Attacks on the mail intake of issue 24 (findings 1, 2 and 13), through the real Dovecot: malformed
headers that made every poll stop at the same mails, our MTA's header that could not be parsed (and a
forged one below it trusted instead), an attachment name with a newline. Good mail beside the bad must
still be taken."""

import pytest

from campaigns.models import Campaign, ContactList
from intake.mailbox import mailbox_poll
from intake.models import ProcessedMail
from tests.intake.conftest import ALICE, OUR_MTA, csv_bytes, deliver, folder_count, imap_client, make_mail

pytestmark = pytest.mark.django_db

ATTACHMENT = [("customers.csv", csv_bytes(3))]


@pytest.fixture
def auto_flow(flow):
    flow.auto_launch = True
    flow.save()
    return flow


def deliver_raw(mailbox, raw: bytes) -> None:
    client = imap_client(mailbox)
    try:
        typ, data = client.append("INBOX", None, None, raw)
        assert typ == "OK", data
    finally:
        client.logout()


def with_header(header: bytes, replaced: bytes, *, attachments=ATTACHMENT) -> bytes:
    """A stranger's mail to the flow's address whose header `header` (e.g. b"Message-ID") reads `replaced`."""
    mail = make_mail(sender="mallory@evil.example", attachments=attachments, vouched=None)
    lines = mail.as_bytes().split(b"\n")
    prefix = header.lower() + b":"
    return b"\n".join(replaced if line.lower().startswith(prefix) else line for line in lines)


@pytest.mark.parametrize(
    "header, broken",
    [(b"Message-ID", b"Message-ID: <"), (b"From", b"From: a@[")],
    ids=["message-id-open-bracket", "from-open-bracket"],
)
def test_malformed_headers_are_refused_one_by_one_and_never_stop_the_good_mail_behind_them(
    flow, mailbox, smtp_sink, settings, header, broken
):
    # given more malformed mails from a stranger than one poll takes, and a good mail behind them
    settings.MAIL_INTAKE_BATCH = 4
    for _ in range(5):
        deliver_raw(mailbox, with_header(header, broken))
    deliver(mailbox, make_mail(attachments=[("good.csv", csv_bytes(2))]))

    # when the mailbox is polled twice
    first = mailbox_poll(mailbox_id=mailbox.pk)
    second = mailbox_poll(mailbox_id=mailbox.pk)

    # then every poll went on past the bad mails, and the good one was imported
    assert first["error"] == "" and second["error"] == ""
    assert first["handled"] + first["refused"] == 4
    good = ContactList.objects.get()
    assert (good.original_filename, good.imported_count) == ("good.csv", 2)
    # and every bad mail is recorded as done and refused (none left "processing"), moved out of the inbox
    assert not ProcessedMail.objects.filter(status=ProcessedMail.Status.PROCESSING).exists()
    assert ProcessedMail.objects.filter(status=ProcessedMail.Status.DONE).count() == 6
    assert ProcessedMail.objects.exclude(refusal="").count() == 5
    assert folder_count(mailbox, "INBOX") == 0
    assert folder_count(mailbox, "Processed") == 6
    # and only the good mail's sender got an answer
    assert [m["To"] for m in smtp_sink.received()] == [ALICE]


def test_a_poll_never_reads_the_same_stuck_window_again(flow, mailbox, smtp_sink, settings):
    # given a server that refuses every move (no processed folder can be made), and a whole batch of
    # mails that were handled but could not be moved out of the inbox
    settings.MAIL_INTAKE_BATCH = 2
    mailbox.processed_folder = "a..b"  # Dovecot: "Invalid mailbox name"
    mailbox.save()
    for number in range(2):
        deliver(mailbox, make_mail(attachments=[(f"old{number}.csv", csv_bytes(1, first=number))]))
    first = mailbox_poll(mailbox_id=mailbox.pk)
    assert first["handled"] == 0 and first["errors"] == 2 and folder_count(mailbox, "INBOX") == 2
    # and a new mail behind them
    deliver(mailbox, make_mail(attachments=[("new.csv", csv_bytes(1, first=5))]))

    # when the mailbox is polled again
    mailbox_poll(mailbox_id=mailbox.pk)

    # then the new mail was taken before the stuck ones
    assert ContactList.objects.filter(original_filename="new.csv").count() == 1
    assert ContactList.objects.count() == 3


@pytest.mark.parametrize(
    "ours",
    [
        f"{OUR_MTA}; spf=fail smtp.mailfrom=x@[203.0.113.5]; dmarc=fail",
        f"{OUR_MTA}; spf=none smtp.helo=[203.0.113.5]; dmarc=fail header.from=customer.example",
        f'(our MTA) "{OUR_MTA}" 1; spf=fail smtp.mailfrom=x@[203.0.113.5]',
    ],
    ids=["mailfrom-literal", "helo-literal", "quoted-id-with-comment"],
)
def test_an_unreadable_header_of_our_mta_is_a_failure_and_a_forged_pass_below_it_is_never_read(
    auto_flow, mailbox, smtp_sink, ours
):
    # given a forged mail: our MTA's header on top (unparseable), the attacker's `dmarc=pass` below it
    forged = make_mail(attachments=ATTACHMENT, vouched="dmarc=pass header.from=customer.example")
    forged_raw = f"Authentication-Results: {ours}\r\n".encode() + forged.as_bytes()
    deliver_raw(mailbox, forged_raw)
    # and a good mail beside it
    deliver(mailbox, make_mail(attachments=[("good.csv", csv_bytes(2))]))

    mailbox_poll(mailbox_id=mailbox.pk)

    # then the forged mail was recorded unauthenticated: nothing imported, launched or answered for it
    forged_record = ProcessedMail.objects.get(message_id=forged["Message-ID"])
    assert not forged_record.authenticated
    assert "cannot be read" in forged_record.authentication
    assert forged_record.reply_status == ProcessedMail.ReplyStatus.SKIPPED
    assert list(ContactList.objects.values_list("original_filename", flat=True)) == ["good.csv"]
    assert Campaign.objects.count() == 1  # the good list's, auto-launched
    assert len(smtp_sink.received()) == 1
    assert folder_count(mailbox, "INBOX") == 0


def test_an_attachment_name_with_a_newline_is_cleaned_and_the_reply_is_sent(auto_flow, mailbox, smtp_sink):
    # given a mail whose attachment's name holds a newline (RFC 2231 encoded, so it survives the transport)
    raw = make_mail(attachments=[("customers.csv", csv_bytes(2, bad=1))]).as_bytes()
    raw = raw.replace(b'filename="customers.csv"', b"filename*=utf-8''bad%0AX-Injected%3A%201%0A.csv")
    assert b"filename*=" in raw
    deliver_raw(mailbox, raw)

    mailbox_poll(mailbox_id=mailbox.pk)

    # then it was imported under a one-line name, and the answer (naming its report) went out
    contact_list = ContactList.objects.get()
    assert contact_list.original_filename == "bad X-Injected: 1 .csv"
    processed = ProcessedMail.objects.get()
    assert processed.reply_status == ProcessedMail.ReplyStatus.SENT
    reply = smtp_sink.received()[0]
    assert reply["X-Injected"] is None
    assert [part.get_filename() for part in reply.iter_attachments()] == ["bad X-Injected: 1 .csv.report.csv"]
