"""Stored call tallies: counted by the statements that create and move calls, in their transactions;
rebuilt from the calls by recount_calls and by the migration that fills them. (Every test in
tests/dialer and tests/e2e also checks them against a real count when it ends: tests/conftest.py.)"""

import datetime
import importlib
import json
import threading
from io import StringIO
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from campaigns.donotcall.lists import dnc_entries_add, dnc_own_list
from campaigns.models import Campaign
from dialer import campaign_actions, campaign_states, planning, tallies
from dialer.models import AcceptedTally, Batch, Call, CallTally
from dialer.progress import campaign_progress
from tests.dialer.test_dispatch import drain
from tests.factories import make_contact_list, make_flow, phone

pytestmark = pytest.mark.django_db

fill_migration = importlib.import_module("dialer.migrations.0004_fill_call_tallies")


@pytest.fixture(autouse=True)
def fast_dispatch(settings):
    settings.PHONON_READ_TIMEOUT = 1.0
    settings.DISPATCH_GRANT_MAX_WAIT = 0.5
    settings.PHONON_REALTIME_RATE = "100000/60"


def running_campaign(flow, contacts, *, first=0, **options) -> Campaign:
    contact_list = make_contact_list(flow, contacts, first=first, name=options.get("name", "list"))
    campaign = campaign_actions.campaign_create(contact_list=contact_list, window="00:00-24:00", **options)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SCHEDULED)
    while not planning.campaign_plan(campaign_id=campaign.pk, slice_size=500):
        pass
    assert campaign_states.campaign_start(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


def counted(campaign) -> dict[str, int]:
    return {state: n for state, n in campaign_progress(campaign).counts.items() if n}


def test_planning_counts_each_slice_by_state_as_it_inserts_it(sandbox):
    # given 1,200 contacts of which 3 are on the account's do-not-call list
    flow = make_flow()
    dnc_entries_add(dnc_list=dnc_own_list(account=flow.account), numbers=[phone(5), phone(600), phone(1199)])

    # when the campaign is planned in slices of 500
    campaign = running_campaign(flow, 1200)

    # then the tallies hold each state's calls, the skipped ones apart
    assert counted(campaign) == {Call.State.PENDING: 1197, Call.State.SKIPPED: 3}
    assert tallies.tallies_differ(campaign_id=campaign.pk) == {}


def test_write_backs_count_what_they_changed_on_their_batches_shards(sandbox):
    campaign = running_campaign(make_flow(), 1200)

    drain(campaign)

    assert counted(campaign) == {Call.State.PLACED: 1200}
    # each batch's write-back went to its own shard: workers of one campaign do not queue on one row
    batch_shards = {pk % tallies.SHARDS for pk in Batch.objects.filter(campaign=campaign).values_list("pk", flat=True)}
    placed_shards = set(
        CallTally.objects.filter(campaign=campaign, state=Call.State.PLACED).values_list("shard", flat=True)
    )
    assert placed_shards == batch_shards and len(batch_shards) == 3


def test_a_rolled_back_write_takes_its_count_back_with_its_calls(sandbox):
    campaign = running_campaign(make_flow(), 10)
    before = counted(campaign)

    with pytest.raises(RuntimeError), transaction.atomic():
        moved = Call.objects.filter(campaign=campaign).update(state=Call.State.PLACED)
        tallies.calls_moved(campaign_id=campaign.pk, moves={(Call.State.PENDING, Call.State.PLACED): moved})
        raise RuntimeError("the worker dies before it commits")

    assert counted(campaign) == before == {Call.State.PENDING: 10}


def test_a_cancel_counts_every_unsent_call_skipped(sandbox):
    campaign = running_campaign(make_flow(), 1200)

    campaign_actions.campaign_cancel(campaign=campaign)

    assert counted(campaign) == {Call.State.SKIPPED: 1200}


def test_recount_calls_rebuilds_a_campaign_from_its_calls_and_names_what_it_corrected(sandbox):
    flow = make_flow()
    damaged, intact = running_campaign(flow, 20), running_campaign(flow, 30, first=100, name="intact")
    # given calls changed behind the tallies' back (a hand-written UPDATE)
    Call.objects.filter(campaign=damaged, contact__line__lte=6).update(state=Call.State.REJECTED)

    out = StringIO()
    call_command("recount_calls", "--campaign", str(damaged.pk), stdout=out)

    assert json.loads(out.getvalue()) == {"campaign_id": damaged.pk, "calls": 20, "corrected": [damaged.pk]}
    assert counted(damaged) == {Call.State.PENDING: 15, Call.State.REJECTED: 5}
    assert counted(intact) == {Call.State.PENDING: 30}
    again = StringIO()
    call_command("recount_calls", stdout=again)
    assert json.loads(again.getvalue()) == {"campaign_id": None, "calls": 50, "corrected": []}


def test_recount_calls_refuses_a_campaign_that_does_not_exist():
    out = StringIO()

    with pytest.raises(SystemExit) as exit_:
        call_command("recount_calls", "--campaign", "987654", stdout=out)

    assert exit_.value.code == 1
    assert json.loads(out.getvalue()) == {"error": "There is no campaign 987654."}


def test_accepted_calls_are_counted_on_the_day_they_were_accepted(sandbox):
    flow = make_flow()
    campaign = running_campaign(flow, 12, batch_size=4)
    drain(campaign)
    today = tallies.today()

    assert tallies.accepted_by_flow(flow_ids=[flow.pk], day=today) == {flow.pk: 12}
    # a recount puts each accepted call on the day it was written back (PHONON_TIMEZONE's day)
    Call.objects.filter(campaign=campaign, contact__line__lte=5).update(
        updated_at=timezone.now() - datetime.timedelta(days=2)
    )
    tallies.calls_recount(campaign_id=campaign.pk)
    assert tallies.accepted_by_flow(flow_ids=[flow.pk], day=today) == {flow.pk: 8}
    assert tallies.accepted_by_flow(flow_ids=[flow.pk], day=today - datetime.timedelta(days=2)) == {flow.pk: 4}


def test_the_migration_fills_the_tallies_of_existing_campaigns(sandbox):
    flow = make_flow()
    sent, waiting = running_campaign(flow, 1200), running_campaign(flow, 700, first=5000, name="waiting")
    drain(sent)
    expected = {campaign.pk: counted(campaign) for campaign in (sent, waiting)}
    # given a database from before the tallies
    CallTally.objects.all().delete()
    AcceptedTally.objects.all().delete()

    fill_migration.fill(apps, SimpleNamespace(connection=connection))

    assert {campaign.pk: counted(campaign) for campaign in (sent, waiting)} == expected
    assert tallies.accepted_by_flow(flow_ids=[flow.pk], day=tallies.today()) == {flow.pk: 1200}


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serialises every writer: no race to lose")
def test_writers_racing_to_create_the_same_tally_rows_lose_no_count():
    # given a campaign with no tally rows yet, and four workers writing back at once
    campaign = running_campaign(make_flow(), 1)
    CallTally.objects.all().delete()
    AcceptedTally.objects.all().delete()
    start = threading.Barrier(4)

    def worker():
        start.wait()
        try:
            for index in range(50):
                with transaction.atomic():
                    tallies.calls_moved(campaign_id=campaign.pk, shard=index % 2,
                                        moves={(Call.State.PENDING, Call.State.PLACED): 1})
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then every move counted once, on the two shards' rows and no more rows
    assert counted(campaign) == {Call.State.PENDING: -200, Call.State.PLACED: 200}
    assert CallTally.objects.filter(campaign=campaign).count() == 4
    tallies.calls_recount(campaign_id=campaign.pk)  # the calls never moved: the guard compares real counts
