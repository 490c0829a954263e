"""Which accounts a staff user sees in admin, as in the pages (campaigns/access.py).

Superusers and users with the permission campaigns.manage_all_accounts see every account; anyone else
sees only the accounts they manage (Account.managers), whatever model permissions they hold: a manager
of A who may view campaigns sees A's campaigns, never B's. `AccountScopedAdmin` narrows an admin's
lists, pages, choices of account and flow, and filters by account accordingly.
"""

from django.contrib import admin
from django.db.models import Q, QuerySet

from flows.models import Account, Flow

SEE_ALL_PERMISSION = "campaigns.manage_all_accounts"


def sees_all_accounts(user) -> bool:
    return bool(user.is_active and (user.is_superuser or user.has_perm(SEE_ALL_PERMISSION)))


def managed_accounts(user) -> QuerySet[Account]:
    if not user.is_authenticated or not user.is_active:
        return Account.objects.none()
    if sees_all_accounts(user):
        return Account.objects.all()
    return Account.objects.filter(managers=user)


class AccountScopedAdmin:
    """A mixin for a ModelAdmin (put it first). `account_path` is the lookup from the model to its
    account ("account", "flow__account", ...; "pk" for Account itself; a tuple: any of them);
    `shared_when_empty` shows rows without an account (a global list) to everyone who may view the model."""

    account_path = "account"
    shared_when_empty = False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if sees_all_accounts(request.user):
            return queryset
        paths = (self.account_path,) if isinstance(self.account_path, str) else self.account_path
        accounts = managed_accounts(request.user)
        mine = Q()
        for path in paths:
            mine |= Q(**{f"{path}__in": accounts})
            if self.shared_when_empty:
                mine |= Q(**{f"{path}__isnull": True})
        return queryset.filter(mine)

    def _scoped_choices(self, db_field, request, kwargs):
        if sees_all_accounts(request.user):
            return kwargs
        if db_field.related_model is Account:
            kwargs["queryset"] = managed_accounts(request.user)
        elif db_field.related_model is Flow:
            kwargs["queryset"] = Flow.objects.filter(account__in=managed_accounts(request.user))
        return kwargs

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return super().formfield_for_foreignkey(db_field, request, **self._scoped_choices(db_field, request, kwargs))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return super().formfield_for_manytomany(db_field, request, **self._scoped_choices(db_field, request, kwargs))


def only_related(field_path: str):
    """A list filter offering only the values found in the (scoped) rows: other accounts' names stay unseen."""
    return (field_path, admin.RelatedOnlyFieldListFilter)
