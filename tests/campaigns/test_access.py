"""Which accounts a user may see and act on: alice and bob manage Acme, charlie manages Globex."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Permission
from django.http import Http404

from campaigns import access
from dialer import campaign_actions
from flows.models import Account, Flow
from tests.factories import make_contact_list

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    User = get_user_model()
    acme = Account.objects.create(name="Acme", client_id="C1")
    globex = Account.objects.create(name="Globex", client_id="C2")
    users = {
        "alice": User.objects.create_user("alice"), "bob": User.objects.create_user("bob"),
        "charlie": User.objects.create_user("charlie"), "staff": User.objects.create_user("staff", is_staff=True),
        "inactive": User.objects.create_user("inactive", is_active=False, is_staff=True),
    }
    acme.managers.add(users["alice"], users["bob"], users["inactive"])
    globex.managers.add(users["charlie"])
    acme_flow = Flow.objects.create(account=acme, flow_id="ACMEflw1", security_id="s1")
    globex_flow = Flow.objects.create(account=globex, flow_id="GLBXflw1", security_id="s2")
    acme_list = make_contact_list(acme_flow, 2)
    globex_list = make_contact_list(globex_flow, 2, first=10)
    return {
        **users, "acme": acme, "globex": globex, "acme_flow": acme_flow, "globex_flow": globex_flow,
        "acme_list": acme_list, "globex_list": globex_list,
        "acme_campaign": campaign_actions.campaign_create(contact_list=acme_list),
        "globex_campaign": campaign_actions.campaign_create(contact_list=globex_list),
    }


def test_a_manager_sees_only_the_accounts_they_are_assigned_to(world):
    assert list(access.accounts_for(world["alice"])) == [world["acme"]]
    assert list(access.flows_for(world["alice"])) == [world["acme_flow"]]
    assert list(access.contact_lists_for(world["alice"])) == [world["acme_list"]]
    assert list(access.campaigns_for(world["alice"])) == [world["acme_campaign"]]


def test_bob_shares_alices_account(world):
    assert access.can_act_on(world["bob"], world["acme"])
    assert access.campaign_or_404(world["bob"], world["acme_campaign"].pk) == world["acme_campaign"]


def test_charlie_gets_404_for_alices_objects(world):
    charlie = world["charlie"]
    assert not access.can_act_on(charlie, world["acme"])
    with pytest.raises(Http404):
        access.flow_or_404(charlie, world["acme_flow"].pk)
    with pytest.raises(Http404):
        access.contact_list_or_404(charlie, world["acme_list"].pk)
    with pytest.raises(Http404):
        access.campaign_or_404(charlie, world["acme_campaign"].pk)


def test_being_staff_alone_shows_no_account(world):
    # finding 6: is_staff is for admin work; it grants nothing in the pages
    assert not access.accounts_for(world["staff"]).exists()
    with pytest.raises(Http404):
        access.campaign_or_404(world["staff"], world["globex_campaign"].pk)


def test_the_manage_all_accounts_permission_or_superuser_sees_every_account(world):
    staff = world["staff"]
    staff.user_permissions.add(Permission.objects.get(codename="manage_all_accounts"))
    staff = type(staff).objects.get(pk=staff.pk)  # permissions are cached on the instance
    root = type(staff).objects.create_superuser("root", password="x")
    for user in (staff, root):
        assert set(access.accounts_for(user)) == {world["acme"], world["globex"]}
        assert access.campaign_or_404(user, world["globex_campaign"].pk) == world["globex_campaign"]


def test_anonymous_and_inactive_users_see_nothing(world):
    assert not access.accounts_for(AnonymousUser()).exists()
    assert not access.accounts_for(world["inactive"]).exists()
    assert not access.campaigns_for(world["inactive"]).exists()


def test_a_manager_removed_from_the_account_loses_access_at_once(world):
    world["acme"].managers.remove(world["bob"])

    with pytest.raises(Http404):
        access.campaign_or_404(world["bob"], world["acme_campaign"].pk)
