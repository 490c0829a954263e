"""The beat tasks fan out one poll per enabled channel."""

import pytest

from campaigns.models import ContactList
from config.celery import app
from intake.tasks import poll_mailbox_task, poll_mailboxes_task, poll_sftp_task
from tests.intake.conftest import csv_bytes, deliver, make_mail, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_the_beat_tasks_poll_every_enabled_mailbox_and_folder(eager, flow, mailbox, smtp_sink, sftp_intake,
                                                               sftp_server, smtp_mailbox):
    smtp_mailbox.enabled = False  # send-only: never polled
    smtp_mailbox.save()
    deliver(mailbox, make_mail(attachments=[("mailed.csv", csv_bytes(1))]))
    upload(sftp_server.root, "C129113_ZH0RKJvh.csv", csv_bytes(2, first=10))

    poll_mailboxes_task.delay()
    poll_sftp_task.delay()
    poll_sftp_task.delay()

    assert sorted(ContactList.objects.values_list("original_filename", "source")) == [
        ("C129113_ZH0RKJvh.csv", "sftp"), ("mailed.csv", "mail"),
    ]


def test_a_disabled_mailbox_is_not_polled(flow, mailbox, smtp_sink):
    mailbox.enabled = False
    mailbox.save()
    deliver(mailbox, make_mail(attachments=[("a.csv", csv_bytes(1))]))

    assert poll_mailbox_task(mailbox.pk) is None
    assert ContactList.objects.count() == 0
