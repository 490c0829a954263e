"""“Test connection” in words, against the real servers, and the admin that offers it."""

import pytest
from django.contrib.admin.sites import AdminSite
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from intake.admin import MailIntakeAdmin, MailIntakeForm, SftpIntakeAdmin
from intake.connections import file_intake_check, imap_check, mail_intake_check, smtp_check
from intake.models import MailIntake, Security, SftpIntake
from tests.intake.servers import free_port

pytestmark = pytest.mark.django_db


def test_a_working_mailbox_checks_out(mailbox, smtp_sink):
    checks = mail_intake_check(mailbox)

    assert checks == [
        (True, f"IMAP: logged in to 127.0.0.1:{mailbox.imap_port} as {mailbox.username}; "
               "“INBOX” holds 0 mail(s) waiting."),
        (True, f"SMTP: connected to 127.0.0.1:{smtp_sink.port} and logged in as replies."),
    ]


def test_wrong_passwords_and_a_missing_folder_are_said_in_words(mailbox, smtp_sink):
    mailbox.password = "wrong-imap"
    mailbox.smtp_password = "wrong-smtp"
    mailbox.save()

    assert imap_check(mailbox) == (
        False, f"IMAP: The IMAP server 127.0.0.1:{mailbox.imap_port} refused the login of {mailbox.username}."
    )
    ok, sentence = smtp_check(mailbox)
    assert not ok and sentence.startswith(f"SMTP: The SMTP server 127.0.0.1:{smtp_sink.port} refused the user name")

    mailbox.password = "imap-pass-1234"
    mailbox.folder = "Nowhere"
    assert imap_check(mailbox)[1].startswith('IMAP: The folder "Nowhere" cannot be opened')


def test_nothing_listening_is_said_in_words(mailbox, smtp_sink):
    mailbox.imap_port = mailbox.smtp_port = free_port()
    ok, sentence = imap_check(mailbox)
    assert not ok and sentence.startswith(f"IMAP: Cannot connect to the IMAP server 127.0.0.1:{mailbox.imap_port}")
    ok, sentence = smtp_check(mailbox)
    assert not ok and sentence.startswith(f"SMTP: Cannot talk to the SMTP server 127.0.0.1:{mailbox.smtp_port}")


def test_unencrypted_connections_are_refused_beyond_loopback(db):
    mailbox = MailIntake(
        name="x", imap_host="mail.example.com", imap_security=Security.PLAIN, username="u", password="p",
        smtp_host="smtp.example.com", smtp_security=Security.PLAIN, from_address="a@example.com",
    )
    with pytest.raises(ValidationError) as refused:
        mailbox.clean()
    assert set(refused.value.message_dict) == {"imap_security", "smtp_security"}
    # and the pollers refuse too, whatever was saved
    assert imap_check(mailbox) == (False, "IMAP: Unencrypted IMAP is allowed only to 127.0.0.1 or localhost.")
    assert smtp_check(mailbox) == (False, "SMTP: Unencrypted SMTP is allowed only to 127.0.0.1 or localhost.")


def test_an_sftp_account_checks_out_and_a_wrong_key_does_not(sftp_intake, sftp_server):
    (sftp_server.root / "Upload").mkdir()
    (sftp_server.root / "Upload" / "C129113_ZH0RKJvh.csv").write_text("tel1\n")

    assert file_intake_check(sftp_intake) == [
        (True, f"127.0.0.1:{sftp_server.port}: connected; host key matches the pinned one; Upload holds 1 file(s).")
    ]

    sftp_intake.host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    [(ok, sentence)] = file_intake_check(sftp_intake)
    assert not ok and "not the pinned key" in sentence


def test_a_pinned_key_that_is_no_key_is_refused_by_the_form(sftp_intake):
    sftp_intake.host_key = "ssh-ed25519 not-base64"
    with pytest.raises(ValidationError) as refused:
        sftp_intake.clean()
    assert "host_key" in refused.value.message_dict


def _request(admin_user):
    request = RequestFactory().post("/")
    request.user = admin_user
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def test_the_admin_action_reports_each_check_as_a_message(mailbox, smtp_sink, sftp_intake, admin_user):
    request = _request(admin_user)

    MailIntakeAdmin(MailIntake, AdminSite()).test_connection(request, MailIntake.objects.filter(pk=mailbox.pk))
    SftpIntakeAdmin(SftpIntake, AdminSite()).test_connection(request, SftpIntake.objects.all())

    texts = [(m.level_tag, m.message) for m in request._messages]
    assert [level for level, _ in texts] == ["success", "success", "error"]
    assert texts[0][1].startswith("Lists inbox: IMAP: logged in")
    assert texts[1][1].startswith("Lists inbox: SMTP: connected")
    assert texts[2][1].startswith("Acme SFTP: 127.0.0.1:")  # Upload does not exist yet
    assert texts[2][1].endswith("The SFTP server refused to list /Upload (No such file or directory).")


def test_the_admin_form_never_shows_a_stored_password_and_keeps_it_when_left_empty(mailbox):
    form = MailIntakeForm(instance=mailbox)
    html = form.as_p()
    assert mailbox.password not in html and mailbox.smtp_password not in html
    assert "leave empty to keep it" in html

    data = {name: getattr(mailbox, name) for name in MailIntakeForm.Meta.fields}
    data.update(password="", smtp_password="", name="Renamed")
    form = MailIntakeForm(data=data, instance=mailbox)
    assert form.is_valid(), form.errors
    form.save()
    mailbox.refresh_from_db()
    assert (mailbox.name, mailbox.password, mailbox.smtp_password) == ("Renamed", "imap-pass-1234", "smtp-pass-4321")
