"""Dispatch against what the real provider may do that our reading of its pages does not say
(issue 12): codes with any HTTP status, Retry-After, a 200 missing calls, one bad call refusing a
whole request (bisection), start dates passing while a batch waits, the allow-list note on 401.
The sandbox is driven over HTTP, as any outside check would drive it."""

import datetime
import json
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
import requests
from django.contrib.auth import get_user_model
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from dialer import campaign_actions, claims, dispatch, pumping, ratelimit
from dialer.models import Batch, BatchAttempt, Call
from dialer.payload import flow_url
from dialer.progress import split_summary
from phonon.client import post as provider_post
from tests.dialer.test_dispatch import drain, running_campaign
from tests.factories import make_flow

pytestmark = pytest.mark.django_db
IST = ZoneInfo("Asia/Kolkata")
OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


@pytest.fixture(autouse=True)
def fast_dispatch(settings):
    settings.PHONON_READ_TIMEOUT = 1.0
    settings.DISPATCH_GRANT_MAX_WAIT = 0.5
    settings.PHONON_REALTIME_RATE = "100000/60"
    settings.PHONON_BULK_RATE = "100000/60"


def set_faults(sandbox, **faults):
    response = requests.post(f"{sandbox.base_url}/_sandbox/faults", json=faults, timeout=5)
    assert response.status_code == 200, response.text


def ledger(sandbox):
    return requests.get(f"{sandbox.base_url}/_sandbox/ledger", timeout=5).json()["calls"]


def give_bad_numbers(campaign, positions):
    calls = list(Call.objects.filter(campaign=campaign).select_related("contact").order_by("id"))
    for position in positions:
        calls[position].contact.numbers = ["12"]  # not a number the provider takes
        calls[position].contact.save()
    return [calls[position].client_identifier for position in positions]


# --- 1. the code in the body, whatever the HTTP status; Retry-After ----------------------------------


def test_an_http_401_carrying_202_pauses_the_campaign_at_once(sandbox):
    # given a flow whose security-id the provider refuses, with 202 sent as HTTP 401
    flow = make_flow(security_id="wrong-one")
    requests.post(f"{sandbox.base_url}/_sandbox/flows", json={"flow-id": flow.flow_id, "security-id": "right"},
                  timeout=5)
    set_faults(sandbox, http_status_for_codes={"202": 401})
    campaign = running_campaign(flow, 10)

    # when its batch is sent
    outcomes = drain(campaign)

    # then one request, read as 202, paused the campaign: no retries
    assert outcomes == ["held"]
    assert campaign.status == Campaign.Status.PAUSED
    assert "202 Invalid Security ID" in campaign.status_reason
    assert list(BatchAttempt.objects.values_list("http_status", "response_code")) == [(401, 202)]


def test_an_http_409_carrying_201_is_recorded_as_accepted_not_retried(sandbox):
    # given a batch whose first answer was lost after the provider took it
    campaign = running_campaign(make_flow(), 5)
    set_faults(sandbox, slow=1.0, slow_seconds=2)
    assert drain(campaign, rounds=1) == ["uncertain"]

    # when the same bytes go again and the provider answers 201 with HTTP 409
    set_faults(sandbox, http_status_for_codes={"201": 409})
    outcomes = drain(campaign)

    # then the 201 counts: accepted earlier, UUIDs unknown, nobody dialled twice
    assert outcomes == ["accepted_unknown"]
    assert Call.objects.filter(campaign=campaign, state=Call.State.ACCEPTED_UNKNOWN).count() == 5
    assert len(ledger(sandbox)) == 5


def test_a_429s_retry_after_holds_the_batch_back_at_least_that_long(sandbox, settings):
    # given a backoff far shorter than what the provider asks for
    settings.DISPATCH_BACKOFF_BASE = 0.01
    settings.DISPATCH_BACKOFF_CAP = 0.02
    campaign = running_campaign(make_flow(), 5)
    set_faults(sandbox, http_429=1.0, retry_after=30)
    (batch_id,) = pumping.campaign_pump(campaign_id=campaign.pk)

    # when the provider answers HTTP 429 with Retry-After: 30
    before = timezone.now()
    outcome = dispatch.batch_send(batch_id=batch_id)

    # then the retry waits at least 30 seconds
    batch = Batch.objects.get(pk=batch_id)
    assert outcome == Batch.Status.RETRY_WAIT
    assert batch.next_attempt_at - before >= datetime.timedelta(seconds=30)


def test_a_503_carrying_500_with_retry_after_waits_and_then_places(sandbox, settings):
    settings.DISPATCH_BACKOFF_BASE = 0.01
    settings.DISPATCH_BACKOFF_CAP = 0.02
    campaign = running_campaign(make_flow(), 5)
    set_faults(sandbox, force_code=500, http_status_for_codes={"500": 503}, retry_after=20)
    (batch_id,) = pumping.campaign_pump(campaign_id=campaign.pk)
    before = timezone.now()

    assert dispatch.batch_send(batch_id=batch_id) == Batch.Status.RETRY_WAIT
    assert Batch.objects.get(pk=batch_id).next_attempt_at - before >= datetime.timedelta(seconds=20)

    set_faults(sandbox)
    assert drain(campaign) == ["placed"]


def test_a_wrong_provider_address_pauses_with_the_setting_named(sandbox, settings):
    # given a base URL under which the provider has no API (HTTP 404, no provider code)
    settings.PHONON_REALTIME_BASE_URL = f"{sandbox.base_url}/nowhere"
    campaign = running_campaign(make_flow(), 5)

    # when the batch is sent
    outcomes = drain(campaign)

    # then the campaign stops with the reason in words, instead of retrying for minutes
    assert outcomes == ["held"]
    assert campaign.status == Campaign.Status.PAUSED
    assert "HTTP 404" in campaign.status_reason and "PHONON_REALTIME_BASE_URL" in campaign.status_reason


# --- 2. a 200 whose call-details lacks some calls ----------------------------------------------------


def test_a_200_missing_calls_records_them_accepted_with_uuid_unknown_and_never_resends(sandbox):
    # given a provider that accepts every call but leaves two out of its answer
    campaign = running_campaign(make_flow(), 5)
    set_faults(sandbox, drop_details=2)

    # when the batch is sent
    outcomes = drain(campaign)

    # then the three named calls are placed, the two others accepted with their UUID unknown
    assert outcomes == ["placed"]
    states = Counter(Call.objects.filter(campaign=campaign).values_list("state", flat=True))
    assert states == {Call.State.PLACED: 3, Call.State.ACCEPTED_UNKNOWN: 2}
    for call in Call.objects.filter(campaign=campaign, state=Call.State.ACCEPTED_UNKNOWN):
        assert call.provider_code == 200 and call.phonon_uuid == ""
        assert "UUID is unknown" in call.provider_message and "rejected" not in call.provider_message.lower()
    assert Batch.objects.get(campaign=campaign).status == Batch.Status.PLACED
    assert campaign.status == Campaign.Status.COMPLETED

    # and nothing is ever sent again
    assert drain(campaign) == []
    assert len(ledger(sandbox)) == 5


def test_a_209_still_marks_missing_calls_not_placed(sandbox):
    campaign = running_campaign(make_flow(), 3)
    (bad,) = give_bad_numbers(campaign, [0])

    assert drain(campaign) == ["partial"]

    call = Call.objects.get(client_identifier=bad)
    assert (call.state, call.provider_code) == (Call.State.REJECTED, 209)


# --- 3. one bad call refuses the whole request: bisection --------------------------------------------


def test_splitting_finds_the_bad_calls_and_places_every_good_one(sandbox, client):
    # given a provider that refuses a whole request for one bad number, and 3 bad numbers in 40
    flow = make_flow()
    campaign = running_campaign(flow, 40)
    bad = give_bad_numbers(campaign, [3, 17, 18])
    set_faults(sandbox, refuse_whole_for_bad_call=True)

    # when the campaign runs
    drain(campaign, rounds=100)

    # then each bad call stands alone, rejected with the code, and the 37 others are placed once
    assert campaign.status == Campaign.Status.COMPLETED
    for call in Call.objects.filter(client_identifier__in=bad).select_related("batch"):
        assert (call.state, call.provider_code) == (Call.State.REJECTED, 205)
        assert call.batch.call_count == 1 and call.batch.parent_id is not None
    placed = Call.objects.filter(campaign=campaign, state=Call.State.PLACED)
    assert placed.count() == 37
    assert sorted(entry["client-identifier"] for entry in ledger(sandbox)) == sorted(
        placed.values_list("client_identifier", flat=True)
    )

    # and the splits are batches of their own, with their own attempts and bodies
    root = Batch.objects.get(campaign=campaign, parent__isnull=True)
    assert root.status == Batch.Status.SPLIT and root.attempt_log.count() == 1
    children = Batch.objects.filter(parent=root)
    assert sorted(children.values_list("call_count", flat=True)) == [20, 20]
    assert all(child.attempt_log.exists() for child in Batch.objects.filter(campaign=campaign).exclude(pk=root.pk))
    assert len(set(Batch.objects.filter(campaign=campaign).values_list("body_sha256", flat=True))) == (
        Batch.objects.filter(campaign=campaign).count()
    )

    # and the campaign page says it in words
    expected = "3 calls refused: invalid contact number (205); 37 placed after splitting."
    assert split_summary(campaign) == expected
    alice = get_user_model().objects.create_user("alice")
    flow.account.managers.add(alice)
    client.force_login(alice)
    page = client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    assert expected in page and "Nothing was placed; sent again as two requests of 20 and 20 calls" in page


def test_split_requests_are_charged_to_the_rate_limiter_like_any_other(sandbox, redis_url):
    # given an account of its own, so that its limiter log holds only this campaign's grants
    flow = make_flow(client_id="C-split-limit")
    campaign = running_campaign(flow, 16)
    give_bad_numbers(campaign, [5])
    set_faults(sandbox, refuse_whole_for_bad_call=True)

    # when the campaign runs, splitting as it goes
    drain(campaign, rounds=100)

    # then every request, first or split, took its calls from the limiter
    log = redis.Redis.from_url(redis_url).zrange(ratelimit.limiter_key("realtime", "C-split-limit"), 0, -1)
    charged = sum(int(member.split(b":")[0]) for member in log)
    sent = sum(attempt.batch.call_count for attempt in BatchAttempt.objects.filter(batch__campaign=campaign))
    assert charged == sent > 16


def test_a_batch_that_may_have_been_delivered_is_never_split(sandbox):
    # given a batch whose first send went unanswered after the provider took it
    campaign = running_campaign(make_flow(), 6)
    set_faults(sandbox, slow=1.0, slow_seconds=2)
    assert drain(campaign, rounds=1) == ["uncertain"]

    # when the resend of the same bytes is refused whole
    set_faults(sandbox, force_code=205)
    outcomes = drain(campaign)

    # then no new bytes are made from it: the refusal is recorded, nobody is dialled twice
    assert outcomes == ["rejected"]
    assert not Batch.objects.filter(campaign=campaign, parent__isnull=False).exists()
    call = Call.objects.filter(campaign=campaign).first()
    assert "an earlier send of it went unanswered and may have been placed" in call.provider_message
    numbers = Counter(entry["contact-numbers"][0] for entry in ledger(sandbox))
    assert len(numbers) == 6 and set(numbers.values()) == {1}


def test_a_send_whose_worker_died_before_writing_back_forbids_splitting(sandbox):
    # given a worker that counted its attempt, sent the body (the provider took it), and died
    campaign = running_campaign(make_flow(), 6)
    (batch_id,) = pumping.campaign_pump(campaign_id=campaign.pk)
    claims.batch_claim(batch_id=batch_id)
    batch = Batch.objects.select_related("campaign__flow", "campaign__contact_list").get(pk=batch_id)
    body = dispatch.batch_freeze(batch=batch, token=Batch.objects.get(pk=batch_id).claim_token)
    Batch.objects.filter(pk=batch_id).update(attempts=F("attempts") + 1, maybe_delivered=True)
    assert provider_post(flow_url(campaign.flow), body, connect_timeout=2, read_timeout=2).code == 200
    Batch.objects.filter(pk=batch_id).update(lease_until=timezone.now() - datetime.timedelta(seconds=1))

    # when another worker takes the batch over and the provider refuses the resend whole
    set_faults(sandbox, force_code=210)
    assert pumping.stale_batches() == [batch_id]
    outcome = dispatch.batch_send(batch_id=batch_id)

    # then no new bytes are made from it: the first send may have placed every call
    assert outcome == Batch.Status.REJECTED
    assert not Batch.objects.filter(parent_id=batch_id).exists()
    assert len(ledger(sandbox)) == 6


def test_the_number_of_halvings_is_capped(sandbox, settings):
    settings.DISPATCH_SPLIT_MAX_DEPTH = 1
    campaign = running_campaign(make_flow(), 8)
    set_faults(sandbox, force_code=210)

    outcomes = drain(campaign)

    assert sorted(outcomes) == ["rejected", "rejected", "split"]
    assert set(Batch.objects.filter(campaign=campaign, status=Batch.Status.REJECTED).values_list(
        "depth", "call_count")) == {(1, 4)}
    assert Call.objects.filter(campaign=campaign, state=Call.State.REJECTED, provider_code=210).count() == 8
    call = Call.objects.filter(campaign=campaign).first()
    assert "halved 1 time already, the most allowed (DISPATCH_SPLIT_MAX_DEPTH)" in call.provider_message


def test_a_cancel_after_a_split_skips_the_halves_not_yet_sent(sandbox):
    campaign = running_campaign(make_flow(), 10)
    give_bad_numbers(campaign, [0])
    set_faults(sandbox, refuse_whole_for_bad_call=True)
    (batch_id,) = pumping.campaign_pump(campaign_id=campaign.pk)
    assert dispatch.batch_send(batch_id=batch_id) == "split"

    campaign_actions.campaign_cancel(campaign=campaign)

    assert set(Batch.objects.filter(campaign=campaign, parent_id=batch_id).values_list("status", flat=True)) == {
        Batch.Status.CANCELLED
    }
    assert set(Call.objects.filter(campaign=campaign).values_list("state", flat=True)) == {Call.State.SKIPPED}
    assert ledger(sandbox) == []


# --- 5. start times that pass while a batch waits ----------------------------------------------------


def freeze_then_hand_back(campaign) -> Batch:
    """A worker froze the body, then gave the batch back unsent (no grant, window closed ...)."""
    (batch_id,) = pumping.campaign_pump(campaign_id=campaign.pk)
    token = claims.batch_claim(batch_id=batch_id)
    batch = Batch.objects.select_related("campaign__flow", "campaign__contact_list").get(pk=batch_id)
    dispatch.batch_freeze(batch=batch, token=token)
    assert claims.batch_release(batch_id=batch_id, token=token)
    return Batch.objects.get(pk=batch_id)


def as_if_frozen_yesterday(batch: Batch) -> None:
    yesterday = timezone.now().astimezone(IST) - datetime.timedelta(days=1)
    request = json.loads(bytes(batch.body))
    for call in request["calls"]:
        call["start-time"] = yesterday.replace(microsecond=0).isoformat()
    body = json.dumps(request, separators=(",", ":")).encode()
    Batch.objects.filter(pk=batch.pk).update(body=body, body_sha256="yesterday", frozen_at=yesterday)


def test_a_body_frozen_yesterday_and_never_sent_is_rebuilt_before_its_first_send(sandbox):
    # given a batch frozen yesterday, its start-times yesterday's, and never sent
    campaign = running_campaign(make_flow(), 4)
    as_if_frozen_yesterday(freeze_then_hand_back(campaign))

    # when it is sent today
    outcomes = drain(campaign)

    # then its body was built again (the provider refuses a past date): placed at once, not split
    assert outcomes == ["placed"]
    today = timezone.now().astimezone(IST).date()
    batch = Batch.objects.get(campaign=campaign)
    assert batch.body_sha256 != "yesterday" and batch.frozen_at.astimezone(IST).date() == today
    assert {datetime.datetime.fromisoformat(e["start-time"]).date() for e in ledger(sandbox)} == {today}


def test_a_body_that_may_have_been_delivered_is_resent_byte_for_byte_after_its_date(sandbox):
    # given a batch whose send went unanswered, frozen (as it were) yesterday
    campaign = running_campaign(make_flow(), 4)
    set_faults(sandbox, slow=1.0, slow_seconds=2)
    assert drain(campaign, rounds=1) == ["uncertain"]
    batch = Batch.objects.get(campaign=campaign)
    Batch.objects.filter(pk=batch.pk).update(frozen_at=batch.frozen_at - datetime.timedelta(days=1))

    # when it is sent again
    set_faults(sandbox)
    outcomes = drain(campaign)

    # then the very same bytes went: the provider recognised them
    assert outcomes == ["accepted_unknown"]
    assert Batch.objects.get(pk=batch.pk).body_sha256 == batch.body_sha256
    assert len(ledger(sandbox)) == 4


def test_a_body_frozen_earlier_today_and_handed_back_unsent_is_built_again_before_it_goes(sandbox):
    campaign = running_campaign(make_flow(), 2)
    frozen = freeze_then_hand_back(campaign)

    assert drain(campaign) == ["placed"]

    # built again (the lists and the cap asked again: issue 25), then sent once
    assert Batch.objects.get(pk=frozen.pk).frozen_at > frozen.frozen_at
    assert len(ledger(sandbox)) == 2


# --- 8. the allow-list (401) -------------------------------------------------------------------------


def test_the_pause_reason_for_401_names_the_allow_list_note_which_exists(sandbox):
    flow = make_flow()
    requests.post(
        f"{sandbox.base_url}/_sandbox/flows",
        json={"flow-id": flow.flow_id, "security-id": flow.security_id, "allowed_ips": ["10.9.8.7"]}, timeout=5,
    )
    campaign = running_campaign(flow, 3)

    assert drain(campaign) == ["held"]

    assert "401 IP Not Whitelisted" in campaign.status_reason
    assert "docs/operations.md, “The provider's IP allow-list”" in campaign.status_reason
    assert "\n## The provider's IP allow-list" in OPERATIONS.read_text()
