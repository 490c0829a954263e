"""Issue 28, item 9: "Needs your attention" can be dismissed, by each manager for themselves."""

from django.urls import reverse

from campaigns.models import ContactList
from tests.factories import make_contact_list


def _rejected_list(flow):
    contact_list = make_contact_list(flow, 2, name="Rows to fix")
    ContactList.objects.filter(pk=contact_list.pk).update(rejected_count=3)
    return contact_list


def test_a_manager_dismisses_a_list_with_rejected_rows_from_needs_your_attention(client, alice, acme_flow):
    contact_list = _rejected_list(acme_flow)
    client.force_login(alice)
    before = client.get(reverse("dashboard")).content.decode()

    response = client.post(reverse("attention_dismiss_list", args=[contact_list.pk]), follow=True)

    assert "Needs your attention (1)" in before and "Rows to fix" in before
    page = response.content.decode()
    assert 'id="problems-h"' not in page
    assert "no longer shows under" in page


def test_a_dismissal_is_the_managers_own(client, alice, bob, acme_flow):
    contact_list = _rejected_list(acme_flow)
    client.force_login(alice)
    client.post(reverse("attention_dismiss_list", args=[contact_list.pk]))

    client.force_login(bob)
    page = client.get(reverse("dashboard")).content.decode()

    assert "Needs your attention (1)" in page


def test_charlie_cannot_dismiss_alices_list(client, charlie, acme_flow):
    contact_list = _rejected_list(acme_flow)
    client.force_login(charlie)

    response = client.post(reverse("attention_dismiss_list", args=[contact_list.pk]))

    assert response.status_code == 404
