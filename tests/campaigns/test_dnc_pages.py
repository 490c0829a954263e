"""The do-not-call page: alice (with the permission) changes Acme's own list, bob (same account,
no permission) only reads it, charlie (Globex) never sees it; and the campaign page counts skips."""

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from campaigns.donotcall.lists import dnc_entries_add, dnc_own_list
from campaigns.donotcall.loading import dnc_upload_run
from campaigns.models import DoNotCallEntry, DoNotCallList, DoNotCallUpload
from dialer import campaign_actions
from dialer.planning import campaign_plan
from flows.models import Account, Flow
from tests.factories import make_contact_list, phone

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def acme():
    return Account.objects.create(name="Acme Lending", client_id="C129113")


@pytest.fixture
def globex():
    return Account.objects.create(name="Globex", client_id="C555001")


def _user(username, *, accounts=(), manage_dnc=False):
    user = get_user_model().objects.create_user(username, password="pw")
    for account in accounts:
        account.managers.add(user)
    if manage_dnc:
        user.user_permissions.add(Permission.objects.get(codename="manage_dnc"))
    return user


@pytest.fixture
def alice(acme):
    return _user("alice", accounts=[acme], manage_dnc=True)


@pytest.fixture
def bob(acme):
    return _user("bob", accounts=[acme])


@pytest.fixture
def charlie(globex):
    return _user("charlie", accounts=[globex], manage_dnc=True)


def own_numbers(account):
    return sorted(DoNotCallEntry.objects.filter(dnc_list__account=account).values_list("number", flat=True))


def test_a_manager_with_the_permission_adds_numbers_with_a_reason(client, alice, acme):
    client.force_login(alice)

    response = client.post(
        reverse("dnc_add", args=[acme.pk]),
        {"add-numbers": "919812345678\n+91 98123 45679", "add-reason": "asked on the phone"}, follow=True,
    )

    assert "2 numbers added" in response.content.decode()
    assert own_numbers(acme) == [919812345678, 919812345679]
    entry = DoNotCallEntry.objects.get(number=919812345678)
    assert (entry.added_by, entry.source, entry.reason) == (alice, "manager", "asked on the phone")


def test_a_typo_is_named_and_left_in_the_box_while_the_valid_numbers_are_added(client, alice, acme):
    client.force_login(alice)

    response = client.post(reverse("dnc_add", args=[acme.pk]), {"add-numbers": "919812345678\n98123\n919812345679"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "2 numbers added" in page
    assert "1 line is not a phone number and was not added (left below)" in page
    assert re.search(r"<textarea[^>]*>\s*98123</textarea>", page)
    assert own_numbers(acme) == [919812345678, 919812345679]


def test_only_typos_add_nothing_and_say_so(client, alice, acme):
    client.force_login(alice)

    response = client.post(reverse("dnc_add", args=[acme.pk]), {"add-numbers": "98123\nabc"})

    assert response.status_code == 400
    assert "2 lines are not a phone number and were not added" in response.content.decode()
    assert own_numbers(acme) == []


def test_a_manager_removes_numbers(client, alice, acme):
    dnc_entries_add(dnc_list=dnc_own_list(account=acme), numbers=["919812345678", "919812345679"])
    client.force_login(alice)

    client.post(reverse("dnc_remove", args=[acme.pk]), {"remove-numbers": "919812345678"})

    assert own_numbers(acme) == [919812345679]


def test_an_upload_is_loaded_by_a_worker_and_shows_its_progress(
    client, alice, acme, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    upload = io.BytesIO(b"number\n919812345678\n919812345679\nnope\n")
    upload.name = "optouts.csv"

    with django_capture_on_commit_callbacks() as callbacks:
        client.post(reverse("dnc_upload", args=[acme.pk]), {"upload-file": upload, "upload-action": "add"})
    pending = client.get(reverse("dnc_uploads", args=[acme.pk])).content.decode()

    assert len(callbacks) == 1 and 'hx-trigger="every 1s"' in pending and "optouts.csv" in pending
    dnc_upload_run(upload_id=DoNotCallUpload.objects.get().pk)  # what the queued task does
    done = client.get(reverse("dnc_uploads", args=[acme.pk])).content.decode()
    assert own_numbers(acme) == [919812345678, 919812345679]
    assert "every 1s" not in done and "Done" in done


def test_a_manager_without_the_permission_reads_but_cannot_change(client, bob, acme):
    dnc_entries_add(dnc_list=dnc_own_list(account=acme), numbers=["919812345678"], reason="asked")
    client.force_login(bob)

    page = client.get(reverse("dnc_account", args=[acme.pk]), {"number": "9812345678"}).content.decode()
    refused = client.post(reverse("dnc_add", args=[acme.pk]), {"add-numbers": "919812345679"})
    export = client.get(reverse("dnc_export", args=[acme.pk]))

    assert "is on <strong>Acme Lending opt-outs</strong>" in page and "asked" in page
    assert 'id="dnc-no-permission"' in page and "dnc-add-button" not in page
    assert refused.status_code == 403 and own_numbers(acme) == [919812345678]
    assert b"919812345678,manager,asked" in b"".join(export.streaming_content)


def test_another_accounts_manager_gets_404(client, charlie, acme):
    client.force_login(charlie)

    assert client.get(reverse("dnc_account", args=[acme.pk])).status_code == 404
    assert client.post(reverse("dnc_add", args=[acme.pk]), {"add-numbers": "919812345678"}).status_code == 404
    assert client.get(reverse("dnc_export", args=[acme.pk])).status_code == 404
    assert own_numbers(acme) == []


def test_the_page_names_the_global_lists_that_bind_the_account(client, alice, acme, globex):
    registry = DoNotCallList.objects.create(name="National registry", description="TRAI export, Nov 2026")
    registry.attached_accounts.add(acme)
    DoNotCallList.objects.create(name="Globex only").attached_accounts.add(globex)
    client.force_login(alice)

    page = client.get(reverse("dnc_index"), follow=True).content.decode()

    assert "National registry" in page and "Globex only" not in page
    assert "at most 1 call to one number" in page


def test_the_campaign_page_counts_the_skipped_calls_by_reason(client, alice, acme):
    flow = Flow.objects.create(account=acme, flow_id="ZH0RKJvh", security_id="s")
    dnc_entries_add(dnc_list=dnc_own_list(account=acme), numbers=[phone(0), phone(1)])
    campaign = campaign_actions.campaign_create(contact_list=make_contact_list(flow, 5))
    campaign_plan(campaign_id=campaign.pk)
    client.force_login(alice)

    page = client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()

    assert "<strong>2</strong> on the do-not-call list (Acme Lending opt-outs)" in page
    assert 'id="count-skipped">2<' in page
