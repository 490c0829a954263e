"""Rows with their own start time before, inside and after the calling window: real workers, the
sandbox over HTTP. The provider never receives a start-time outside the window."""

import datetime
from zoneinfo import ZoneInfo

import pytest

from campaigns.models import Campaign, Contact
from campaigns.windows import Window
from dialer import campaign_actions
from dialer.models import Call
from dialer.progress import skip_reasons
from dialer.start_times import OUTSIDE_WINDOW_REASON
from tests.factories import make_contact_list, make_flow
from tests.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
IST = ZoneInfo("Asia/Kolkata")


def window_open_now() -> tuple[str, datetime.datetime]:
    """A four-hour window that opened an hour ago, and its opening two days from now."""
    opened = (datetime.datetime.now(IST) - datetime.timedelta(hours=1)).replace(second=0, microsecond=0)
    closes = opened + datetime.timedelta(hours=4)
    return f"{opened:%H:%M}-{closes:%H:%M}", opened + datetime.timedelta(days=2)


@pytest.mark.parametrize("outside", ["move", "skip"])
def test_the_provider_receives_no_start_time_outside_the_window(sandbox, start_processes, outside):
    # given 30 rows of which 10 start before the window, 10 inside it and 10 after it, two days ahead
    start_processes(workers=1)
    window, opening = window_open_now()
    before, inside, after = (
        opening - datetime.timedelta(hours=3),
        opening + datetime.timedelta(hours=1),
        opening + datetime.timedelta(hours=5),
    )
    contact_list = make_contact_list(make_flow(), 30)
    ids = list(contact_list.contacts.order_by("id").values_list("pk", flat=True))
    for index, start_at in enumerate((before, inside, after)):
        Contact.objects.filter(pk__in=ids[index * 10 : (index + 1) * 10]).update(start_at=start_at)

    # when it is launched by a worker
    campaign = campaign_actions.campaign_launch(contact_list=contact_list, window=window, outside_window=outside)
    wait_until(
        lambda: Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.COMPLETED,
        timeout=90,
        message="the campaign to complete",
    )

    # then every start-time in the sandbox's ledger is inside the window
    campaign_window = Window.parse(window, zone="Asia/Kolkata")
    sent = [datetime.datetime.fromisoformat(entry["start-time"]) for entry in sandbox.provider.ledger()]
    assert sent and all(campaign_window.contains(start) for start in sent)
    if outside == "move":
        # the early rows at the opening, the late ones at the next day's, the rest as written
        next_opening = opening + datetime.timedelta(days=1)
        assert sorted(sent) == [opening] * 10 + [inside] * 10 + [next_opening] * 10
    else:
        assert sorted(sent) == [inside] * 10
        assert dict(skip_reasons(campaign)) == {OUTSIDE_WINDOW_REASON: 20}
        assert Call.objects.filter(campaign=campaign, state=Call.State.PLACED).count() == 10
