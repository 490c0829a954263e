"""Rows with their own start time: every start-time sent falls inside the campaign's window."""

import datetime
from zoneinfo import ZoneInfo

import pytest

from campaigns.models import Campaign, Contact
from campaigns.windows import Window
from dialer import campaign_actions, planning, tallies
from dialer.models import Batch, Call
from dialer.payload import call_entries
from dialer.progress import skip_reasons
from dialer.start_times import (
    OUTSIDE_WINDOW_REASON,
    contact_list_start_times,
    scheduled_later,
)
from tests.factories import make_contact_list, make_flow

IST = ZoneInfo("Asia/Kolkata")
TODAY = datetime.datetime.now(IST).date()
TOMORROW = TODAY + datetime.timedelta(days=2)  # far enough ahead that no row is already past


def at(day, clock: str) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.fromisoformat(clock), tzinfo=IST)


def list_with_start_times(times: list[datetime.datetime | None]):
    contact_list = make_contact_list(make_flow(), len(times))
    for contact, start_at in zip(contact_list.contacts.order_by("id"), times, strict=True):
        Contact.objects.filter(pk=contact.pk).update(start_at=start_at)
    return contact_list


def planned_campaign(contact_list, **options) -> Campaign:
    campaign = campaign_actions.campaign_create(contact_list=contact_list, window="09:00-23:00", **options)
    campaign_actions.campaign_schedule(campaign=campaign)
    assert planning.campaign_plan(campaign_id=campaign.pk) is True
    return Campaign.objects.get(pk=campaign.pk)


TIMES = [at(TOMORROW, "06:00"), at(TOMORROW, "11:00"), at(TOMORROW, "23:30"), None]


@pytest.mark.django_db
def test_a_row_outside_the_window_is_sent_with_the_windows_next_opening():
    campaign = planned_campaign(list_with_start_times(TIMES))
    batch = Batch.objects.get(campaign=campaign)

    sent = [entry["start-time"] for entry in call_entries(batch)]

    after = TOMORROW + datetime.timedelta(days=1)
    assert sent[:3] == [f"{TOMORROW}T09:00:00+05:30", f"{TOMORROW}T11:00:00+05:30", f"{after}T09:00:00+05:30"]
    # the row without a time of its own starts at once, or at the opening when the window is shut now
    window = Window.parse("09:00-23:00", zone="Asia/Kolkata")
    assert window.contains(datetime.datetime.fromisoformat(sent[3]))


@pytest.mark.django_db
def test_rows_outside_the_window_are_skipped_when_the_manager_chose_so():
    campaign = planned_campaign(list_with_start_times(TIMES), outside_window=Campaign.OutsideWindow.SKIP)

    assert dict(skip_reasons(campaign)) == {OUTSIDE_WINDOW_REASON: 2}
    batch = Batch.objects.get(campaign=campaign)
    assert batch.call_count == 2 == Call.objects.filter(batch=batch).count()


@pytest.mark.django_db
def test_the_review_counts_the_rows_with_their_own_start_time_and_those_outside():
    contact_list = list_with_start_times(TIMES)

    counted = contact_list_start_times(
        contact_list=contact_list, window=Window.parse("09:00-23:00", zone="Asia/Kolkata")
    )

    assert (counted.own, counted.outside) == (3, 2)
    assert counted.in_words() == "3 rows have their own start time; 2 fall outside the window"


@pytest.mark.django_db
def test_the_campaign_knows_the_calls_the_provider_holds_for_later():
    campaign = planned_campaign(list_with_start_times(TIMES))
    # (the row without a time of its own is left out: whether it waits depends on the hour the test runs)
    placed = Call.objects.filter(campaign=campaign, contact__start_at__isnull=False).update(
        state=Call.State.PLACED, batch=None)
    skipped = Call.objects.filter(campaign=campaign, state=Call.State.PENDING).update(
        state=Call.State.SKIPPED, batch=None)
    tallies.calls_moved(campaign_id=campaign.pk, moves={(Call.State.PENDING, Call.State.PLACED): placed,
                                                        (Call.State.PENDING, Call.State.SKIPPED): skipped})

    later = scheduled_later(campaign)

    after = TOMORROW + datetime.timedelta(days=1)
    assert later == [(at(TOMORROW, "09:00"), 1), (at(TOMORROW, "11:00"), 1), (at(after, "09:00"), 1)]
    assert campaign.last_start_at == at(after, "09:00")
