"""Least privilege in admin (issue 24, findings 7, 8 and 9), tried with real staff users through the admin's
own views: no action runs for a view-only user, the intake token and stored passwords stay hidden from
who may only view, and a manager of account A sees none of account B's rows."""

import datetime

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from api.webhooks.models import Delivery, WebhookEndpoint
from campaigns.models import Campaign
from events.models import Event
from intake.models import MailIntake, ProcessedMail, Security
from tests.factories import make_contact_list, make_flow

pytestmark = pytest.mark.django_db

TOKEN = "a1b2c3d4e5f6"
IMAP_PASSWORD = "imap-pass-9876-QRST"


def staff(client, username, *, codenames=None, manages=(), view_all=False):
    """A staff user with these permissions (every view_* one with view_all), managing these accounts."""
    user = get_user_model().objects.create_user(username, password="pw", is_staff=True)
    permissions = Permission.objects.filter(codename__startswith="view_") if view_all else Permission.objects.none()
    user.user_permissions.add(*permissions, *Permission.objects.filter(codename__in=codenames or ()))
    for account in manages:
        account.managers.add(user)
    client.force_login(user)
    return user


@pytest.fixture
def acme_flow(db):
    return make_flow(flow_id="ACMEflw1", client_id="C100", name="Acme reminders", intake_token=TOKEN)


@pytest.fixture
def globex_flow(db):
    return make_flow(flow_id="GLOBEXf1", client_id="C200", name="Globex reminders")


def campaign_of(flow, name: str) -> Campaign:
    return Campaign.objects.create(name=name, contact_list=make_contact_list(flow, 1), flow=flow, token=f"T-{name}")


@pytest.fixture
def delivery(acme_flow):
    endpoint = WebhookEndpoint.objects.create(account=acme_flow.account, url="https://hooks.acme.example/in")
    event = Event.objects.create(account=acme_flow.account, type=Event.Type.LIST_IMPORTED, occurred_at=timezone.now())
    long_ago = timezone.now() - datetime.timedelta(days=3)
    return Delivery.objects.create(
        event=event,
        endpoint=endpoint,
        status=Delivery.Status.FAILED,
        body="{}",
        attempts=7,
        next_attempt_at=long_ago,
        give_up_at=long_ago,
    )


# --- Finding 7: every action declares its permission; none runs for a view-only user --------------------


def test_every_admin_action_declares_the_permission_it_needs():
    undeclared = []
    for model, model_admin in admin.site._registry.items():
        for action in model_admin.actions or ():
            function = getattr(type(model_admin), action) if isinstance(action, str) else action
            if not getattr(function, "allowed_permissions", None):
                undeclared.append(f"{model._meta.label}.{action}")
    assert undeclared == []


def test_a_view_only_user_is_offered_no_action_on_any_admin_list(client, rf, acme_flow, delivery):
    # given a staff user who may view everything (and manages the account), and may change nothing
    viewer = staff(client, "viewer", view_all=True, manages=[acme_flow.account])

    # when each admin is asked which actions it offers that user on its list
    offered = {}
    for model, model_admin in admin.site._registry.items():
        request = rf.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
        request.user = viewer
        if actions := list(model_admin.get_actions(request)):
            offered[model._meta.label] = actions

    # then none offers any
    assert offered == {}
    # and the list of deliveries, which has a row, shows no action to choose
    page = client.get(reverse("admin:api_delivery_changelist")).content.decode()
    assert "hooks.acme.example" in page and 'name="action"' not in page


def test_a_view_only_user_cannot_send_a_webhook_delivery_again(client, acme_flow, delivery):
    staff(client, "viewer", codenames=["view_delivery"], manages=[acme_flow.account])

    client.post(reverse("admin:api_delivery_changelist"), {"action": "send_again", "_selected_action": [delivery.pk]})

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED and delivery.give_up_at < timezone.now()


def test_a_user_who_may_change_deliveries_sends_one_again(client, acme_flow, delivery):
    staff(client, "operator", codenames=["view_delivery", "change_delivery"], manages=[acme_flow.account])

    client.post(reverse("admin:api_delivery_changelist"), {"action": "send_again", "_selected_action": [delivery.pk]})

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING and delivery.give_up_at > timezone.now()


# --- Finding 8: the intake token and stored passwords -------------------------------------------------


@pytest.fixture
def mailbox(db):
    return MailIntake.objects.create(
        name="Lists",
        imap_host="imap.example.com",
        username="lists",
        password=IMAP_PASSWORD,
        smtp_host="smtp.example.com",
        smtp_password="smtp-pass-1111-LMNO",
        from_address="lists@example.com",
        imap_security=Security.TLS,
    )


@pytest.fixture
def processed(acme_flow, mailbox):
    return ProcessedMail.objects.create(
        mailbox=mailbox,
        message_key="k1",
        sender="alice@customer.example",
        flow=acme_flow,
        recipients=f"calls+ACMEflw1.{TOKEN}@example.com",
        claimed_at=timezone.now(),
        status=ProcessedMail.Status.DONE,
    )


def test_a_view_only_user_sees_the_intake_token_masked_on_the_flow_and_the_processed_mail(client, acme_flow, processed):
    staff(client, "viewer", codenames=["view_flow", "view_processedmail"], manages=[acme_flow.account])

    flow_page = client.get(reverse("admin:flows_flow_change", args=[acme_flow.pk])).content.decode()
    mail_page = client.get(reverse("admin:intake_processedmail_change", args=[processed.pk])).content.decode()

    assert TOKEN not in flow_page and TOKEN not in mail_page
    assert "calls+ACMEflw1.••••@example.com" in flow_page
    assert "calls+ACMEflw1.••••@example.com" in mail_page


def test_who_may_change_flows_sees_the_intake_address_whole(client, acme_flow, processed):
    staff(client, "editor", codenames=["view_flow", "change_flow", "view_processedmail"], manages=[acme_flow.account])

    flow_page = client.get(reverse("admin:flows_flow_change", args=[acme_flow.pk])).content.decode()
    mail_page = client.get(reverse("admin:intake_processedmail_change", args=[processed.pk])).content.decode()

    assert f"calls+ACMEflw1.{TOKEN}@example.com" in flow_page
    assert f"calls+ACMEflw1.{TOKEN}@example.com" in mail_page


def test_a_stored_password_is_shown_only_as_stored_even_on_the_change_form(client, mailbox):
    staff(client, "editor", codenames=["view_mailintake", "change_mailintake"])

    page = client.get(reverse("admin:intake_mailintake_change", args=[mailbox.pk])).content.decode()

    assert "QRST" not in page and "LMNO" not in page
    assert "Stored; leave empty to keep it." in page


# --- Finding 9: admin is scoped to the staff user's accounts ------------------------------------------------


def test_a_manager_of_one_account_sees_only_its_rows_in_admin(client, acme_flow, globex_flow):
    acme_campaign, globex_campaign = campaign_of(acme_flow, "acme-march"), campaign_of(globex_flow, "globex-march")
    staff(client, "acme-admin", view_all=True, manages=[acme_flow.account])

    campaigns = client.get(reverse("admin:campaigns_campaign_changelist")).content.decode()
    flows = client.get(reverse("admin:flows_flow_changelist")).content.decode()
    lists = client.get(reverse("admin:campaigns_contactlist_changelist")).content.decode()
    other = client.get(reverse("admin:campaigns_campaign_change", args=[globex_campaign.pk]))

    # then A's rows are listed, B's are not (not even B's name in a filter), and B's page is not found
    assert acme_campaign.name in campaigns and "globex-march" not in campaigns
    assert "Acme reminders" in flows and "Globex reminders" not in flows
    assert "Account C200" not in campaigns + flows + lists
    assert other.status_code == 302 and other["Location"] == reverse("admin:index")


def test_a_supervisor_sees_every_account_in_admin(client, acme_flow, globex_flow):
    campaign_of(acme_flow, "acme-march"), campaign_of(globex_flow, "globex-march")
    staff(client, "supervisor", codenames=["manage_all_accounts"], view_all=True)

    campaigns = client.get(reverse("admin:campaigns_campaign_changelist")).content.decode()

    assert "acme-march" in campaigns and "globex-march" in campaigns


def test_a_manager_cannot_choose_another_accounts_flow_or_account_in_a_form(client, acme_flow, globex_flow):
    staff(client, "acme-admin", codenames=["view_webhookendpoint", "add_webhookendpoint"], manages=[acme_flow.account])

    page = client.get(reverse("admin:api_webhookendpoint_add")).content.decode()
    response = client.post(
        reverse("admin:api_webhookendpoint_add"),
        {"account": globex_flow.account.pk, "url": "https://hooks.example.com/x", "events": "[]", "active": "on"},
    )

    assert "Account C100" in page and "Account C200" not in page
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()
