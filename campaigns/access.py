"""Which accounts a user may see and act on in the pages.

Superusers and users with the permission campaigns.manage_all_accounts see every account (being
staff is not enough: staff may be admins of something else); a campaign manager sees only the
accounts they are assigned to (Account.managers). Anything outside those is answered with 404,
never 403, so that a manager cannot even learn that another account's object exists.
"""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from campaigns.models import Campaign, ContactList
from flows.account_scope import managed_accounts, sees_all_accounts
from flows.models import Account, Flow


def sees_all(user) -> bool:
    return sees_all_accounts(user)


def accounts_for(user) -> QuerySet[Account]:
    return managed_accounts(user)  # the same accounts admin shows (flows/account_scope.py)


def _narrowed(queryset: QuerySet, user, account_path: str) -> QuerySet:
    """The queryset narrowed to the user's accounts. Whoever sees every account gets it whole: every
    row has an account, and a filter on all of them only cost each query a join and a subquery."""
    if sees_all(user):
        return queryset
    return queryset.filter(**{f"{account_path}__in": accounts_for(user)})


def flows_for(user) -> QuerySet[Flow]:
    return _narrowed(Flow.objects.select_related("account"), user, "account")


def contact_lists_for(user) -> QuerySet[ContactList]:
    return _narrowed(ContactList.objects.select_related("flow__account"), user, "flow__account")


def campaigns_for(user) -> QuerySet[Campaign]:
    return _narrowed(Campaign.objects.select_related("flow__account", "contact_list"), user, "flow__account")


def can_act_on(user, account: Account) -> bool:
    return accounts_for(user).filter(pk=account.pk).exists()


def flow_or_404(user, pk) -> Flow:
    return get_object_or_404(flows_for(user), pk=pk)


def contact_list_or_404(user, pk) -> ContactList:
    return get_object_or_404(contact_lists_for(user), pk=pk)


def campaign_or_404(user, pk) -> Campaign:
    return get_object_or_404(campaigns_for(user), pk=pk)
