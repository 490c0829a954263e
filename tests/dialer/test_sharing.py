"""The share a running campaign has of its account's limit, as the pages and the API say it."""

import datetime
import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from api.serializers import CampaignSerializer
from campaigns.models import Campaign
from dialer import campaign_actions, ratelimit
from dialer.sharing import campaign_share
from tests.factories import make_contact_list, make_flow

pytestmark = pytest.mark.django_db


@pytest.fixture
def minute_limit(settings):
    settings.PHONON_REALTIME_RATE = "600/60"
    settings.PHONON_RATE_MARGIN = 0


def running(flow, name, priority="normal", contacts=10, first=0):
    contact_list = make_contact_list(flow, contacts, first=first, name=name)
    campaign = campaign_actions.campaign_create(contact_list=contact_list, name=name, window="00:00-24:00",
                                                priority=priority)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)
    campaign.refresh_from_db()
    return campaign


def asking(campaign):
    ratelimit.campaign_asking(endpoint=campaign.flow.endpoint, account_client_id=campaign.flow.account.client_id,
                              campaign=str(campaign.pk), weight=campaign.weight, calls=campaign.batch_size)


def test_a_normal_campaign_beside_a_low_one_gets_two_thirds_in_words(minute_limit):
    # given two running campaigns of one account, both asking the limiter
    flow = make_flow(client_id="C-share-words")
    reminders = running(flow, "Payment reminders")
    renewals = running(flow, "Bulk renewals", priority="low", first=100)
    asking(reminders)
    asking(renewals)

    # when the pages ask for the normal one's share
    share = campaign_share(reminders)

    # then it is two thirds of 600 a minute, and says with whom it is shared
    assert share.calls_per_minute == 400 and str(share.fraction) == "2/3"
    assert share.in_words() == (
        "allowed up to 400 calls/min, 2/3 of the account's limit, shared with 'Bulk renewals' (low)"
    )
    now = timezone.now()
    assert share.finish_at(800, now=now) == now + datetime.timedelta(minutes=2)


def test_the_api_gives_the_share_in_figures_and_words(minute_limit):
    flow = make_flow(client_id="C-share-api")
    reminders = running(flow, "Payment reminders", priority="high")
    renewals = running(flow, "Bulk renewals", first=100)
    asking(reminders)
    asking(renewals)

    share = CampaignSerializer(reminders).data["share"]

    assert share["calls_per_minute"] == 400 and share["fraction"] == "2/3" and share["limit_per_minute"] == 600
    assert share["shared_with"] == [{"id": renewals.pk, "name": "Bulk renewals", "priority": "normal"}]
    assert share["estimated_finish"] is not None
    assert share["in_words"].endswith("shared with 'Bulk renewals' (normal)")


def test_a_campaign_alone_has_the_whole_limit(minute_limit):
    campaign = running(make_flow(client_id="C-share-alone"), "Alone")
    asking(campaign)
    assert campaign_share(campaign).in_words() == "allowed up to 600 calls/min, the whole of the account's limit"


def test_a_campaign_that_is_not_sending_has_no_share(minute_limit):
    campaign = running(make_flow(client_id="C-share-paused"), "Paused")
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.PAUSED)
    campaign.refresh_from_db()
    assert campaign_share(campaign) is None


def test_other_accounts_campaigns_on_a_shared_limit_are_counted_but_not_named(minute_limit, settings):
    settings.PHONON_RATE_SCOPE = "endpoint"
    ours = running(make_flow(client_id="C-share-ours"), "Ours")
    theirs = running(make_flow(flow_id="THEIRS01", client_id="C-share-theirs"), "Their secret campaign", first=100)
    asking(ours)
    asking(theirs)

    words = campaign_share(ours).in_words()

    assert "1/2 of the account's limit" in words and "1 campaign of other accounts" in words
    assert "secret" not in words


def test_the_live_page_shows_the_share_and_the_priority_can_change_while_it_runs(client, minute_limit):
    # given a manager of the account and its running campaign
    flow = make_flow(client_id="C-share-page")
    campaign = running(flow, "Payment reminders", contacts=20)
    asking(campaign)
    alice = get_user_model().objects.create_user("alice", password="pw-alice")
    flow.account.managers.add(alice)
    client.force_login(alice)

    # when she opens the live view, then sets the priority to high
    live = client.get(reverse("campaign_live", args=[campaign.pk])).content.decode()
    changed = client.post(reverse("campaign_priority", args=[campaign.pk]), {"priority": "high"}, follow=True)

    # then the share and the estimated finish are shown, and the priority changed
    assert "Allowed up to 600 calls/min, the whole of the account&#x27;s limit." in live
    assert 'id="finish-estimate"' in live
    campaign.refresh_from_db()
    assert campaign.priority == Campaign.Priority.HIGH and campaign.weight == 4
    assert "Priority set to high." in changed.content.decode()


def test_a_finished_campaigns_priority_cannot_change():
    campaign = running(make_flow(client_id="C-share-final"), "Done")
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.COMPLETED)
    campaign.refresh_from_db()
    with pytest.raises(campaign_actions.ActionRefused):
        campaign_actions.campaign_set_priority(campaign=campaign, priority="high")


def test_launch_campaign_takes_a_priority():
    contact_list = make_contact_list(make_flow(client_id="C-share-command"), 3)
    out = io.StringIO()

    call_command("launch_campaign", "--list", str(contact_list.pk), "--priority", "high", "--yes", stdout=out)

    launched = json.loads(out.getvalue())
    assert Campaign.objects.get(pk=launched["campaign_id"]).priority == Campaign.Priority.HIGH
