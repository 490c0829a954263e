"""The mailbox poller: read a MailIntake's folder over IMAP, turn each mail's .csv/.zip attachments into
contact lists for the flow it was addressed to, answer the sender, move the mail to the processed folder
(the IMAP side is intake/imap.py).

Each mail is handled exactly once, whatever the number of pollers and wherever one dies:
1. claim: a ProcessedMail row keyed by the Message-ID (plus the envelope recipient of this copy; without
   a Message-ID, UIDVALIDITY and UID) is inserted in its own transaction before anything else. The
   unique constraint decides between two pollers.
2. work: every attachment gets an IntakeFile row; its link to the contact list is committed with the
   list, so a resumed claim imports only what has no list yet (campaigns/intake/files.py).
3. done, then the reply (claimed pending -> sending, at most once), then \\Seen and the move.
A claim still `processing` after INTAKE_STALE_SECONDS belongs to a dead poller: the next one takes it
over with a compare-and-set on claimed_at and finishes it from what the rows say.
"""

import datetime
import hashlib
import imaplib
import logging
import re
from contextlib import contextmanager
from email import policy
from email.parser import BytesParser
from io import BytesIO

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from campaigns.importing.limits import human_size
from campaigns.models import ContactList
from intake.authentication import sender_check
from intake.files import claim_stale_after, intake_file_take, poll_record
from intake.headers import clean_file_name, header_value, header_values, single_sender, subject_of
from intake.imap import ImapError, ImapRefused, ImapSession
from intake.models import IntakeFile, MailIntake, ProcessedMail
from intake.replies import mail_reply_send
from intake.routing import envelope_recipient, flow_for_address, sender_allowed

logger = logging.getLogger(__name__)

ACCEPTED = (".csv", ".zip")
ROBOT_SENDERS = ("mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply")
REPLY_RETRIES = 3
MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def max_mail_bytes() -> int:
    return settings.MAIL_INTAKE_MAX_BYTES


@contextmanager
def _imap_errors(mailbox: MailIntake):
    try:
        yield
    except ImapError:
        raise
    except imaplib.IMAP4.abort as error:
        raise ImapError(f"The IMAP server {mailbox.imap_host} closed the connection ({error}).") from error
    except TimeoutError as error:
        raise ImapError(f"The IMAP server {mailbox.imap_host} stopped answering.") from error
    except (imaplib.IMAP4.error, OSError) as error:
        raise ImapError(f"Reading the mailbox failed ({type(error).__name__}: {error}).") from error


# --- One poll -----------------------------------------------------------------------------------------


def mailbox_poll(*, mailbox_id: int) -> dict:
    """Handle every mail waiting in the mailbox (at most MAIL_INTAKE_BATCH a poll); never raises.

    A mail that cannot be handled is its own failure: recorded as refused, moved out of the folder, and
    the poll goes on. Mails already recorded as done that are still in the folder (their move was
    refused) are looked at after every other, so they never fill the batch a poll takes."""
    mailbox = MailIntake.objects.get(pk=mailbox_id)
    stats = {"mailbox": mailbox.pk, "handled": 0, "finished": 0, "skipped": 0, "refused": 0, "errors": 0, "error": ""}
    limit = settings.MAIL_INTAKE_BATCH
    try:
        with _imap_errors(mailbox), ImapSession(mailbox) as session:
            for uid in _in_turn(session, session.search())[:limit]:
                try:
                    outcome = _poll_one(session, uid)
                except ImapRefused as error:
                    # One mail the server will not hand over or move: the others still get their turn.
                    logger.warning("Mailbox %s: mail UID %s: %s", mailbox.pk, uid, error)
                    stats["errors"] += 1
                    continue
                except (ImapError, imaplib.IMAP4.abort, OSError, DatabaseError):
                    raise  # the connection or the database is gone: stop this poll
                except Exception:
                    logger.exception("Mailbox %s: mail UID %s could not be handled", mailbox.pk, uid)
                    stats["errors"] += 1
                    continue
                stats[outcome] += 1
    except ImapError as error:
        stats["error"] = str(error)
        logger.warning("Mailbox %s (%s): %s", mailbox.pk, mailbox.name, error)
    except DatabaseError as error:
        stats["error"] = f"The database failed while reading the mailbox ({type(error).__name__})."
        logger.exception("Mailbox %s (%s): the database failed", mailbox.pk, mailbox.name)
    _retry_replies(mailbox)
    return poll_record(mailbox, stats)


def _in_turn(session: ImapSession, uids: list[int]) -> list[int]:
    """The folder's mails in the order a poll takes them: those never seen first, then those claimed and
    not finished (another poller's, or one whose fetch failed), then those recorded as done (still here
    only because their move failed). A batch of stuck mails never keeps a new one waiting."""
    if not uids:
        return []
    known = dict(
        ProcessedMail.objects.filter(
            mailbox=session.mailbox, uidvalidity=session.uidvalidity, uid__gte=uids[0], uid__lte=uids[-1]
        ).values_list("uid", "status")
    )
    rank = {ProcessedMail.Status.PROCESSING: 1, ProcessedMail.Status.DONE: 2}
    return sorted(uids, key=lambda uid: (rank.get(known.get(uid), 0), uid))


def message_key(*, message_id: str, delivered_to: str, uidvalidity: int, uid: int) -> str:
    # A mail sent to two intake addresses of one mailbox arrives as two copies with one Message-ID;
    # the envelope recipient of each copy keeps them apart.
    raw = f"mid:{message_id}|{delivered_to}" if message_id else f"uid:{uidvalidity}:{uid}"
    return hashlib.sha256(raw.encode("utf-8", errors="replace")).hexdigest()


def _poll_one(session: ImapSession, uid: int) -> str:
    mailbox = session.mailbox
    head = session.fetch_head(uid)
    if head is None:
        return "skipped"
    size, header_bytes = head
    try:
        headers = BytesParser(policy=policy.default).parsebytes(header_bytes, headersonly=True)
        message_id = _message_id(headers)
        delivered_to = envelope_recipient(headers)
    except Exception as error:  # whatever a stranger's headers make the parser do
        message_id, delivered_to = "", ""
        logger.warning("Mailbox %s: the headers of mail UID %s cannot be read (%s)", mailbox.pk, uid, error)
    key = message_key(
        message_id=message_id, delivered_to=delivered_to, uidvalidity=session.uidvalidity, uid=uid
    )
    processed, state = _claim(mailbox, key, message_id=message_id, uidvalidity=session.uidvalidity, uid=uid)
    if state == "busy":
        return "skipped"
    if state == "done":
        _finish(session, processed, uid)
        return "finished"
    try:
        raw = None if size > max_mail_bytes() else session.fetch_mail(uid)
        if size <= max_mail_bytes() and raw is None:
            return "skipped"  # moved away by someone else between the two fetches
        if not mail_handle(processed=processed, raw=raw, header_bytes=header_bytes, size=size):
            return "skipped"
        outcome = "handled"
    except (ImapError, imaplib.IMAP4.abort, OSError, DatabaseError):
        raise  # not the mail's fault: the claim stays, and is taken over after INTAKE_STALE_SECONDS
    except Exception as error:  # the mail's own fault: it must not stop the others
        logger.exception("Mailbox %s: mail UID %s could not be handled", mailbox.pk, uid)
        _refuse_unreadable(processed, error)
        outcome = "refused"
    processed.refresh_from_db()
    _finish(session, processed, uid)
    return outcome


def _message_id(headers) -> str:
    """The Message-ID when it looks like one (`<left@right>`); '' otherwise, so that mails with the same
    broken one (`<`) are told apart by their UID rather than taken for copies of one mail."""
    value = header_value(headers, "Message-ID")[:998]
    return value if MESSAGE_ID.fullmatch(value) else ""


def _refuse_unreadable(processed: ProcessedMail, error: Exception) -> None:
    """Record a mail that made the parser (or anything else) fail as refused, unanswered: it is moved
    like any other, and no later poll reads it again."""
    ProcessedMail.objects.filter(pk=processed.pk).update(
        status=ProcessedMail.Status.DONE, finished_at=timezone.now(), reply_status=ProcessedMail.ReplyStatus.SKIPPED,
        refusal=f"The mail could not be read ({type(error).__name__}); nothing was imported; not answered.",
    )


def _claim(mailbox, key, *, message_id, uidvalidity, uid) -> tuple[ProcessedMail, str]:
    now = timezone.now()
    try:
        with transaction.atomic():
            processed = ProcessedMail.objects.create(
                mailbox=mailbox, message_key=key, message_id=message_id, uidvalidity=uidvalidity, uid=uid,
                claimed_at=now,
            )
        return processed, "new"
    except IntegrityError:
        processed = ProcessedMail.objects.get(mailbox=mailbox, message_key=key)
    if processed.status == ProcessedMail.Status.DONE:
        return processed, "done"
    taken = ProcessedMail.objects.filter(
        pk=processed.pk,
        status=ProcessedMail.Status.PROCESSING,
        claimed_at=processed.claimed_at,
        claimed_at__lt=now - claim_stale_after(),
    ).update(claimed_at=now, uid=uid, uidvalidity=uidvalidity)
    if taken != 1:
        return processed, "busy"  # another poller is on it
    logger.warning("Mailbox %s: taking over mail %s left half-handled by a poller that stopped", mailbox.pk,
                   processed.pk)
    processed.refresh_from_db()
    return processed, "resume"


def _finish(session: ImapSession, processed: ProcessedMail, uid: int) -> None:
    if processed.reply_status == ProcessedMail.ReplyStatus.PENDING:
        if processed.mailbox.smtp_host:
            mail_reply_send(processed_mail_id=processed.pk)
        else:
            ProcessedMail.objects.filter(pk=processed.pk, reply_status=ProcessedMail.ReplyStatus.PENDING).update(
                reply_status=ProcessedMail.ReplyStatus.SKIPPED, reply_error="The mailbox has no SMTP server."
            )
    # Two sessions moving one mail at once can leave two copies in the processed folder: the move is
    # claimed too (again after INTAKE_STALE_SECONDS, if the mail is still here by then).
    now = timezone.now()
    claimed = ProcessedMail.objects.filter(
        Q(moved_at__isnull=True) | Q(moved_at__lt=now - claim_stale_after()), pk=processed.pk
    ).update(moved_at=now)
    if claimed:
        session.move(uid)


def _retry_replies(mailbox: MailIntake) -> None:
    """Replies that failed on an earlier poll (the SMTP server was down) get a few more tries."""
    if not mailbox.smtp_host:
        return
    due = ProcessedMail.objects.filter(
        mailbox=mailbox,
        status=ProcessedMail.Status.DONE,
        reply_status=ProcessedMail.ReplyStatus.FAILED,
        reply_attempts__lt=REPLY_RETRIES,
        finished_at__gte=timezone.now() - datetime.timedelta(days=1),
    ).values_list("pk", flat=True)[:20]
    for pk in due:
        mail_reply_send(processed_mail_id=pk)


# --- What a mail says -----------------------------------------------------------------------------------


def _is_robot(message, sender: str, mailbox: MailIntake) -> bool:
    """Bounces, auto-replies and lists are never answered: two robots must not write to each other."""
    if not sender or sender == mailbox.from_address.lower():
        return True
    if sender.split("@")[0] in ROBOT_SENDERS:
        return True
    auto = (header_value(message, "Auto-Submitted") or "no").strip().lower()
    precedence = header_value(message, "Precedence").strip().lower()
    return auto != "no" or precedence in ("bulk", "junk", "list") or bool(header_values(message, "List-Id"))


def _attachments(message) -> tuple[list[tuple[str, bytes]], list[str]]:
    """(.csv/.zip attachments as (name, bytes)), and the names of the other attached files."""
    taken, other = [], []
    for part in message.walk():
        if part.is_multipart():
            continue
        try:
            name = part.get_filename()
        except Exception:  # a Content-Disposition too broken to read: not a file we take
            name = "unreadable-name"
        if not name:
            continue
        name = clean_file_name(name)
        if not name.lower().endswith(ACCEPTED):
            other.append(name)
            continue
        taken.append((name, part.get_payload(decode=True) or b""))
    return taken, other


def mail_handle(*, processed: ProcessedMail, raw: bytes | None, header_bytes: bytes = b"", size: int = 0) -> bool:
    """Decide what the claimed mail is, take its files, mark it done. `raw` is None for a mail too
    large to fetch (its headers still say who sent it). False when an import is still running
    elsewhere: the claim stays `processing` and a later poll finishes it."""
    mailbox = processed.mailbox
    refusal, flow, reply = "", None, ProcessedMail.ReplyStatus.PENDING
    message = BytesParser(policy=policy.default).parsebytes(raw if raw is not None else header_bytes)
    # The answer goes to From, the address that was authenticated (never to a Reply-To it may name).
    sender = single_sender(message)
    recipient = envelope_recipient(message)
    check = sender_check(message, raw, from_domain=sender.rsplit("@", 1)[-1] if "@" in sender else "")
    ProcessedMail.objects.filter(pk=processed.pk).update(
        sender=sender[:320], recipients=recipient, subject=subject_of(message),
        authenticated=check.authenticated, authentication=check.reason[:400],
    )
    # Only an authenticated, allowed sender is ever answered: anyone can forge a From, and an answer to
    # a forged one is spam to a stranger (and tells them which flows exist).
    silent = ProcessedMail.ReplyStatus.SKIPPED
    if _is_robot(message, sender, mailbox):
        refusal, reply = "An automatic mail (bounce, auto-reply or list); not answered.", silent
    elif not check.authenticated:
        refusal, reply = f"The sender is not authenticated: {check.reason} Nothing was read; not answered.", silent
    elif (flow := flow_for_address(recipient)) is None:
        refusal = f"No flow takes call lists at {recipient or 'the address this mail was delivered to'}; not answered."
        reply = silent
    elif not sender_allowed(flow, sender):
        refusal = f"{sender} is not among the allowed senders of flow {flow.flow_id}; not answered."
        reply, flow = silent, None
    elif raw is None:
        refusal = (
            f"The mail is {human_size(size)}, larger than the {human_size(max_mail_bytes())} accepted; "
            "send the list as a ZIP, or through SFTP."
        )
    else:
        taken, other = _attachments(message)
        if not taken:
            named = f" (it has {', '.join(other[:5])})" if other else ""
            refusal = f"The mail has no .csv or .zip attachment{named}; attach the call list and send it again."
        for index, (name, payload) in enumerate(taken):
            intake_file, _ = IntakeFile.objects.get_or_create(
                processed_mail=processed, part_index=index,
                defaults={"channel": IntakeFile.Channel.MAIL, "filename": name, "flow": flow},
            )
            finished = intake_file_take(
                intake_file=intake_file, flow=flow, source=ContactList.Source.MAIL,
                open_file=lambda payload=payload: BytesIO(payload),
            )
            if not finished:
                return False
    if refusal:
        logger.info("Mailbox %s: mail %s refused: %s", mailbox.pk, processed.pk, refusal)
    ProcessedMail.objects.filter(pk=processed.pk).update(
        status=ProcessedMail.Status.DONE, refusal=refusal, flow=flow, finished_at=timezone.now(),
        **({"reply_status": reply} if reply != ProcessedMail.ReplyStatus.PENDING else {}),
    )
    return True
