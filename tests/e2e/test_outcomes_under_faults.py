"""Applying delivery reports survives worker kills: real worker processes apply stored reports and
are SIGKILLed while they do; afterwards no report is lost, none counted twice, and the stored
outcome tallies equal a real count of the calls."""

import random
from collections import Counter

import pytest

from dialer.models import Call, CallLeg, OutcomeReport
from dialer.outcomes import tallies
from dialer.outcomes.receiving import report_receive
from tests.dialer.outcome_reports import KINDS, report_stream
from tests.dialer.test_dispatch import drain, running_campaign
from tests.factories import make_flow
from tests.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _done() -> int:
    return OutcomeReport.objects.exclude(status="pending").count()


def kill_while_applying(processes, rng, *, kills: int, done=_done, pending=None) -> int:
    """SIGKILL a worker each time the workers have applied a few more reports, while some wait."""
    pending = pending or (lambda: OutcomeReport.objects.filter(status="pending").exists())
    killed, done_before = 0, done()
    while killed < kills and pending():
        wait_until(
            lambda before=done_before: done() > before + 20 or not pending(), timeout=120, message="more applied"
        )
        if not pending():
            break
        processes.kill_worker(rng.randrange(len(processes.workers)))
        killed += 1
        done_before = done()
    return killed


def test_workers_killed_while_applying_reports_lose_none_and_count_none_twice(sandbox, start_processes, settings):
    # given 2,000 placed calls and their reports (some twice, some out of order), stored before any worker runs
    settings.PHONON_REALTIME_RATE = "100000/60"
    settings.PHONON_READ_TIMEOUT = 5.0
    sandbox.provider.outcomes.configure({"enabled": False})
    flow = make_flow()
    campaign = running_campaign(flow, 2000, window="00:00-24:00")
    drain(campaign)
    rng = random.Random(29)
    bodies, expected, legs = report_stream(Call.objects.filter(campaign=campaign).select_related("contact"), rng)
    for body in bodies:
        assert report_receive(flow=flow, body=body, remote_addr=None).http_status == 200
    stored = OutcomeReport.objects.count()

    # when two workers apply them in small transactions, and are killed again and again meanwhile
    processes = start_processes(workers=2, OUTCOME_APPLY_BATCH=10, OUTCOME_SWEEP_SECONDS=0.5)
    kills = kill_while_applying(processes, rng, kills=12)
    wait_until(
        lambda: not OutcomeReport.objects.filter(status="pending").exists(), timeout=180, message="every report applied"
    )

    # then every report was applied once, every call has the outcome of its report, and the tallies agree
    assert kills >= 3
    assert OutcomeReport.objects.filter(status="applied").count() == stored
    outcomes = dict(Call.objects.filter(campaign=campaign).values_list("pk", "outcome"))
    assert outcomes == expected
    assert CallLeg.objects.filter(call__campaign=campaign).count() == legs
    assert tallies.outcomes_stored(campaign_id=campaign.pk) == tallies.outcomes_counted(campaign_id=campaign.pk)
    assert tallies.outcomes_recount(campaign_id=campaign.pk) is False  # a rebuild from the calls changes nothing
    summary = tallies.summary_of(campaign.pk)
    assert {key: summary.counts.get(key, 0) for key, _ in KINDS} == dict(Counter(expected.values()))
