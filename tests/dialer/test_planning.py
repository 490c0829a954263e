"""Planning: one planner per campaign, and nothing planned for a campaign that ended."""

import threading

import pytest
from django.db import connection, transaction

from campaigns.models import Campaign
from dialer import campaign_actions, planning
from dialer.models import Batch, Call
from tests.factories import make_contact_list, make_flow


def campaign_of(contacts: int) -> Campaign:
    campaign = campaign_actions.campaign_create(
        contact_list=make_contact_list(make_flow(), contacts), window="00:00-24:00"
    )
    campaign_actions.campaign_schedule(campaign=campaign)
    return campaign


@pytest.mark.django_db(transaction=True)
def test_a_second_planner_of_the_same_campaign_steps_aside_while_the_first_works():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writer at a time: two planners cannot overlap there")
    campaign = campaign_of(1_000)
    holding, release = threading.Event(), threading.Event()

    def first_planner():
        # What a planner holds for the whole of its slice's transaction.
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [planning.PLANNER_LOCK, campaign.pk])
                holding.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=first_planner)
    thread.start()
    try:
        assert holding.wait(timeout=30)
        assert planning.campaign_plan(campaign_id=campaign.pk) is None
        assert not Call.objects.filter(campaign=campaign).exists()
    finally:
        release.set()
        thread.join(timeout=30)
    assert planning.campaign_plan(campaign_id=campaign.pk) is True
    assert Call.objects.filter(campaign=campaign).count() == 1_000


@pytest.mark.django_db
def test_a_campaign_cancelled_before_its_planner_ran_gets_no_calls():
    campaign = campaign_of(600)
    campaign_actions.campaign_cancel(campaign=campaign)

    assert planning.campaign_plan(campaign_id=campaign.pk) is True
    assert not Call.objects.filter(campaign=campaign).exists()
    assert not Batch.objects.filter(campaign=campaign).exists()


@pytest.mark.django_db
def test_the_next_slice_of_a_deleted_campaign_is_a_quiet_end():
    # a slice queued before its campaign was deleted (an admin's delete, a test database flushed)
    campaign = campaign_of(10)
    campaign_id = campaign.pk
    campaign.delete()

    assert planning.campaign_plan(campaign_id=campaign_id) is True


@pytest.mark.django_db
def test_each_slice_marks_the_campaign_touched_and_the_last_one_planned():
    campaign = campaign_of(1_200)
    before = Campaign.objects.get(pk=campaign.pk).updated_at

    assert planning.campaign_plan(campaign_id=campaign.pk, slice_size=1_000) is False
    touched = Campaign.objects.get(pk=campaign.pk)
    assert touched.updated_at > before and touched.planned_at is None

    assert planning.campaign_plan(campaign_id=campaign.pk, slice_size=1_000) is True
    assert Campaign.objects.get(pk=campaign.pk).planned_at is not None
    assert list(Batch.objects.filter(campaign=campaign).values_list("call_count", flat=True)) == [500, 500, 200]


@pytest.mark.django_db(transaction=True)  # a transaction of its own, not a savepoint: SET LOCAL ends with it
def test_the_planners_transaction_runs_without_jit_and_leaves_the_session_as_it_was():
    if connection.vendor != "postgresql":
        pytest.skip("JIT compilation is PostgreSQL's")

    def jit() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('jit')")
            return cursor.fetchone()[0]

    before = jit()
    with transaction.atomic():
        assert planning.planner_lock(campaign_of(1).pk) is True
        assert jit() == "off"  # compiling the per-contact probes cost more than running them
    assert jit() == before
