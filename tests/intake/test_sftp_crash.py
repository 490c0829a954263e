"""A file poller killed half way (a real `manage.py poll_intake` process) never imports a file twice."""

import datetime
import subprocess
import sys

import pytest

from campaigns.models import ContactList
from intake.models import SeenRemoteFile
from tests.intake.conftest import csv_bytes, listing, summaries, upload
from tests.processes import ROOT, process_env

KILLED_POLLER = ROOT / "tests" / "intake" / "killed_poller.py"

pytestmark = pytest.mark.django_db(transaction=True)


def poll(settings, die_after: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(KILLED_POLLER), "files", die_after], cwd=ROOT, capture_output=True, timeout=120,
        env=process_env(MEDIA_ROOT=settings.MEDIA_ROOT),
    )


@pytest.mark.parametrize(("point", "lists_after_crash"), [("claim", 0), ("import", 1)])
def test_a_poller_killed_mid_file_is_finished_by_the_next_with_one_list(
    settings, sftp_intake, sftp_server, smtp_sink, point, lists_after_crash
):
    # given a complete file, already looked at once (and long enough ago)
    upload(sftp_server.root, "C129113_ZH0RKJvh.csv", csv_bytes(4, bad=1))
    assert poll(settings).returncode == 0
    SeenRemoteFile.objects.update(looked_at=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))

    # when the poller that takes it is SIGKILLed
    crashed = poll(settings, die_after=point)
    assert crashed.returncode == 137, crashed.stderr.decode()[-2000:]
    assert ContactList.objects.count() == lists_after_crash
    assert listing(sftp_server.root, "Upload") == ["C129113_ZH0RKJvh.csv"]

    # then a poller right after leaves the fresh claim alone
    assert poll(settings).returncode == 0
    assert ContactList.objects.count() == lists_after_crash

    # and one after the claim went stale finishes it: one list, moved with its report, one summary
    SeenRemoteFile.objects.update(claimed_at=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
    finished = poll(settings)
    assert finished.returncode == 0, finished.stderr.decode()[-2000:]
    contact_list = ContactList.objects.get()
    assert (contact_list.imported_count, contact_list.rejected_count) == (4, 1)
    assert listing(sftp_server.root, "Upload") == []
    assert listing(sftp_server.root, "Success") == ["C129113_ZH0RKJvh.csv", "C129113_ZH0RKJvh.csv.report.csv"]
    assert len(summaries(smtp_sink)) == 1
    assert SeenRemoteFile.objects.count() == 0
