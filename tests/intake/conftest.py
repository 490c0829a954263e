import datetime
import imaplib
import os
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

import pytest

from intake.models import MailIntake, Security, SftpIntake
from tests.factories import make_flow, phone
from tests.intake.servers import DOVECOT_APT, Dovecot, SftpServer, SmtpSink, dovecot_binary

ALICE = "alice@customer.example"
FLOW_ID = "ZH0RKJvh"
FLOW_TOKEN = "a1b2c3d4e5f6"
FLOW_ADDRESS = f"calls+{FLOW_ID}.{FLOW_TOKEN}@example.com"
OUR_MTA = "mx.campaigns.test"  # the authserv-id our MTA writes in Authentication-Results
SUMMARY_TO = "holder@customer.example"


def upload(root, name: str, data: bytes, *, age: float = 0) -> None:
    folder = root / "Upload"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(data)
    if age:
        then = (datetime.datetime.now() - datetime.timedelta(seconds=age)).timestamp()
        os.utime(folder / name, (then, then))


def listing(root, folder: str) -> list[str]:
    path = root / folder
    return sorted(os.listdir(path)) if path.exists() else []


def summaries(smtp_sink):
    """The summary mails sent to the account holder."""
    return [m for m in smtp_sink.received() if m["To"] == SUMMARY_TO]


@pytest.fixture(autouse=True)
def _intake_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MAIL_INTAKE_PATTERN = "calls+{flow_id}@example.com"
    settings.MAIL_INTAKE_AUTHSERV_ID = OUR_MTA
    settings.MAIL_INTAKE_RECIPIENT_HEADER = "Delivered-To"
    settings.INTAKE_NETWORK_TIMEOUT = 10.0
    settings.INTAKE_FILE_SETTLE_SECONDS = 0


@pytest.fixture(scope="session")
def dovecot():
    binary = dovecot_binary()
    if binary is None:
        pytest.skip(f"Dovecot is not installed; the IMAP tests need it ({DOVECOT_APT}).")
    server = Dovecot(binary).start()
    yield server
    server.stop()


@pytest.fixture
def smtp_sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def flow(db):
    return make_flow(
        flow_id=FLOW_ID, name="Reminders", allowed_senders=f"{ALICE}\n@partner.example", intake_token=FLOW_TOKEN
    )


@pytest.fixture
def mailbox(db, dovecot, smtp_sink):
    """A MailIntake on its own fresh Dovecot user, answering through the SMTP sink."""
    user, password = dovecot.take_user()
    return MailIntake.objects.create(
        name="Lists inbox", imap_host="127.0.0.1", imap_port=dovecot.port, imap_security=Security.PLAIN,
        username=user, password=password, smtp_host="127.0.0.1", smtp_port=smtp_sink.port,
        smtp_security=Security.PLAIN, smtp_username=SmtpSink.USER, smtp_password=SmtpSink.PASSWORD,
        from_address="lists@campaigns.example",
    )


def imap_client(mailbox: MailIntake) -> imaplib.IMAP4:
    client = imaplib.IMAP4(mailbox.imap_host, mailbox.imap_port, timeout=10)
    client.login(mailbox.username, mailbox.password)
    return client


def deliver(mailbox: MailIntake, message: EmailMessage) -> None:
    """Put a mail in the mailbox's INBOX as an MTA would (IMAP APPEND)."""
    client = imap_client(mailbox)
    try:
        typ, data = client.append("INBOX", None, None, message.as_bytes())
        assert typ == "OK", data
    finally:
        client.logout()


def folder_count(mailbox: MailIntake, folder: str) -> int:
    client = imap_client(mailbox)
    try:
        typ, data = client.select(f'"{folder}"', readonly=True)
        return int(data[0]) if typ == "OK" else 0
    finally:
        client.logout()


def csv_bytes(count: int, *, first: int = 0, bad: int = 0) -> bytes:
    rows = ["tel1,$flow.key.name"]
    rows += [f"{phone(first + i)},Customer {first + i}" for i in range(count)]
    rows += ["12,Broken number" for _ in range(bad)]
    return ("\n".join(rows) + "\n").encode()


def make_mail(
    *, sender=ALICE, to=FLOW_ADDRESS, subject="Today's list", attachments=(), body="List attached.",
    vouched: str | None = "dkim=pass", delivered_to: str | None = None,
):
    """A mail as our MTA hands it over: its Authentication-Results (`vouched`, None for none) and the
    envelope recipient (Delivered-To, by default the address in To) on top of what the sender wrote."""
    message = EmailMessage()
    domain = parseaddr(sender)[1].rsplit("@", 1)[-1]
    if vouched == "dkim=pass":
        message["Authentication-Results"] = f"{OUR_MTA}; dkim=pass header.d={domain}; spf=pass smtp.mailfrom={domain}"
    elif vouched:
        message["Authentication-Results"] = f"{OUR_MTA}; {vouched}"
    message["Delivered-To"] = delivered_to if delivered_to is not None else parseaddr(to)[1]
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="customer.example")
    message.set_content(body)
    for name, data in attachments:
        maintype, subtype = ("application", "zip") if name.endswith(".zip") else ("text", "csv")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message


@pytest.fixture
def sftp_server():
    server = SftpServer({"acme": "sftp-pass-5678"}).start()
    yield server
    server.stop()


@pytest.fixture
def smtp_mailbox(db, smtp_sink):
    """A mailbox used only to send (the SFTP summaries); its IMAP side is never polled here."""
    return MailIntake.objects.create(
        name="Outgoing", imap_host="127.0.0.1", imap_port=9, imap_security=Security.PLAIN, username="unused",
        password="unused", smtp_host="127.0.0.1", smtp_port=smtp_sink.port, smtp_security=Security.PLAIN,
        smtp_username=SmtpSink.USER, smtp_password=SmtpSink.PASSWORD, from_address="lists@campaigns.example",
    )


@pytest.fixture
def sftp_intake(db, flow, sftp_server, smtp_mailbox):
    account = flow.account
    account.holder_email = SUMMARY_TO
    account.save()
    return SftpIntake.objects.create(
        name="Acme SFTP", account=account, mode=SftpIntake.Mode.SFTP, host="127.0.0.1", port=sftp_server.port,
        username="acme", password="sftp-pass-5678", host_key=sftp_server.host_key_line, base_folder="/",
        notify_via=smtp_mailbox,
    )
