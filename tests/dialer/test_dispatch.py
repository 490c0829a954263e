"""Dispatch, in-process against the sandbox over real HTTP: every outcome of invariant 4."""

import datetime
import hashlib
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns.models import Campaign
from dialer import campaign_actions, campaign_states, claims, dispatch, planning, pumping, writeback
from dialer.models import Batch, BatchAttempt, Call
from dialer.tasks import dispatch_tick_task
from tests.factories import make_contact_list, make_flow

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_dispatch(settings):
    settings.PHONON_READ_TIMEOUT = 1.0
    settings.DISPATCH_GRANT_MAX_WAIT = 0.5
    settings.PHONON_REALTIME_RATE = "100000/60"
    settings.PHONON_BULK_RATE = "100000/60"


def running_campaign(flow, contacts=1200, *, first=0, **options) -> Campaign:
    contact_list = make_contact_list(flow, contacts, first=first)
    options.setdefault("window", "00:00-24:00")
    campaign = campaign_actions.campaign_create(contact_list=contact_list, **options)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SCHEDULED)
    while not planning.campaign_plan(campaign_id=campaign.pk):
        pass
    assert campaign_states.campaign_start(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


def drain(campaign, *, rounds=50):
    """What the workers do, in this process: pump, send, until nothing is due."""
    outcomes = []
    for _ in range(rounds):
        Batch.objects.filter(campaign=campaign, status__in=Batch.WAITING_STATUSES).update(next_attempt_at=None)
        queued = pumping.campaign_pump(campaign_id=campaign.pk)
        if not queued:
            break
        outcomes += [dispatch.batch_send(batch_id=batch_id) for batch_id in queued]
    campaign.refresh_from_db()
    return outcomes


def test_planning_cuts_1200_contacts_into_500_500_200_with_each_contact_once(sandbox):
    campaign = running_campaign(make_flow(), 1200)
    assert list(campaign.batches.values_list("call_count", flat=True)) == [500, 500, 200]
    calls = Call.objects.filter(campaign=campaign)
    assert calls.count() == 1200
    assert calls.values("contact").distinct().count() == 1200
    assert not calls.filter(batch__isnull=True).exists()
    assert all(cid.startswith(campaign.token + "-") for cid in calls.values_list("client_identifier", flat=True))


def test_planning_in_small_slices_gives_the_same_batches(sandbox):
    flow = make_flow()
    contact_list = make_contact_list(flow, 1234)
    campaign = campaign_actions.campaign_create(contact_list=contact_list, batch_size=100)
    slices = 0
    while not planning.campaign_plan(campaign_id=campaign.pk, slice_size=300):
        slices += 1
    assert slices >= 4
    assert list(campaign.batches.values_list("call_count", flat=True)) == [100] * 12 + [34]
    assert Call.objects.filter(campaign=campaign).count() == 1234


def test_launching_the_same_list_twice_gives_distinct_client_identifiers(sandbox):
    flow = make_flow()
    contact_list = make_contact_list(flow, 10)
    first = campaign_actions.campaign_create(contact_list=contact_list)
    second = campaign_actions.campaign_create(contact_list=contact_list)
    for campaign in (first, second):
        planning.campaign_plan(campaign_id=campaign.pk)
    first_ids = set(Call.objects.filter(campaign=first).values_list("client_identifier", flat=True))
    second_ids = set(Call.objects.filter(campaign=second).values_list("client_identifier", flat=True))
    assert len(first_ids) == len(second_ids) == 10
    assert not first_ids & second_ids


def test_success_writes_request_id_and_each_uuid_back_and_completes(sandbox):
    campaign = running_campaign(make_flow(), 1200)
    assert drain(campaign) == ["placed", "placed", "placed"]
    assert campaign.status == Campaign.Status.COMPLETED
    ledger = {e["client-identifier"]: e for e in sandbox.provider.ledger()}
    for call in Call.objects.filter(campaign=campaign).select_related("batch"):
        assert call.state == Call.State.PLACED
        assert call.phonon_uuid == ledger[call.client_identifier]["phonon-uuid"]
        assert call.batch.request_id == ledger[call.client_identifier]["request-id"]
    body = Batch.objects.filter(campaign=campaign).first()
    assert hashlib.sha256(bytes(body.body)).hexdigest() == body.body_sha256


def test_the_request_carries_numbers_keys_and_a_kolkata_start_time(sandbox):
    campaign = running_campaign(make_flow(), 1)
    drain(campaign)
    (entry,) = sandbox.provider.ledger()
    assert entry["contact-numbers"] == ["919800000000"]
    assert entry["keys"] == [{"name": "$flow.key.name", "value": "Customer 0"}]
    assert entry["start-time"].endswith("+05:30")


def test_a_lost_answer_is_resent_byte_for_byte_and_a_201_records_accepted_uuid_unknown(sandbox):
    campaign = running_campaign(make_flow(), 300)
    sandbox.provider.set_faults(slow=1.0, slow_seconds=2)
    assert drain(campaign, rounds=1) == ["uncertain"]
    batch = Batch.objects.get(campaign=campaign)
    first_digest = batch.body_sha256
    sandbox.provider.set_faults(None)
    assert drain(campaign) == ["accepted_unknown"]
    batch.refresh_from_db()
    assert batch.body_sha256 == first_digest
    assert batch.attempts == 2
    assert Call.objects.filter(campaign=campaign, state=Call.State.ACCEPTED_UNKNOWN).count() == 300
    assert len(sandbox.provider.ledger()) == 300  # dialled once
    assert campaign.status == Campaign.Status.COMPLETED


def test_it_pauses_campaign_on_invalid_security_id_and_rebuilds_on_resume(sandbox):
    flow = make_flow(security_id="wrong-one")
    sandbox.provider.register_flow(flow.flow_id, "right-one")
    campaign = running_campaign(flow, 10)
    assert drain(campaign) == ["held"]
    assert campaign.status == Campaign.Status.PAUSED
    assert "202 Invalid Security ID" in campaign.status_reason
    assert Call.objects.filter(campaign=campaign, state=Call.State.PENDING).count() == 10

    flow.security_id = "right-one"
    flow.save()
    campaign_actions.campaign_resume(campaign=campaign)
    assert drain(campaign) == ["placed"]
    assert campaign.status == Campaign.Status.COMPLETED


@pytest.mark.parametrize("code", [203, 204, 207, 208, 211, 212, 301, 304, 401])
def test_every_permanent_flow_error_pauses_with_the_code_in_words(sandbox, code):
    campaign = running_campaign(make_flow(), 5)
    sandbox.provider.set_faults(force_code=code)
    drain(campaign)
    assert campaign.status == Campaign.Status.PAUSED
    assert campaign.status_reason.startswith(f"The provider answered {code} ")


@pytest.mark.parametrize("code", [302, 303, 213])
def test_a_rejected_request_records_the_code_on_each_call(sandbox, code):
    campaign = running_campaign(make_flow(), 5)
    sandbox.provider.set_faults(force_code=code)
    assert drain(campaign) == ["rejected"]
    assert set(Call.objects.filter(campaign=campaign).values_list("state", "provider_code")) == {
        (Call.State.REJECTED, code)
    }
    assert campaign.status == Campaign.Status.COMPLETED


@pytest.mark.parametrize("code", [205, 210, 400, 402])
def test_a_request_refused_whole_every_time_ends_with_each_call_rejected_alone(sandbox, code):
    campaign = running_campaign(make_flow(), 5)
    sandbox.provider.set_faults(force_code=code)
    outcomes = drain(campaign)
    assert sorted(outcomes) == ["rejected"] * 5 + ["split"] * 4  # 5 -> 2 + 3 -> 1 + 1 + 1 + 2 -> ...
    assert set(Call.objects.filter(campaign=campaign).values_list("state", "provider_code")) == {
        (Call.State.REJECTED, code)
    }
    assert set(Call.objects.filter(campaign=campaign).values_list("batch__call_count", flat=True)) == {1}
    assert campaign.status == Campaign.Status.COMPLETED


def test_partial_success_marks_the_missing_calls_not_placed(sandbox):
    campaign = running_campaign(make_flow(), 3)
    bad = Call.objects.filter(campaign=campaign).order_by("id").first()
    bad.contact.numbers = ["12"]  # the sandbox drops a call with an invalid number
    bad.contact.save()
    assert drain(campaign) == ["partial"]
    bad.refresh_from_db()
    assert bad.state == Call.State.REJECTED and bad.provider_code == 209
    assert Call.objects.filter(campaign=campaign, state=Call.State.PLACED).count() == 2


def test_transient_errors_retry_with_the_same_bytes_then_fail_visibly(sandbox, settings):
    settings.DISPATCH_MAX_ATTEMPTS = 3
    campaign = running_campaign(make_flow(), 5)
    sandbox.provider.set_faults(error_500=1.0)
    assert drain(campaign) == ["retry_wait", "retry_wait", "failed"]
    batch = Batch.objects.get(campaign=campaign)
    assert batch.status == Batch.Status.FAILED
    assert "Failed after 3 attempts" in batch.response_message
    assert BatchAttempt.objects.filter(batch=batch).count() == 3
    assert set(Call.objects.filter(campaign=campaign).values_list("state", flat=True)) == {Call.State.SKIPPED}


def test_http_429_and_resets_are_retried(sandbox):
    campaign = running_campaign(make_flow(), 5, batch_size=1)
    sandbox.provider.set_faults(http_429=0.5, reset=0.5, seed=3)
    drain(campaign, rounds=1)
    assert set(Batch.objects.filter(campaign=campaign).values_list("status", flat=True)) <= {
        Batch.Status.RETRY_WAIT,
        Batch.Status.UNCERTAIN,
    }
    sandbox.provider.set_faults(None)
    drain(campaign)
    assert campaign.status == Campaign.Status.COMPLETED
    numbers = [e["contact-numbers"][0] for e in sandbox.provider.ledger()]
    assert len(numbers) == len(set(numbers)) == 5


def test_backoff_is_exponential_capped_and_jittered(settings):
    settings.DISPATCH_BACKOFF_BASE = 2
    settings.DISPATCH_BACKOFF_CAP = 60
    assert 1 <= writeback.backoff_seconds(1) <= 2
    assert 4 <= writeback.backoff_seconds(3) <= 8
    assert 30 <= writeback.backoff_seconds(20) <= 60


def test_a_pause_after_the_claim_stops_the_request_before_it_leaves(sandbox):
    campaign = running_campaign(make_flow(), 5)
    (batch_id,) = pumping.campaign_pump(campaign_id=campaign.pk)
    campaign_actions.campaign_pause(campaign=campaign)
    assert dispatch.batch_send(batch_id=batch_id) == "not-running"
    assert sandbox.provider.ledger() == []
    assert Batch.objects.get(pk=batch_id).status == Batch.Status.PLANNED


def test_cancel_skips_every_unsent_call_and_nothing_more_is_sent(sandbox):
    campaign = running_campaign(make_flow(), 1200)
    first, *_ = pumping.campaign_pump(campaign_id=campaign.pk)
    dispatch.batch_send(batch_id=first)
    campaign_actions.campaign_cancel(campaign=campaign)
    assert drain(campaign) == []
    assert campaign.status == Campaign.Status.CANCELLED
    states = dict(
        Call.objects.filter(campaign=campaign)
        .values_list("state")
        .annotate(n=__import__("django").db.models.Count("id"))
    )
    assert states == {Call.State.PLACED: 500, Call.State.SKIPPED: 700}
    assert len(sandbox.provider.ledger()) == 500


def test_nothing_is_sent_outside_the_calling_window(sandbox):
    now = timezone.localtime(timezone.now(), timezone=datetime.timezone(datetime.timedelta(hours=5, minutes=30)))
    closed = f"{(now + datetime.timedelta(hours=2)):%H}:00-{(now + datetime.timedelta(hours=3)):%H}:00"
    campaign = running_campaign(make_flow(), 5, window=closed)
    assert drain(campaign) == []
    assert sandbox.provider.ledger() == []


def test_a_future_start_time_keeps_the_campaign_scheduled(sandbox):
    flow = make_flow()
    contact_list = make_contact_list(flow, 5)
    campaign = campaign_actions.campaign_create(
        contact_list=contact_list, window="00:00-24:00", start_at=timezone.now() + datetime.timedelta(hours=1)
    )
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SCHEDULED)
    planning.campaign_plan(campaign_id=campaign.pk)
    dispatch_tick_task()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED
    Campaign.objects.filter(pk=campaign.pk).update(start_at=timezone.now() - datetime.timedelta(seconds=1))
    dispatch_tick_task()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING


def test_the_circuit_breaker_pauses_a_campaign_whose_requests_keep_failing(sandbox, settings):
    settings.BREAKER_WINDOW = 4
    settings.BREAKER_FAILURE_RATIO = 0.75
    campaign = running_campaign(make_flow(), 10, batch_size=1)
    sandbox.provider.set_faults(error_500=1.0)
    drain(campaign, rounds=1)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    assert "Paused automatically" in campaign.status_reason


def test_an_expired_lease_lets_another_worker_take_the_batch(sandbox):
    campaign = running_campaign(make_flow(), 5)
    (batch_id,) = pumping.campaign_pump(campaign_id=campaign.pk)
    assert claims.batch_claim(batch_id=batch_id) is not None  # a worker claims it, then dies
    assert claims.batch_claim(batch_id=batch_id) is None
    Batch.objects.filter(pk=batch_id).update(lease_until=timezone.now() - datetime.timedelta(seconds=1))
    assert pumping.stale_batches() == [batch_id]
    assert dispatch.batch_send(batch_id=batch_id) == "placed"


def test_transitions_outside_the_state_machine_are_refused(sandbox):
    campaign = running_campaign(make_flow(), 5)
    with pytest.raises(campaign_actions.ActionRefused):
        campaign_actions.campaign_resume(campaign=campaign)
    campaign_actions.campaign_pause(campaign=campaign)
    with pytest.raises(campaign_actions.ActionRefused):
        campaign_actions.campaign_pause(campaign=campaign)
    campaign_actions.campaign_cancel(campaign=campaign)
    for action in (campaign_actions.campaign_resume, campaign_actions.campaign_cancel, campaign_actions.campaign_pause):
        with pytest.raises(campaign_actions.ActionRefused):
            action(campaign=campaign)


@pytest.mark.parametrize("profile", ["oaep-gcm", "pkcs1-cbc", "pkcs1-ecb"])
def test_an_encrypted_flow_sends_the_envelope_and_is_placed(sandbox, profile):
    flow = make_flow(
        kind="dialer", encrypted=True, encryption_profile=profile, public_key_pem=sandbox.provider.public_key_pem()
    )
    campaign = running_campaign(flow, 20)
    assert drain(campaign) == ["placed"]
    body = bytes(Batch.objects.get(campaign=campaign).body)
    assert b"requestEncryptedValue" in body and b"security-id" not in body
    assert Call.objects.filter(campaign=campaign, state=Call.State.PLACED).count() == 20


def test_an_rsa_key_under_2048_bits_is_refused_when_the_flow_is_saved():
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    pem = small.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(ValidationError, match="1024 bits"):
        make_flow(kind="dialer", encrypted=True, public_key_pem=pem)


def test_an_attempt_whose_request_never_left_is_taken_back_with_the_batch(sandbox, settings):
    # given a limit of 500 calls a minute on a fresh account, and a first batch of 500 that used it
    settings.PHONON_REALTIME_RATE = "500/60"
    campaign = running_campaign(make_flow(client_id=f"never-left-{time.monotonic_ns()}"), 1000)
    first, second = pumping.campaign_pump(campaign_id=campaign.pk)
    assert dispatch.batch_send(batch_id=first) == "placed"

    # when the second is claimed, frozen and its attempt recorded, but no grant comes in time
    assert dispatch.batch_send(batch_id=second) == "rate-limited"

    # then it goes back as never sent: no attempt counted, not possibly delivered, its body kept
    batch = Batch.objects.get(pk=second)
    assert (batch.status, batch.attempts, batch.maybe_delivered) == (Batch.Status.PLANNED, 0, False)
    assert batch.body is not None and batch.next_attempt_at is not None
    assert len(sandbox.provider.ledger()) == 500
    assert Batch.objects.get(pk=first).attempts == 1


def test_a_worker_refused_for_the_share_sends_a_batch_of_the_campaign_whose_turn_it_is(sandbox):
    # given a low and a high campaign of one account, both asking, and the low one's first batch sent
    flow = make_flow(client_id=f"turns-{time.monotonic_ns()}")
    low = running_campaign(flow, 1000, priority="low")
    high = running_campaign(flow, 1000, first=10_000, priority="high")
    low_first, low_second = pumping.campaign_pump(campaign_id=low.pk)
    high_first, _ = pumping.campaign_pump(campaign_id=high.pk)
    assert dispatch.batch_send(batch_id=low_first) == "placed"

    # when a worker takes the low one's second batch, while the high one's batches wait for a worker
    sent = dispatch.batch_dispatch_in_turn(batch_id=low_second)

    # then it hands that batch back and sends the high one's first instead, at once
    assert [(each.outcome, each.campaign_id) for each in sent] == [("waiting-for-share", low.pk), ("placed", high.pk)]
    assert sent[0].turn_of == str(high.pk)
    assert Batch.objects.get(pk=low_second).status == Batch.Status.PLANNED
    assert Batch.objects.get(pk=high_first).status == Batch.Status.PLACED
    assert len(sandbox.provider.ledger()) == 1000
