"""Django admin: masked secrets, useful lists, campaign actions through dialer.campaign_actions, read-only
batches and calls. The admin user is `root` (staff, superuser)."""

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.apps import apps
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, DoNotCallEntry, DoNotCallList, RejectedRow
from dialer import campaign_actions
from dialer.admin import body_for_display
from dialer.campaign_actions import campaign_requeue_failed
from dialer.models import Batch, BatchAttempt, Call
from dialer.planning import campaign_plan
from dialer.tallies import calls_recount
from flows.models import DID, Account, Flow
from tests.factories import make_contact_list

pytestmark = pytest.mark.django_db

SECRET = "sec-abcdef-123456-WXYZ"


@pytest.fixture
def root(client):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return user


@pytest.fixture
def flow():
    account = Account.objects.create(name="Acme", client_id="C129113")
    flow = Flow.objects.create(account=account, flow_id="ZH0RKJvh", name="Reminders", security_id=SECRET)
    DID.objects.create(flow=flow, number="918045678901")
    return flow


def _form_data(flow, **changes):
    data = {
        "account": flow.account_id, "flow_id": flow.flow_id, "name": flow.name, "kind": flow.kind,
        "mode": flow.mode, "api_version": flow.api_version, "security_id": "", "encryption_profile":
        flow.encryption_profile, "public_key_pem": flow.public_key_pem, "intake_address": "", "allowed_senders": "",
        "dids-TOTAL_FORMS": "0", "dids-INITIAL_FORMS": "0", "dids-MIN_NUM_FORMS": "0", "dids-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


def _public_key_pem(bits=2048):
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


# --- Flows: the masked security-id ---------------------------------------------------------------


def test_flow_change_page_never_contains_the_security_id(client, root, flow):
    page = client.get(reverse("admin:flows_flow_change", args=[flow.pk])).content.decode()

    assert SECRET not in page
    assert "••••WXYZ" in page
    assert "Leave blank to keep the current one" in page


def test_flow_list_shows_the_security_id_masked(client, root, flow):
    page = client.get(reverse("admin:flows_flow_changelist")).content.decode()

    assert SECRET not in page and "••••WXYZ" in page


def test_saving_a_flow_with_the_field_left_blank_keeps_the_security_id(client, root, flow):
    response = client.post(reverse("admin:flows_flow_change", args=[flow.pk]), _form_data(flow, name="Renamed"))

    assert response.status_code == 302
    flow.refresh_from_db()
    assert flow.name == "Renamed" and flow.security_id == SECRET


def test_typing_a_new_security_id_replaces_it(client, root, flow):
    response = client.post(
        reverse("admin:flows_flow_change", args=[flow.pk]), _form_data(flow, security_id="new-secret-0001")
    )

    assert response.status_code == 302
    flow.refresh_from_db()
    assert flow.security_id == "new-secret-0001"


def test_a_form_that_fails_validation_does_not_echo_a_typed_security_id(client, root, flow):
    response = client.post(
        reverse("admin:flows_flow_change", args=[flow.pk]),
        _form_data(flow, security_id="typed-secret-7777", flow_id="bad"),
    )

    page = response.content.decode()
    assert response.status_code == 200 and "exactly 8 letters or digits" in page
    assert "typed-secret-7777" not in page and SECRET not in page


def test_a_new_flow_needs_a_security_id(client, root, flow):
    data = _form_data(flow, flow_id="NEWflow1")

    response = client.post(reverse("admin:flows_flow_add"), data)

    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert not Flow.objects.filter(flow_id="NEWflow1").exists()


def test_a_public_key_that_is_not_an_rsa_pem_is_refused(client, root, flow):
    response = client.post(
        reverse("admin:flows_flow_change", args=[flow.pk]),
        _form_data(flow, kind="dialer", encrypted="on", public_key_pem="-----BEGIN NOTHING-----"),
    )

    assert response.status_code == 200
    assert "This is not a PEM public key." in response.content.decode()


def test_an_encrypted_dialer_flow_with_a_valid_key_saves(client, root, flow):
    response = client.post(
        reverse("admin:flows_flow_change", args=[flow.pk]),
        _form_data(flow, kind="dialer", encrypted="on", public_key_pem=_public_key_pem()),
    )

    assert response.status_code == 302
    flow.refresh_from_db()
    assert flow.encrypted and flow.security_id == SECRET


def test_dids_are_edited_inline_on_the_flow(client, root, flow):
    page = client.get(reverse("admin:flows_flow_change", args=[flow.pk])).content.decode()

    assert 'name="dids-TOTAL_FORMS"' in page and "918045678901" in page


def test_account_managers_are_chosen_with_the_horizontal_filter(client, root, flow):
    page = client.get(reverse("admin:flows_account_change", args=[flow.account_id])).content.decode()

    assert "selectfilter" in page.lower()


def test_admin_actions_mark_the_listener_steps(client, root, flow):
    client.post(reverse("admin:flows_flow_changelist"), {"action": "mark_activated", "_selected_action": [flow.pk]})

    flow.refresh_from_db()
    assert flow.activated_at is not None


# --- Campaigns: actions through dialer.campaign_actions ----------------------------------------------------


@pytest.fixture
def campaign(flow):
    contact_list = make_contact_list(flow, 6)
    campaign = campaign_actions.campaign_create(
        contact_list=contact_list, name="March", window="00:00-24:00", batch_size=3
    )
    campaign_plan(campaign_id=campaign.pk)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)
    campaign.refresh_from_db()
    return campaign


def _action(client, action, campaign):
    return client.post(
        reverse("admin:campaigns_campaign_changelist"), {"action": action, "_selected_action": [campaign.pk]},
        follow=True,
    ).content.decode()


def test_campaign_actions_pause_resume_and_cancel(client, root, campaign):
    paused = _action(client, "pause", campaign)
    status_after_pause = Campaign.objects.get(pk=campaign.pk).status
    again = _action(client, "pause", campaign)
    _action(client, "resume", campaign)
    status_after_resume = Campaign.objects.get(pk=campaign.pk).status
    _action(client, "cancel", campaign)

    assert status_after_pause == "paused" and "1 campaign(s) paused." in paused
    assert "Only a running campaign can be paused; this one is paused." in again
    assert status_after_resume == "running"
    assert Campaign.objects.get(pk=campaign.pk).status == "cancelled"


def test_requeue_puts_failed_batches_back_and_keeps_their_frozen_body(campaign):
    batch = Batch.objects.get(campaign=campaign, sequence=1)
    Batch.objects.filter(pk=batch.pk).update(
        status=Batch.Status.FAILED, attempts=8, body=b'{"frozen": true}', body_sha256="abc", maybe_delivered=True,
        next_attempt_at=timezone.now(), completed_at=timezone.now(),
    )
    Call.objects.filter(batch=batch).update(state=Call.State.SKIPPED, provider_message="Failed after 8 attempts")
    calls_recount()
    Batch.objects.filter(campaign=campaign).exclude(pk=batch.pk).update(status=Batch.Status.PLACED)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.COMPLETED, finished_at=timezone.now())

    count = campaign_requeue_failed(campaign=campaign)

    batch.refresh_from_db()
    campaign.refresh_from_db()
    assert count == 1
    assert batch.status == Batch.Status.PLANNED and batch.attempts == 0 and batch.next_attempt_at is None
    assert bytes(batch.body) == b'{"frozen": true}' and batch.body_sha256 == "abc" and batch.maybe_delivered
    assert set(Call.objects.filter(batch=batch).values_list("state", flat=True)) == {Call.State.PENDING}
    assert campaign.status == Campaign.Status.RUNNING and campaign.finished_at is None
    assert "re-queued" in campaign.status_reason


def test_requeue_action_reports_each_campaign(client, root, campaign):
    Batch.objects.filter(campaign=campaign, sequence=2).update(status=Batch.Status.FAILED)

    first = _action(client, "requeue_failed_batches", campaign)
    second = _action(client, "requeue_failed_batches", campaign)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.CANCELLED)
    Batch.objects.filter(campaign=campaign, sequence=2).update(status=Batch.Status.FAILED)
    cancelled = _action(client, "requeue_failed_batches", campaign)

    assert "March: 1 failed batch(es) re-queued." in first
    assert "March: no failed batches." in second
    assert "cannot be sent again" in cancelled
    assert Batch.objects.get(campaign=campaign, sequence=2).status == Batch.Status.FAILED


def test_contact_list_shows_at_most_100_rejected_rows(client, root, flow):
    contact_list = make_contact_list(flow, 1)
    RejectedRow.objects.bulk_create(
        [RejectedRow(contact_list=contact_list, line=n, column="tel1", value="x", reason=f"reason {n}")
         for n in range(2, 152)]
    )

    page = client.get(reverse("admin:campaigns_contactlist_change", args=[contact_list.pk])).content.decode()

    assert "reason 101" in page and "reason 102" not in page


# --- Batches and calls: read-only --------------------------------------------------------------


def test_batch_page_shows_the_body_with_the_security_id_masked(client, root, campaign):
    batch = Batch.objects.get(campaign=campaign, sequence=1)
    body = {"api-version": "1.0", "security-id": SECRET, "flow-id": "ZH0RKJvh", "calls": [{"client-identifier": "T-1"}]}
    Batch.objects.filter(pk=batch.pk).update(body=json.dumps(body).encode(), response_code=202)
    BatchAttempt.objects.create(batch=batch, number=1, outcome="answered", http_status=200, response_code=202)

    page = client.get(reverse("admin:dialer_batch_change", args=[batch.pk])).content.decode()

    assert SECRET not in page
    assert "&quot;security-id&quot;: &quot;••••WXYZ&quot;" in page
    assert "202 Invalid Security ID" in page


def test_an_encrypted_envelope_is_shown_as_it_is():
    envelope = {"requestEncryptedValue": "QUJD", "requestDigitalSignatureValue": "REVG", "flow-id": "ZH0RKJvh"}

    shown = body_for_display(json.dumps(envelope).encode())

    assert json.loads(shown) == envelope


def test_calls_are_read_only_and_found_by_phonon_uuid(client, root, campaign):
    call = Call.objects.filter(campaign=campaign).first()
    Call.objects.filter(pk=call.pk).update(phonon_uuid="501c78ee-8d06-498e-8952-fce3495f326b")

    found = client.get(reverse("admin:dialer_call_changelist"), {"q": "501c78ee-8d06-498e-8952-fce3495f326b"})
    change = client.get(reverse("admin:dialer_call_change", args=[call.pk]))

    assert call.client_identifier in found.content.decode()
    assert "1 result" in found.content.decode()
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()


def test_a_call_is_found_by_its_client_identifier_through_its_key(client, root, campaign):
    calls = list(Call.objects.filter(campaign=campaign).order_by("pk")[:2])
    wanted = calls[1]

    found = client.get(reverse("admin:dialer_call_changelist"), {"q": f" {wanted.client_identifier} "})
    page = found.content.decode()

    assert wanted.client_identifier in page and calls[0].client_identifier not in page
    assert "1 result" in page
    missing = client.get(reverse("admin:dialer_call_changelist"), {"q": f"{campaign.token}-999999999999"})
    assert "0 results" in missing.content.decode()


@pytest.mark.parametrize(
    "model",
    ["flows_account", "flows_flow", "flows_did", "campaigns_contactlist", "campaigns_campaign", "dialer_call",
     "campaigns_donotcalllist", "campaigns_donotcallupload", "dialer_batch", "dialer_batchattempt"],
)
def test_every_admin_list_and_page_opens(client, root, campaign, model):
    batch = Batch.objects.filter(campaign=campaign).first()
    BatchAttempt.objects.create(batch=batch, number=1, outcome="timeout")
    assert client.get(reverse(f"admin:{model}_changelist")).status_code == 200
    app_label, model_name = model.split("_", 1)

    first = apps.get_model(app_label, model_name).objects.first()
    if first is not None:
        assert client.get(reverse(f"admin:{model}_change", args=[first.pk])).status_code == 200


def test_numbers_typed_in_admin_are_stored_as_integers_of_their_normalised_digits(client, root, flow):
    dnc_list = DoNotCallList.objects.create(name="National registry")

    response = client.post(
        reverse("admin:campaigns_donotcalllist_numbers", args=[dnc_list.pk]),
        {"do": "add", "add-numbers": "+91 98123 45678\n09812345679", "add-reason": "asked not to be called"},
    )
    page = client.get(reverse("admin:campaigns_donotcalllist_numbers", args=[dnc_list.pk]), {"number": "9812345678"})

    assert response.status_code == 302
    entries = DoNotCallEntry.objects.filter(dnc_list=dnc_list).order_by("number")
    assert [(e.number, e.reason, e.added_by) for e in entries] == [
        (919812345678, "asked not to be called", root), (919812345679, "asked not to be called", root),
    ]
    assert "asked not to be called" in page.content.decode() and "by root" in page.content.decode()
    change = client.get(reverse("admin:campaigns_donotcalllist_change", args=[dnc_list.pk]))
    assert change.status_code == 200 and "Numbers: add, remove, upload, find, export" in change.content.decode()


def test_the_dialling_cap_is_set_per_account_in_admin(client, root, flow):
    account = flow.account
    data = {"name": account.name, "client_id": account.client_id, "holder_email": "", "calls_per_number": "2",
            "cap_days": "7"}

    response = client.post(reverse("admin:flows_account_change", args=[account.pk]), data)
    listing = client.get(reverse("admin:flows_account_changelist")).content.decode()

    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.calls_per_number, account.cap_days) == (2, 7)
    assert "2 per 7 days" in listing


def test_a_typo_among_typed_numbers_changes_nothing_and_says_which(client, root, flow):
    dnc_list = DoNotCallList.objects.create(name="National registry")

    response = client.post(
        reverse("admin:campaigns_donotcalllist_numbers", args=[dnc_list.pk]),
        {"do": "add", "add-numbers": "919812345678\n98123"}, follow=True,
    )

    assert not DoNotCallEntry.objects.exists()
    assert "Not valid phone numbers: &quot;98123&quot;" in response.content.decode()


def test_deleting_a_list_deletes_its_entries_in_admin(client, root, flow):
    dnc_list = DoNotCallList.objects.create(name="Old registry")
    DoNotCallEntry.objects.bulk_create([DoNotCallEntry(dnc_list=dnc_list, number=919812345600 + i) for i in range(50)])

    response = client.post(reverse("admin:campaigns_donotcalllist_delete", args=[dnc_list.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not DoNotCallList.objects.exists() and not DoNotCallEntry.objects.exists()


def test_an_own_list_cannot_be_attached_to_other_accounts(client, root, flow):
    other = Account.objects.create(name="Other", client_id="C2")

    response = client.post(
        reverse("admin:campaigns_donotcalllist_add"),
        {"name": "Acme opt-outs", "account": flow.account_id, "attached_accounts": [other.pk], "description": "",
         "uploads-TOTAL_FORMS": "0", "uploads-INITIAL_FORMS": "0"},
    )

    assert response.status_code == 200 and not DoNotCallList.objects.exists()
    assert "binds that account only" in response.content.decode()


def test_campaign_list_shows_each_campaigns_progress(client, root, campaign):
    Call.objects.filter(campaign=campaign, batch__sequence=1).update(state=Call.State.PLACED)
    calls_recount()

    page = client.get(reverse("admin:campaigns_campaign_changelist")).content.decode()

    assert "3 / 6 (50%)" in page
