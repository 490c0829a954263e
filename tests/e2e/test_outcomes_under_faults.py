"""Applying delivery reports survives worker kills: real worker processes apply stored reports and
are SIGKILLed while they do; afterwards no report is lost, none counted twice, and the stored
outcome tallies equal a real count of the calls."""

import random
from collections import Counter

import pytest

from dialer.models import Call, CallLeg, OutcomeReport
from dialer.outcomes import tallies
from dialer.outcomes.receiving import report_receive
from tests.dialer.outcome_reports import leg, report
from tests.dialer.test_dispatch import drain, running_campaign
from tests.factories import make_flow
from tests.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

KINDS = [
    ("answered", dict(connected=True, keys="1")),
    ("busy", dict(cause="17", rang=False)),
    ("no_answer", dict(cause="19")),
    ("unreachable", dict(cause="27", rang=False)),
]


def test_workers_killed_while_applying_reports_lose_none_and_count_none_twice(sandbox, start_processes, settings):
    # given 2,000 placed calls and a report for each, half of them sent twice, stored before any worker runs
    settings.PHONON_REALTIME_RATE = "100000/60"
    settings.PHONON_READ_TIMEOUT = 5.0
    sandbox.provider.outcomes.configure({"enabled": False})
    flow = make_flow()
    campaign = running_campaign(flow, 2000, window="00:00-24:00")
    drain(campaign)
    rng = random.Random(29)
    expected = {}
    for call in Call.objects.filter(campaign=campaign).select_related("contact"):
        kind, shape = KINDS[rng.randrange(len(KINDS))]
        expected[call.pk] = kind
        body = report(call.phonon_uuid, leg(f"cdr-{call.pk}", call.contact.primary_number, **shape))
        for _ in range(1 + call.pk % 2):
            assert report_receive(flow=flow, body=body, remote_addr=None).http_status == 200
    stored = OutcomeReport.objects.count()

    # when two workers apply them in small transactions, and are killed again and again meanwhile
    processes = start_processes(workers=2, OUTCOME_APPLY_BATCH=50, OUTCOME_SWEEP_SECONDS=0.5)
    kills = 0
    while OutcomeReport.objects.filter(status="pending").exists() and kills < 12:
        wait_until(
            lambda done_before=kills * 100: OutcomeReport.objects.exclude(status="pending").count() > done_before,
            timeout=60,
            message="some reports applied",
        )
        processes.kill_worker(rng.randrange(2))
        kills += 1
    wait_until(
        lambda: not OutcomeReport.objects.filter(status="pending").exists(), timeout=180, message="every report applied"
    )

    # then every report was applied once, every call has the outcome of its report, and the tallies agree
    assert kills >= 3
    assert OutcomeReport.objects.filter(status="applied").count() == stored
    outcomes = dict(Call.objects.filter(campaign=campaign).values_list("pk", "outcome"))
    assert outcomes == expected
    assert CallLeg.objects.filter(call__campaign=campaign).count() == 2000
    assert tallies.outcomes_stored(campaign_id=campaign.pk) == tallies.outcomes_counted(campaign_id=campaign.pk)
    summary = tallies.summary_of(campaign.pk)
    assert {key: summary.counts.get(key, 0) for key, _ in KINDS} == dict(Counter(expected.values()))
