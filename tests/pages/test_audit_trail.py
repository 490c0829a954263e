"""Issue 28, item 9: who launched, paused, resumed, edited or cancelled a campaign is kept and shown on
its page; a paused campaign is not "running for"; a status is said once."""

import re

import pytest
from django.urls import reverse

from campaigns.audit import campaign_audit_trail
from campaigns.models import Campaign, CampaignEvent
from dialer import campaign_actions
from dialer.planning import campaign_plan
from tests.factories import make_contact_list

Action = CampaignEvent.Action


@pytest.fixture
def running(acme_flow):
    contact_list = make_contact_list(acme_flow, 4, name="March")
    campaign = campaign_actions.campaign_create(
        contact_list=contact_list, window="00:00-24:00", batch_size=2, name="March"
    )
    campaign_plan(campaign_id=campaign.pk)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)
    campaign.refresh_from_db()
    return campaign


def test_pausing_resuming_and_cancelling_from_the_pages_names_the_manager(client, alice, running):
    client.force_login(alice)

    client.post(reverse("campaign_pause", args=[running.pk]))
    client.post(reverse("campaign_resume", args=[running.pk]))
    client.post(reverse("campaign_cancel", args=[running.pk]), {"confirm": "on"})

    trail = [(event.action, event.actor, event.actor_label) for event in reversed(campaign_audit_trail(running))]
    assert trail == [
        (Action.PAUSED, alice, "alice"),
        (Action.RESUMED, alice, "alice"),
        (Action.CANCELLED, alice, "alice"),
    ]
    running.refresh_from_db()
    assert running.status_reason == "Cancelled by a manager (alice)."


def test_an_edit_records_what_changed(client, alice, running):
    campaign_actions.campaign_pause(campaign=running, actor=alice)
    client.force_login(alice)

    client.post(
        reverse("campaign_edit", args=[running.pk]),
        {
            "name": "March, evenings",
            "timezone": "Asia/Kolkata",
            "window_start": "17:00",
            "window_end": "21:00",
            "window_days": list(range(7)),
            "batch_size": 2,
            "api_version": "1.0",
        },
    )

    edit = CampaignEvent.objects.get(action=Action.EDITED)
    assert edit.actor == alice
    assert "name: March → March, evenings" in edit.detail and "window: 00:00–24:00 → 17:00–21:00" in edit.detail


def test_a_launch_from_the_review_names_who_launched(client, alice, acme_flow):
    contact_list = make_contact_list(acme_flow, 3, name="April")
    client.force_login(alice)
    settings = {
        "timezone": "Asia/Kolkata",
        "window_start": "00:00",
        "window_end": "24:00",
        "window_days": list(range(7)),
        "batch_size": 500,
        "api_version": "1.0",
        "priority": "normal",
        "confirm_listener": "on",  # the fixtures' flow has no activated listener
        "confirm_indian_hours": "on",  # round the clock, past 21:00 in India
    }

    client.post(
        reverse("list_launch", args=[contact_list.pk]),
        {**settings, "reviewed": "1", "confirm": "1", "skip_called": "on", "look_back_days": 7},
    )

    launch = CampaignEvent.objects.get()
    assert (launch.action, launch.actor, launch.detail) == (Action.LAUNCHED, alice, "April (3 contacts)")


def test_the_api_names_its_key_and_a_script_is_the_system(running):
    campaign_actions.campaign_pause(campaign=running, reason="Paused through the API.", actor="API key “CRM nightly”")
    campaign_actions.campaign_resume(campaign=running)

    resumed, paused = campaign_audit_trail(running)
    assert (paused.actor, paused.actor_label, paused.detail) == (
        None,
        "API key “CRM nightly”",
        "Paused through the API.",
    )
    assert resumed.actor_label == ""


def test_the_campaign_page_shows_the_trail_with_times_in_the_campaigns_zone(client, alice, running):
    campaign_actions.campaign_pause(campaign=running, actor=alice)
    client.force_login(alice)

    page = client.get(reverse("campaign_detail", args=[running.pk])).content.decode()

    trail = page[page.index('id="audit-trail"') :]
    assert re.search(r"\d{1,2} \w{3} \d{4}, \d\d:\d\d IST</time>:\s*<strong>Paused</strong> by alice", trail)


def test_a_paused_campaign_is_not_running_for_and_says_paused_once(client, alice, running):
    Campaign.objects.filter(pk=running.pk).update(started_at=running.created_at)
    campaign_actions.campaign_pause(campaign=running, actor=alice)
    client.force_login(alice)

    live = client.get(reverse("campaign_live", args=[running.pk])).content.decode()

    assert "Running for" not in live
    assert live.count("Paused by a manager (alice).") == 1
    assert 'id="status-headline"' not in live  # the badge says "Paused"; the headline would say it again


def test_a_completed_campaign_says_completed_once_in_the_table(client, alice, running):
    Campaign.objects.filter(pk=running.pk).update(status=Campaign.Status.COMPLETED)
    client.force_login(alice)

    live = client.get(reverse("campaign_live", args=[running.pk])).content.decode()

    assert len(re.findall(r">\s*Completed\s*<", live)) == 1
