"""Issue 28, items 9 and 12: the flow page shows how lists reach the flow by mail and by folder, with
copy buttons; a new API key and webhook secret have a copy button; a webhook address is added once;
times on those pages carry their zone; the "Campaign manager" group exists with its permission."""

import html
import importlib
import re

from django.apps import apps
from django.contrib.auth.models import Group
from django.urls import reverse

from api.webhooks.models import WebhookEndpoint
from flows.services import flow_intake_address
from intake.models import MailIntake, SftpIntake


def test_the_flow_page_shows_the_mail_address_and_the_drop_folder_path_with_copy_buttons(client, alice, acme_flow):
    acme_flow.allowed_senders = "crm@acme.example"
    acme_flow.save()
    MailIntake.objects.create(
        name="Lists", imap_host="imap.example.com", username="calls", password="pw", from_address="calls@example.com"
    )
    drop = SftpIntake.objects.create(
        name="CRM export", account=acme_flow.account, mode=SftpIntake.Mode.LOCAL, base_folder="/srv/intake/acme"
    )
    client.force_login(alice)

    page = html.unescape(client.get(reverse("flow_detail", args=[acme_flow.pk])).content.decode())

    assert f'id="intake-mail" type="text" readonly value="{flow_intake_address(acme_flow)}"' in page
    assert "Only mail from crm@acme.example is read" in page
    path = f"/srv/intake/acme/Upload/C129113_{acme_flow.flow_id}.csv"
    assert f'id="intake-drop-{drop.pk}" type="text" readonly value="{path}"' in page
    assert 'data-copy="#intake-mail"' in page and f'data-copy="#intake-drop-{drop.pk}"' in page


def test_a_flow_without_intake_says_only_the_upload_page(client, alice, acme_flow):
    client.force_login(alice)

    page = client.get(reverse("flow_detail", args=[acme_flow.pk])).content.decode()

    assert "Only the upload page for now" in page


def test_a_new_api_key_and_a_webhook_secret_have_a_copy_button(client, alice, acme):
    client.force_login(alice)

    key_page = client.post(reverse("api_key_index"), {"account": acme.pk, "name": "CRM"}).content.decode()
    hook_page = client.post(reverse("webhook_index"), {"account": acme.pk, "url": "https://hooks.example.com/x"})

    assert 'data-copy="#new-key"' in key_page and '<code id="new-key"' in key_page
    assert 'data-copy="#new-secret"' in hook_page.content.decode()


def test_a_webhook_address_the_account_has_already_is_refused(client, alice, acme):
    client.force_login(alice)
    client.post(reverse("webhook_index"), {"account": acme.pk, "url": "https://hooks.example.com/x"})

    again = client.post(reverse("webhook_index"), {"account": acme.pk, "url": "https://hooks.example.com/x"})

    assert again.status_code == 400
    assert "already receives this account's events" in html.unescape(again.content.decode())
    assert WebhookEndpoint.objects.count() == 1


def test_times_on_the_key_and_webhook_pages_carry_their_zone(client, alice, acme):
    client.force_login(alice)
    client.post(reverse("api_key_index"), {"account": acme.pk, "name": "CRM"})
    client.post(reverse("webhook_index"), {"account": acme.pk, "url": "https://hooks.example.com/x"})

    keys = client.get(reverse("api_key_index")).content.decode()
    hooks = client.get(reverse("webhook_index")).content.decode()

    assert re.search(r"<td>\d{1,2} \w{3} \d{4}, \d\d:\d\d IST</td>", keys)
    assert re.search(r"<td>\d{1,2} \w{3} \d{4}, \d\d:\d\d IST</td>", hooks)


def test_migrate_creates_the_campaign_manager_group_with_the_do_not_call_permission(db):
    # Run here: a transactional test earlier in the session empties the table the migration filled.
    Group.objects.filter(name="Campaign manager").delete()
    importlib.import_module("campaigns.migrations.0012_campaign_manager_group").create_group(apps, None)

    group = Group.objects.get(name="Campaign manager")

    assert list(group.permissions.values_list("content_type__app_label", "codename")) == [("campaigns", "manage_dnc")]
