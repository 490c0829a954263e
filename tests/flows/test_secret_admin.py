"""Least privilege in admin (issue 11, findings 4 and 5), tried with a real view-only staff user:
secrets are masked on every read-only page, and actions need the permission they declare."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from campaigns.models import Campaign
from dialer.campaign_actions import campaign_cancel
from intake.models import MailIntake, Security, SftpIntake
from tests.factories import make_contact_list, make_flow

pytestmark = pytest.mark.django_db

SECURITY_ID = "sec-abcdef-123456-WXYZ"
IMAP_PASSWORD = "imap-pass-9876-QRST"
PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"


def staff_with(client, *codenames, manages=None):
    """A staff user with these model permissions, manager of the account `manages` (admin shows a
    staff user only the accounts they manage)."""
    user = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    if manages is not None:
        manages.managers.add(user)
    client.force_login(user)
    return user


@pytest.fixture
def flow(db):
    return make_flow(security_id=SECURITY_ID)


@pytest.fixture
def mailbox(db):
    return MailIntake.objects.create(
        name="Lists", imap_host="imap.example.com", username="lists", password=IMAP_PASSWORD,
        smtp_host="smtp.example.com", smtp_password="smtp-pass-1111-LMNO", from_address="lists@example.com",
        imap_security=Security.TLS,
    )


@pytest.fixture
def drop(flow):
    return SftpIntake.objects.create(
        name="Acme SFTP", account=flow.account, host="sftp.example.com", username="acme",
        password="sftp-pass-2222-HIJK", private_key=PRIVATE_KEY, private_key_passphrase="phrase-3333-DEFG",
    )


def test_a_view_only_user_sees_the_flows_security_id_masked(client, flow):
    staff_with(client, "view_flow", manages=flow.account)

    page = client.get(reverse("admin:flows_flow_change", args=[flow.pk])).content.decode()

    assert SECURITY_ID not in page
    assert "••••WXYZ" in page


def test_a_view_only_user_sees_intake_passwords_and_keys_masked(client, mailbox, drop):
    staff_with(client, "view_mailintake", "view_sftpintake", manages=drop.account)

    mail_page = client.get(reverse("admin:intake_mailintake_change", args=[mailbox.pk])).content.decode()
    sftp_page = client.get(reverse("admin:intake_sftpintake_change", args=[drop.pk])).content.decode()

    for secret in (IMAP_PASSWORD, "smtp-pass-1111-LMNO"):
        assert secret not in mail_page
    for secret in ("sftp-pass-2222-HIJK", "b3BlbnNzaC1rZXktdjEAAAAA", "phrase-3333-DEFG"):
        assert secret not in sftp_page
    # a password is shown only as stored: not even its last characters
    assert "QRST" not in mail_page and "HIJK" not in sftp_page
    assert "stored" in mail_page and "stored" in sftp_page


def test_a_view_only_user_cannot_pause_a_campaign_by_action(client, flow):
    campaign = Campaign.objects.create(
        name="March", contact_list=make_contact_list(flow, 2), flow=flow, token="T1", status=Campaign.Status.RUNNING
    )
    staff_with(client, "view_campaign", manages=flow.account)

    page = client.get(reverse("admin:campaigns_campaign_changelist")).content.decode()
    client.post(reverse("admin:campaigns_campaign_changelist"), {"action": "pause", "_selected_action": [campaign.pk]})

    assert 'value="pause"' not in page
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.RUNNING


def test_requeue_and_test_connection_need_their_own_permissions(client, flow, mailbox):
    campaign = Campaign.objects.create(
        name="March", contact_list=make_contact_list(flow, 2), flow=flow, token="T2", status=Campaign.Status.RUNNING
    )
    campaign_cancel(campaign=campaign)
    staff_with(client, "view_campaign", "change_campaign", "view_mailintake", "change_mailintake", manages=flow.account)

    campaigns = client.get(reverse("admin:campaigns_campaign_changelist")).content.decode()
    mailboxes = client.get(reverse("admin:intake_mailintake_changelist")).content.decode()

    assert 'value="pause"' in campaigns and 'value="requeue_failed_batches"' not in campaigns
    assert 'value="test_connection"' not in mailboxes

    user = get_user_model().objects.get(username="viewer")
    user.user_permissions.add(*Permission.objects.filter(
        codename__in=["requeue_batches", "test_connection_mailintake"]
    ))
    campaigns = client.get(reverse("admin:campaigns_campaign_changelist")).content.decode()
    mailboxes = client.get(reverse("admin:intake_mailintake_changelist")).content.decode()
    assert 'value="requeue_failed_batches"' in campaigns and 'value="test_connection"' in mailboxes
