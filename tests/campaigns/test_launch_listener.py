"""A flow whose listener is not marked activated: launching asks the manager to confirm, the flow page
says why calls may not connect, and launch_campaign warns on stderr but goes on (scripts)."""

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from tests.factories import make_contact_list, make_flow

pytestmark = pytest.mark.django_db
LAUNCH = {
    "name": "Reminders", "start_at": "", "timezone": "Asia/Kolkata", "window_start": "09:00", "window_end": "21:00",
    "window_days": ["0", "1", "2", "3", "4", "5", "6"], "batch_size": "500", "api_version": "1.0",
}
CONFIRM = {"reviewed": "1", "skip_called": "on", "look_back_days": "7", "confirm": "1"}


@pytest.fixture
def flow():
    return make_flow()


@pytest.fixture
def alice(client, flow):
    user = get_user_model().objects.create_user("alice")
    flow.account.managers.add(user)
    client.force_login(user)
    return user


def test_launching_without_an_activated_listener_is_refused_until_confirmed(client, alice, flow):
    # given an imported list on a flow whose listener is not marked activated
    contact_list = make_contact_list(flow, 3)
    url = reverse("list_launch", args=[contact_list.pk])

    # when alice opens the launch form, then it says why calls may not connect
    form = client.get(url).content.decode()
    assert 'id="listener-warning"' in form and "calls may not connect" in form

    # and the review asks her to confirm
    review = client.post(url, LAUNCH).content.decode()
    assert 'name="confirm_listener"' in review and "is not marked as activated" in review

    # when she confirms the launch without ticking it, then nothing is launched and the page says why
    refused = client.post(url, {**LAUNCH, **CONFIRM})
    assert refused.status_code == 400
    assert "Tick this box to launch anyway" in refused.content.decode()
    assert not Campaign.objects.exists()

    # when she ticks it, then the campaign is launched
    launched = client.post(url, {**LAUNCH, **CONFIRM, "confirm_listener": "on"})
    assert launched.status_code == 302
    assert Campaign.objects.get().status == Campaign.Status.SCHEDULED


def test_an_activated_flow_launches_without_the_question(client, alice, flow):
    flow.activated_at = timezone.now()
    flow.save()
    contact_list = make_contact_list(flow, 3)
    url = reverse("list_launch", args=[contact_list.pk])

    form = client.get(url).content.decode()
    review = client.post(url, LAUNCH).content.decode()
    launched = client.post(url, {**LAUNCH, **CONFIRM})

    assert 'id="listener-warning"' not in form and 'name="confirm_listener"' not in review
    assert launched.status_code == 302 and Campaign.objects.count() == 1


def test_the_flow_page_says_why_calls_may_not_connect_until_activated(client, alice, flow):
    url = reverse("flow_detail", args=[flow.pk])

    before = client.get(url).content.decode()
    client.post(reverse("flow_mark_requested", args=[flow.pk]))
    requested = client.get(url).content.decode()
    client.post(reverse("flow_mark_activated", args=[flow.pk]))
    after = client.get(url).content.decode()

    assert 'id="listener-warning"' in before and "calls may not connect" in before
    assert "has not even been requested" in before and "requested but is not marked done" in requested
    assert 'id="listener-warning"' not in after


def test_launch_campaign_warns_on_stderr_and_goes_on(flow):
    contact_list = make_contact_list(flow, 2)
    out, err = io.StringIO(), io.StringIO()

    call_command("launch_campaign", "--list", str(contact_list.pk), "--yes", stdout=out, stderr=err)

    assert json.loads(out.getvalue())["status"] == Campaign.Status.SCHEDULED
    assert "Warning: The listener of flow ZH0RKJvh is not marked as activated" in err.getvalue()


def test_launch_campaign_on_an_activated_flow_says_nothing_more(flow):
    flow.activated_at = timezone.now()
    flow.save()
    contact_list = make_contact_list(flow, 2)
    out, err = io.StringIO(), io.StringIO()

    call_command("launch_campaign", "--list", str(contact_list.pk), "--yes", stdout=out, stderr=err)

    assert json.loads(out.getvalue())["status"] == Campaign.Status.SCHEDULED
    assert "Warning" not in err.getvalue() and "Will call: 2 contacts" in err.getvalue()
