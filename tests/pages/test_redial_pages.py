"""Redial rules in the launch form, the review and the edit form; the campaign page says what waits;
the results and attempts downloads (pages)."""

import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.redial_rules import redial_rules
from dialer import campaign_actions, campaign_states
from dialer.models import Call
from dialer.planning import campaign_plan
from tests.factories import make_contact_list
from tests.pages.test_views import CONFIRM, LAUNCH

pytestmark = pytest.mark.django_db

RULES = {"max_attempts": "3", "redial_outcomes": ["busy", "no_answer"], "redial_after": "30m"}


@pytest.fixture
def acme_list(acme_flow):
    return make_contact_list(acme_flow, 5)


def test_the_review_says_what_the_rules_add_at_most_and_warns_of_the_cap(client, alice, acme_list):
    client.force_login(alice)
    response = client.post(reverse("list_launch", args=[acme_list.pk]), {**LAUNCH, **RULES})
    page = response.content.decode()
    assert response.status_code == 200 and not Campaign.objects.exists()
    assert "Busy or no answer: called again 30m after, up to 3 attempts in all" in page
    # the account's cap is 1 call a day: no redial can be made, and the review says so
    assert "At most 0 more calls" in page
    assert "dialling cap (1 call to one number per 1 day) stops each contact after 1 call" in page


def test_the_review_counts_every_redial_the_cap_allows(client, alice, acme_list):
    acme_list.flow.account.__class__.objects.filter(pk=acme_list.flow.account_id).update(calls_per_number=5)
    client.force_login(alice)
    page = client.post(reverse("list_launch", args=[acme_list.pk]), {**LAUNCH, **RULES}).content.decode()
    assert "At most 10 more calls" in page and "review-redials-cap" not in page


def test_launching_with_rules_stores_them_and_the_key_words(client, alice, acme_list):
    client.force_login(alice)
    response = client.post(
        reverse("list_launch", args=[acme_list.pk]),
        {**LAUNCH, **RULES, **CONFIRM, "key_labels": "1=confirmed,2 = cancel"},
    )
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert (campaign.redial_outcomes, campaign.redial_after_seconds, campaign.max_attempts) == (
        ["busy", "no_answer"],
        1800,
        3,
    )
    assert campaign.key_labels == "1=confirmed, 2=cancel"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_attempts": "3", "redial_outcomes": [], "redial_after": "1h"}, "Tick at least one outcome"),
        ({"max_attempts": "3", "redial_outcomes": ["busy"], "redial_after": "soon"}, "90s, 30m, 2h or 1d"),
        ({"max_attempts": "12", "redial_outcomes": ["busy"], "redial_after": "1h"}, "At most 10 attempts"),
        ({"key_labels": "1 confirmed"}, "Write each key as key=words"),
    ],
)
def test_bad_rules_are_refused_with_a_sentence_beside_the_field(client, alice, acme_list, fields, message):
    client.force_login(alice)
    response = client.post(reverse("list_launch", args=[acme_list.pk]), {**LAUNCH, **fields})
    assert response.status_code == 400 and message in response.content.decode()
    assert not Campaign.objects.exists()


def test_without_rules_the_launch_is_as_before(client, alice, acme_list):
    client.force_login(alice)
    client.post(reverse("list_launch", args=[acme_list.pk]), {**LAUNCH, **CONFIRM})
    campaign = Campaign.objects.get()
    assert campaign.max_attempts == 1 and campaign.redial_outcomes == []


def test_a_paused_campaigns_rules_change_through_the_edit_page(client, alice, acme_list):
    campaign = campaign_actions.campaign_create(
        contact_list=acme_list, window="00:00-24:00", redials=redial_rules(outcomes="busy", max_attempts=2)
    )
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.PAUSED)
    client.force_login(alice)
    page = client.get(reverse("campaign_edit", args=[campaign.pk])).content.decode()
    assert 'name="max_attempts"' in page and 'value="2"' in page
    response = client.post(
        reverse("campaign_edit", args=[campaign.pk]),
        {
            "name": "Renamed",
            "timezone": "Asia/Kolkata",
            "window_start": "09:00",
            "window_end": "21:00",
            "window_days": ["0", "1"],
            "max_attempts": "4",
            "redial_outcomes": ["busy", "failed"],
            "redial_after": "2h",
        },
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.max_attempts, campaign.redial_outcomes, campaign.redial_after_seconds) == (
        4,
        ["busy", "failed"],
        7200,
    )


def test_the_campaign_page_says_what_the_rules_wait_for_and_offers_every_attempt(client, alice, acme_list):
    campaign = campaign_actions.campaign_create(
        contact_list=acme_list, window="00:00-24:00", redials=redial_rules(outcomes="busy", after="1h", max_attempts=2)
    )
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SCHEDULED)
    while not campaign_plan(campaign_id=campaign.pk):
        pass
    campaign_states.campaign_start(campaign_id=campaign.pk)
    Call.objects.filter(campaign=campaign).update(state=Call.State.PLACED, phonon_uuid="u")
    first = Call.objects.filter(campaign=campaign).order_by("contact_id").first()
    Call.objects.filter(pk=first.pk).update(outcome="busy", outcome_at=timezone.now())
    Call.objects.exclude(pk=first.pk).update(outcome="answered", outcome_at=timezone.now())
    client.force_login(alice)
    page = client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    assert "Busy: called again 1h after, up to 2 attempts in all" in page
    assert "1 redial waits; the next go" in page
    assert reverse("campaign_export", args=[campaign.pk]) + "?attempts=1" in page


def test_the_downloads_give_one_row_per_contact_or_one_per_call(client, alice, acme_list):
    campaign = campaign_actions.campaign_create(
        contact_list=acme_list, window="00:00-24:00", redials=redial_rules(outcomes="busy", after="1h", max_attempts=2)
    )
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SCHEDULED)
    while not campaign_plan(campaign_id=campaign.pk):
        pass
    first = Call.objects.filter(campaign=campaign).order_by("contact_id").first()
    Call.objects.filter(pk=first.pk).update(state=Call.State.PLACED, outcome="busy")
    Call.objects.create(
        campaign=campaign,
        contact_id=first.contact_id,
        attempt=2,
        client_identifier=f"{first.client_identifier}-2",
        state=Call.State.PLACED,
        outcome="answered",
    )
    client.force_login(alice)

    def rows(query=""):
        response = client.get(reverse("campaign_export", args=[campaign.pk]) + query)
        body = b"".join(response.streaming_content).decode()
        return response, list(csv.DictReader(io.StringIO(body)))

    response, per_contact = rows()
    assert len(per_contact) == 5
    assert per_contact[0]["client_identifier"].endswith("-2") and per_contact[0]["attempts"] == "2"
    assert per_contact[0]["outcome"] == "answered"
    assert {row["attempts"] for row in per_contact[1:]} == {"1"}
    response, per_call = rows("?attempts=1")
    assert "_attempts.csv" in response["Content-Disposition"]
    assert len(per_call) == 6
    assert [(row["attempt"], row["outcome"]) for row in per_call[:2]] == [("1", "busy"), ("2", "answered")]
