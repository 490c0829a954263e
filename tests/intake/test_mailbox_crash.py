"""Each mail is handled once, whatever happens to the pollers: real `manage.py poll_intake` processes,
killed at exact points (tests/intake/killed_poller.py) or run two at a time, against Dovecot and aiosmtpd."""

import datetime
import json
import subprocess
import sys

import pytest
from django.utils import timezone

from campaigns.models import ContactList
from intake.models import ProcessedMail
from tests.intake.conftest import csv_bytes, deliver, folder_count, make_mail
from tests.processes import ROOT, process_env

KILLED_POLLER = ROOT / "tests" / "intake" / "killed_poller.py"

pytestmark = pytest.mark.django_db(transaction=True)


def poll(settings, die_after: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(KILLED_POLLER), "mail", die_after], cwd=ROOT, capture_output=True, timeout=120,
        env=process_env(MEDIA_ROOT=settings.MEDIA_ROOT),
    )


def pretend_the_claim_is_old():
    """What the passing of INTAKE_STALE_SECONDS (default 10 minutes) does to a dead poller's claim."""
    ProcessedMail.objects.filter(status=ProcessedMail.Status.PROCESSING).update(
        claimed_at=timezone.now() - datetime.timedelta(minutes=11)
    )


@pytest.mark.parametrize(
    ("point", "lists_after_crash", "replies_after_crash"),
    [("claim", 0, 0), ("import", 1, 0), ("reply", 1, 1)],
)
def test_a_poller_killed_mid_mail_is_finished_by_the_next_without_a_second_import_or_reply(
    settings, flow, mailbox, smtp_sink, point, lists_after_crash, replies_after_crash
):
    # given one mail with a list
    deliver(mailbox, make_mail(attachments=[("customers.csv", csv_bytes(3, bad=1))]))

    # when a poller is SIGKILLed at that point
    crashed = poll(settings, die_after=point)
    assert crashed.returncode == 137, crashed.stderr.decode()[-2000:]
    assert ContactList.objects.count() == lists_after_crash
    assert len(smtp_sink.received()) == replies_after_crash
    assert folder_count(mailbox, "INBOX") == 1

    # and another poller runs at once: the claim is fresh, so it leaves the mail alone
    if point != "reply":
        busy = poll(settings)
        assert busy.returncode == 0, busy.stderr.decode()[-2000:]
        assert json.loads(busy.stdout)["mailboxes"][0]["skipped"] == 1
        assert ContactList.objects.count() == lists_after_crash

    # and one runs after the claim has gone stale
    pretend_the_claim_is_old()
    finished = poll(settings)
    assert finished.returncode == 0, finished.stderr.decode()[-2000:]

    # then the mail made exactly one list, got exactly one answer, and left the inbox
    assert ContactList.objects.count() == 1, (finished.stdout + finished.stderr).decode()[-3000:]
    contact_list = ContactList.objects.get()
    assert (contact_list.status, contact_list.imported_count, contact_list.rejected_count) == ("imported", 3, 1)
    replies = smtp_sink.received()
    assert len(replies) == 1
    assert "customers.csv: 3 rows imported, 1 row rejected" in replies[0].get_body().get_content()
    assert folder_count(mailbox, "INBOX") == 0
    assert folder_count(mailbox, "Processed") == 1
    processed = ProcessedMail.objects.get()
    assert (processed.status, processed.reply_status) == ("done", "sent")

    # and yet another poll changes nothing
    poll(settings)
    assert ContactList.objects.count() == 1
    assert len(smtp_sink.received()) == 1


def test_two_pollers_at_once_handle_each_mail_once(settings, flow, mailbox, smtp_sink):
    # given six mails, each with its own list
    sent_ids = []
    for index in range(6):
        attachment = (f"list{index}.csv", csv_bytes(2, first=index * 10))
        mail = make_mail(subject=f"List {index}", attachments=[attachment])
        sent_ids.append(mail["Message-ID"])
        deliver(mailbox, mail)

    # when two pollers run at the same time
    env = process_env(MEDIA_ROOT=settings.MEDIA_ROOT)
    command = [sys.executable, "manage.py", "poll_intake", "--only", "mail"]
    pollers = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in pollers]
    assert [p.returncode for p in pollers] == [0, 0], [err.decode()[-2000:] for _, err in outputs]

    # then every mail made one list and got one answer
    assert sorted(ContactList.objects.values_list("original_filename", flat=True)) == [f"list{i}.csv" for i in range(6)]
    answered = sorted(message["In-Reply-To"] for message in smtp_sink.received())
    assert answered == sorted(sent_ids)
    assert ProcessedMail.objects.filter(status="done", reply_status="sent").count() == 6
    assert folder_count(mailbox, "INBOX") == 0
    assert folder_count(mailbox, "Processed") == 6
    handled = sum(json.loads(out)["mailboxes"][0]["handled"] for out, _ in outputs)
    assert handled == 6
