"""Attacks on the mail intake (issue 11, findings 2 and 3), through the real IMAP server: a forged
From, forged or foreign Authentication-Results, routing by To, backscatter to a third party, a flood of
replies. Each ends with nothing imported, launched or sent to anyone who did not authenticate."""

import base64
from email import policy
from email.parser import BytesParser

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from campaigns.models import Campaign, ContactList
from intake.authentication import aligned, sender_check
from intake.mailbox import mailbox_poll
from intake.models import ProcessedMail
from tests.intake.conftest import ALICE, FLOW_ADDRESS, csv_bytes, deliver, make_mail

pytestmark = pytest.mark.django_db

ATTACHMENT = [("customers.csv", csv_bytes(3))]


def only_processed() -> ProcessedMail:
    return ProcessedMail.objects.get()


@pytest.fixture
def auto_flow(flow):
    flow.auto_launch = True
    flow.save()
    return flow


def test_a_forged_from_of_an_allowed_sender_imports_launches_and_answers_nothing(auto_flow, mailbox, smtp_sink):
    deliver(mailbox, make_mail(sender=ALICE, attachments=ATTACHMENT, vouched=None))

    mailbox_poll(mailbox_id=mailbox.pk)

    assert not ContactList.objects.exists() and not Campaign.objects.exists()
    assert smtp_sink.received() == []
    processed = only_processed()
    assert not processed.authenticated
    assert "No Authentication-Results header from our mail server" in processed.authentication
    assert processed.reply_status == ProcessedMail.ReplyStatus.SKIPPED


@pytest.mark.parametrize(
    "results",
    [
        "evil.example; dkim=pass header.d=customer.example; dmarc=pass header.from=customer.example",
        "mx.campaigns.test.evil.example; dmarc=pass header.from=customer.example",
    ],
    ids=["another-authserv-id", "look-alike-authserv-id"],
)
def test_results_written_by_anyone_but_our_mta_are_ignored(auto_flow, mailbox, smtp_sink, results):
    mail = make_mail(sender=ALICE, attachments=ATTACHMENT, vouched=None)
    mail["Authentication-Results"] = results
    deliver(mailbox, mail)

    mailbox_poll(mailbox_id=mailbox.pk)

    assert not ContactList.objects.exists() and smtp_sink.received() == []
    assert not only_processed().authenticated


def test_a_pass_for_a_domain_not_aligned_with_from_does_not_count(auto_flow, mailbox, smtp_sink):
    deliver(mailbox, make_mail(sender=ALICE, attachments=ATTACHMENT, vouched="dkim=pass header.d=attacker.example"))

    mailbox_poll(mailbox_id=mailbox.pk)

    assert not ContactList.objects.exists() and smtp_sink.received() == []
    assert "nothing passed for customer.example" in only_processed().authentication


def test_dmarc_pass_from_our_mta_is_enough(flow, mailbox, smtp_sink):
    deliver(mailbox, make_mail(attachments=ATTACHMENT, vouched="dmarc=pass header.from=customer.example"))

    mailbox_poll(mailbox_id=mailbox.pk)

    assert ContactList.objects.get().imported_count == 3
    assert only_processed().authentication.startswith("dmarc=pass for customer.example")


def test_the_address_in_to_alone_routes_nowhere(flow, mailbox, smtp_sink):
    # the right address in To, but the MTA delivered the mail to another address
    deliver(mailbox, make_mail(to=FLOW_ADDRESS, delivered_to="catchall@example.com", attachments=ATTACHMENT))

    mailbox_poll(mailbox_id=mailbox.pk)

    assert not ContactList.objects.exists() and smtp_sink.received() == []
    assert only_processed().recipients == "catchall@example.com"


def test_a_forged_victim_sender_gets_no_backscatter_and_the_spam_subject_is_never_sent(flow, mailbox, smtp_sink):
    spam = "Cheap pills, click here"
    deliver(mailbox, make_mail(sender="victim@third-party.example", subject=spam, attachments=ATTACHMENT,
                               vouched=None))
    deliver(mailbox, make_mail(sender="victim@third-party.example", subject=spam, to="calls+Nope1234.x@example.com",
                               attachments=ATTACHMENT, vouched=None))

    mailbox_poll(mailbox_id=mailbox.pk)

    assert smtp_sink.received() == []
    assert set(ProcessedMail.objects.values_list("reply_status", flat=True)) == {ProcessedMail.ReplyStatus.SKIPPED}


def test_answers_to_one_sender_are_capped_per_day(settings, flow, mailbox, smtp_sink):
    settings.MAIL_INTAKE_REPLIES_PER_SENDER_PER_DAY = 2
    for index in range(3):
        deliver(mailbox, make_mail(attachments=[(f"l{index}.csv", csv_bytes(1, first=index))]))

    mailbox_poll(mailbox_id=mailbox.pk)

    assert ContactList.objects.count() == 3  # every list is still imported
    assert len(smtp_sink.received()) == 2
    skipped = ProcessedMail.objects.get(reply_status=ProcessedMail.ReplyStatus.SKIPPED)
    assert "most answers allowed in a day" in skipped.reply_error


# --- DKIM verified here, when no trusted MTA stamps mail (unit tests: DNS is handed in) ----------------


@pytest.fixture(scope="module")
def signing_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    return private, record


def signed(raw: bytes, private: bytes, domain: str) -> bytes:
    signature = dkim.sign(raw, b"sel", domain.encode(), private, include_headers=[b"from", b"subject", b"to"])
    return signature + raw


def dns_for(record: bytes, domain: str):
    def txt(name, timeout=5):
        return record if name in (f"sel._domainkey.{domain}.".encode(), f"sel._domainkey.{domain}".encode()) else None

    return txt


def parse(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


@pytest.fixture
def no_trusted_mta(settings):
    settings.MAIL_INTAKE_AUTHSERV_ID = ""


def test_a_valid_aligned_dkim_signature_authenticates(no_trusted_mta, signing_key):
    private, record = signing_key
    raw = signed(make_mail(vouched=None).as_bytes(), private, "customer.example")

    check = sender_check(parse(raw), raw, from_domain="customer.example", dns_txt=dns_for(record, "customer.example"))

    assert check.authenticated and "d=customer.example" in check.reason


def test_a_tampered_or_unaligned_or_unsigned_mail_does_not(no_trusted_mta, signing_key):
    private, record = signing_key
    raw = signed(make_mail(vouched=None).as_bytes(), private, "customer.example")
    tampered = raw.replace(b"List attached.", b"List attached!")
    other = signed(make_mail(vouched=None).as_bytes(), private, "attacker.example")
    unsigned = make_mail(vouched=None).as_bytes()

    assert not sender_check(parse(tampered), tampered, from_domain="customer.example",
                            dns_txt=dns_for(record, "customer.example")).authenticated
    assert not sender_check(parse(other), other, from_domain="customer.example",
                            dns_txt=dns_for(record, "attacker.example")).authenticated
    assert "no DKIM signature" in sender_check(parse(unsigned), unsigned, from_domain="customer.example").reason


@pytest.mark.parametrize(
    ("signing", "sender", "result"),
    [("customer.example", "customer.example", True), ("customer.example", "mail.customer.example", True),
     ("mail.customer.example", "customer.example", True), ("example", "customer.example", False),
     ("attacker.example", "customer.example", False), ("ercustomer.example", "customer.example", False)],
)
def test_alignment_is_relaxed_but_never_across_organisations(signing, sender, result):
    assert aligned(signing, sender) is result
