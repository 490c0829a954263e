"""What the intake's mails say: the answer to a mailed list, and the summary of files taken by SFTP.

They are sent through intake.mail_transport (Django's SMTP backend). Every text is built from what the
database holds, so a reply can be sent by whichever poller gets to it, and is sent at most once. An
answer goes only to an authenticated, allowed sender, never quotes the mail's subject (which a stranger
wrote), and at most MAIL_INTAKE_REPLIES_PER_SENDER_PER_DAY times a day to one sender.
"""

import csv
import datetime
import io
import logging
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone

from campaigns.models import ContactList
from campaigns.reports import rejected_rows_csv
from intake.mail_transport import SmtpError, automatic_mail, mail_send
from intake.models import IntakeFile, MailIntake, ProcessedMail

logger = logging.getLogger(__name__)


def report_name(filename: str) -> str:
    return f"{filename}.report.csv"


def report_csv(intake_file: IntakeFile) -> str:
    """The report beside a file: its rejected rows, or the sentence that refused it."""
    contact_list = intake_file.contact_list
    out = io.StringIO()
    if contact_list is not None and contact_list.status == ContactList.Status.IMPORTED:
        rejected_rows_csv(contact_list, out)
    else:
        writer = csv.writer(out)
        writer.writerow(["error"])
        writer.writerow([file_refusal(intake_file)])
    return out.getvalue()


def file_refusal(intake_file: IntakeFile) -> str:
    contact_list = intake_file.contact_list
    if intake_file.refusal:
        return intake_file.refusal
    if contact_list is not None and contact_list.error:
        return contact_list.error
    if contact_list is not None and contact_list.status != ContactList.Status.IMPORTED:
        return f"The import did not finish ({contact_list.get_status_display().lower()})."
    return ""


def file_succeeded(intake_file: IntakeFile) -> bool:
    contact_list = intake_file.contact_list
    return (
        not intake_file.refusal
        and contact_list is not None
        and contact_list.status == ContactList.Status.IMPORTED
        and contact_list.imported_count > 0
    )


def file_outcome_line(intake_file: IntakeFile) -> str:
    """One line for a reply or a summary: what became of the file."""
    contact_list = intake_file.contact_list
    name = intake_file.filename
    if contact_list is None or contact_list.status != ContactList.Status.IMPORTED:
        return f"{name}: refused. {file_refusal(intake_file)}"
    imported, rejected = contact_list.imported_count, contact_list.rejected_count
    line = f"{name}: {imported} {_rows(imported)} imported, {rejected} {_rows(rejected)} rejected"
    line += f" (see {report_name(name)} attached)." if rejected else "."
    line += f" Contact list #{contact_list.pk} “{contact_list.name}”"
    if contact_list.common_start_at:
        local = timezone.localtime(contact_list.common_start_at, _zone())
        line += f", common start time {local:%d %b %Y %H:%M} ({settings.PHONON_TIMEZONE})"
    line += "."
    if intake_file.campaign_id:
        line += f" Launched as campaign #{intake_file.campaign_id}."
    elif intake_file.launch_error:
        line += f" It was not launched: {intake_file.launch_error}"
    return line


def _rows(n: int) -> str:
    return "row" if n == 1 else "rows"


def _zone():
    return ZoneInfo(settings.PHONON_TIMEZONE)


def _reports(files) -> list[tuple[str, str]]:
    """(name, CSV) of each file's report, for the files that have something to report."""
    reports = []
    for intake_file in files:
        contact_list = intake_file.contact_list
        clean = contact_list is not None and contact_list.status == ContactList.Status.IMPORTED
        if not (clean and not contact_list.rejected_count):
            reports.append((report_name(intake_file.filename), report_csv(intake_file)))
    return reports


def mail_reply_build(processed: ProcessedMail) -> EmailMessage:
    files = list(processed.files.select_related("contact_list").order_by("part_index"))
    if processed.refusal:
        headline = "Your call list was not taken."
    elif files and all(file_succeeded(f) for f in files):
        headline = "Your call list was imported."
    elif any(file_succeeded(f) for f in files):
        headline = "Some of your call lists were imported; see each file below."
    else:
        headline = "Your call list was not imported."
    flow = f"{processed.flow.flow_id} {processed.flow.name}".rstrip() if processed.flow_id else ""
    lines = [headline, ""]
    if flow:
        lines.append(f"Flow: {flow}")
    received = timezone.localtime(processed.created_at, _zone())
    lines.append(f"Your mail of {received:%d %b %Y %H:%M} ({settings.PHONON_TIMEZONE}).")
    lines.append("")
    if processed.refusal:
        lines.append(processed.refusal)
    lines.extend(file_outcome_line(f) for f in files)
    lines += ["", "This is an automatic answer from the campaign manager; replies to it are not read."]
    return automatic_mail(
        processed.mailbox, to=processed.sender, subject=f"{headline} {('Flow ' + flow) if flow else ''}".strip(),
        body="\n".join(lines) + "\n", answering=processed.message_id, attachments=_reports(files),
    )


def _over_reply_limit(processed: ProcessedMail) -> bool:
    since = timezone.now() - datetime.timedelta(days=1)
    sent = ProcessedMail.objects.filter(
        sender=processed.sender, reply_status=ProcessedMail.ReplyStatus.SENT, replied_at__gte=since
    ).count()
    return sent >= settings.MAIL_INTAKE_REPLIES_PER_SENDER_PER_DAY


def mail_reply_send(*, processed_mail_id: int) -> str:
    """Send the answer to one handled mail, at most once: claimed pending -> sending before the SMTP
    call (a poller that dies during it leaves `sending`, and nobody sends it again)."""
    processed = ProcessedMail.objects.select_related("mailbox", "flow").get(pk=processed_mail_id)
    if processed.reply_status not in (ProcessedMail.ReplyStatus.PENDING, ProcessedMail.ReplyStatus.FAILED):
        return processed.reply_status
    claimed = ProcessedMail.objects.filter(pk=processed.pk, reply_status=processed.reply_status).update(
        reply_status=ProcessedMail.ReplyStatus.SENDING, reply_attempts=processed.reply_attempts + 1
    )
    if claimed != 1:
        return ProcessedMail.ReplyStatus.SENDING
    if _over_reply_limit(processed):
        ProcessedMail.objects.filter(pk=processed.pk).update(
            reply_status=ProcessedMail.ReplyStatus.SKIPPED,
            reply_error="Not sent: this sender already got the most answers allowed in a day.",
        )
        return ProcessedMail.ReplyStatus.SKIPPED
    try:
        mail_send(processed.mailbox, mail_reply_build(processed))
    except SmtpError as error:
        logger.warning("Reply to mail %s not sent: %s", processed.pk, error)
        ProcessedMail.objects.filter(pk=processed.pk).update(
            reply_status=ProcessedMail.ReplyStatus.FAILED, reply_error=str(error)
        )
        return ProcessedMail.ReplyStatus.FAILED
    ProcessedMail.objects.filter(pk=processed.pk).update(
        reply_status=ProcessedMail.ReplyStatus.SENT, reply_error="", replied_at=timezone.now()
    )
    logger.info("Reply to mail %s sent to %s", processed.pk, processed.sender)
    return ProcessedMail.ReplyStatus.SENT


def summary_mailbox(file_intake) -> MailIntake | None:
    if file_intake.notify_via_id and file_intake.notify_via.enabled:
        return file_intake.notify_via
    return MailIntake.objects.filter(enabled=True).exclude(smtp_host="").order_by("pk").first()


def _where_it_went(intake_file: IntakeFile) -> str:
    return f"Moved to {intake_file.outcome_folder}." if intake_file.outcome_folder else "Left in Upload, not read."


def files_summary_send(*, file_intake, files: list[IntakeFile]) -> bool:
    """Mail the account holder one summary of the files just taken; each file is named in at most
    one summary (claimed by setting notified_at before the send)."""
    holder = file_intake.account.holder_email
    if not files:
        return False
    if not holder:
        logger.warning("Intake %s: account %s has no holder e-mail; no summary sent.", file_intake.pk,
                       file_intake.account.client_id)
        return False
    mailbox = summary_mailbox(file_intake)
    if mailbox is None:
        logger.warning("Intake %s: no enabled mailbox with an SMTP server to send the summary.", file_intake.pk)
        return False
    stamp = timezone.now()
    claimed = IntakeFile.objects.filter(pk__in=[f.pk for f in files], notified_at__isnull=True).update(
        notified_at=stamp
    )
    if claimed == 0:
        return False
    files = list(
        IntakeFile.objects.filter(pk__in=[f.pk for f in files], notified_at=stamp)
        .select_related("contact_list")
        .order_by("pk")
    )
    ids = [f.pk for f in files]
    taken = sum(1 for f in files if file_succeeded(f))
    lines = [
        f"{len(files)} {'file was' if len(files) == 1 else 'files were'} taken from the Upload folder of "
        f"“{file_intake.name}” ({file_intake.get_mode_display()}): {taken} imported, {len(files) - taken} "
        "moved to Failure.",
        "",
        *(f"{file_outcome_line(f)} {_where_it_went(f)}" for f in files),
        "",
        "Each file's report (<name>.report.csv) lies beside it in Success or Failure.",
        "This is an automatic message from the campaign manager.",
    ]
    message = automatic_mail(
        mailbox, to=holder, subject=f"Call lists taken from {file_intake.name}: {taken} of {len(files)} imported",
        body="\n".join(lines) + "\n", attachments=_reports(files),
    )
    try:
        mail_send(mailbox, message)
    except SmtpError as error:
        # Not accepted by the server: give the files back, the next poll tries again.
        logger.warning("Summary for intake %s not sent: %s", file_intake.pk, error)
        IntakeFile.objects.filter(pk__in=ids).update(notified_at=None)
        return False
    logger.info("Summary of %s file(s) of intake %s sent to the account holder.", len(files), file_intake.pk)
    return True
