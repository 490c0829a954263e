"""Sending mail through a MailIntake's SMTP server, with Django's SMTP backend: the answers to mailed
lists and the summaries of files taken. What the mails say is in intake/replies.py."""

import smtplib
import ssl
from email.utils import make_msgid

from django.core.mail import EmailMessage
from django.core.mail.backends.smtp import EmailBackend

from intake.files import network_timeout
from intake.models import MailIntake, Security, is_loopback_host


class SmtpError(Exception):
    """The mail could not be sent; the message says why in words (never holding a secret)."""


def smtp_backend(mailbox: MailIntake) -> EmailBackend:
    host = mailbox.smtp_host
    if not host:
        raise SmtpError(f'The mailbox "{mailbox}" has no SMTP server configured.')
    if mailbox.smtp_security == Security.PLAIN and not is_loopback_host(host):
        raise SmtpError("Unencrypted SMTP is allowed only to 127.0.0.1 or localhost.")
    return EmailBackend(
        host=host, port=mailbox.smtp_port, username=mailbox.smtp_username, password=mailbox.smtp_password,
        use_tls=mailbox.smtp_security == Security.STARTTLS, use_ssl=mailbox.smtp_security == Security.TLS,
        timeout=network_timeout(), fail_silently=False,
    )


def smtp_open(mailbox: MailIntake) -> EmailBackend:
    """Connect, secure and log in as the mailbox's settings ask; raises SmtpError in words."""
    backend = smtp_backend(mailbox)
    where = f"{mailbox.smtp_host}:{mailbox.smtp_port}"
    try:
        backend.open()
    except smtplib.SMTPAuthenticationError as error:
        raise SmtpError(f"The SMTP server {where} refused the user name or password ({error.smtp_code}).") from error
    except smtplib.SMTPNotSupportedError as error:
        raise SmtpError(f"The SMTP server {where} does not offer STARTTLS or login as configured.") from error
    except ssl.SSLError as error:
        raise SmtpError(f"TLS with the SMTP server {where} failed ({error.reason or error}).") from error
    except TimeoutError as error:
        raise SmtpError(f"The SMTP server {where} did not answer in time.") from error
    except (smtplib.SMTPException, OSError) as error:
        raise SmtpError(f"Cannot talk to the SMTP server {where} ({type(error).__name__}: {error}).") from error
    return backend


def mail_send(mailbox: MailIntake, message: EmailMessage) -> None:
    backend = smtp_open(mailbox)
    try:
        backend.send_messages([message])
    except ValueError as error:  # BadHeaderError: a header we wrote holds a newline (nothing was sent)
        raise SmtpError(f"The mail could not be written ({type(error).__name__}: {str(error)[:200]}).") from error
    except smtplib.SMTPRecipientsRefused as error:
        raise SmtpError(f"The SMTP server refused the recipient {', '.join(error.recipients)}.") from error
    except (smtplib.SMTPException, OSError) as error:
        raise SmtpError(
            f"Sending through {mailbox.smtp_host}:{mailbox.smtp_port} failed ({type(error).__name__})."
        ) from error
    finally:
        backend.close()


def automatic_mail(
    mailbox: MailIntake, *, to: str, subject: str, body: str, answering: str = "", attachments=()
) -> EmailMessage:
    """A mail we send on our own (RFC 3834 Auto-Submitted, so that other robots do not answer it);
    `answering` is the Message-ID of the mail it replies to; attachments are (name, text) CSVs."""
    headers = {
        "Auto-Submitted": "auto-replied" if answering else "auto-generated",
        "Message-ID": make_msgid(domain=mailbox.from_address.rsplit("@", 1)[-1] or None),
    }
    if answering:
        headers.update({"In-Reply-To": answering, "References": answering})
    message = EmailMessage(subject=subject, body=body, from_email=mailbox.from_address, to=[to], headers=headers)
    for name, text in attachments:
        message.attach(name, text, "text/csv")
    return message
