"""Do-not-call lists and their entries, a number at a time: which lists bind an account, add, remove, find."""

import csv
import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from campaigns.importing import NumberNormaliser
from campaigns.models import DoNotCallEntry, DoNotCallList
from campaigns.reports import excel_safe
from flows.models import Account

EXPORT_COLUMNS = ["number", "source", "reason", "expires_on", "added_by", "created_at"]


class NumbersRefused(ValueError):
    """Some typed numbers are not phone numbers; `.invalid` lists them as typed."""

    def __init__(self, invalid: list[str]):
        shown = ", ".join(f'"{value}"' for value in invalid[:5]) + (" …" if len(invalid) > 5 else "")
        super().__init__(
            f"Not valid phone numbers: {shown}. Write each with its country code, e.g. 919812345678; "
            "nothing was changed."
        )
        self.invalid = invalid


def dnc_today() -> datetime.date:
    """Expiry dates are days in the provider's zone."""
    return timezone.now().astimezone(ZoneInfo(settings.PHONON_TIMEZONE)).date()


def own_list_name(account: Account) -> str:
    return f"{account.name} opt-outs"


def dnc_own_list(*, account: Account) -> DoNotCallList:
    """The account's own list, created the first time it is needed."""
    dnc_list = DoNotCallList.objects.filter(account=account).first()
    if dnc_list is None:
        with transaction.atomic():
            dnc_list, _ = DoNotCallList.objects.get_or_create(
                account=account, defaults={"name": own_list_name(account)}
            )
    return dnc_list


def dnc_lists_binding(*, account_id: int):
    """The lists whose numbers this account may not call: its own, and the global lists attached to it."""
    return DoNotCallList.objects.filter(Q(account_id=account_id) | Q(attached_accounts__id=account_id)).distinct()


def number_keys(raw_numbers, normalise=None) -> tuple[list[int], list[str]]:
    """(keys of the valid numbers, in order and without repeats; the values that are not numbers)."""
    normalise = normalise or NumberNormaliser(settings.PHONON_DEFAULT_REGION)
    keys, invalid = {}, []
    for raw in raw_numbers:
        value = raw.strip()
        if not value:
            continue
        number = normalise(value)
        if number is None:
            invalid.append(value)
        else:
            keys[int(number)] = None
    return list(keys), invalid


def dnc_entries_add(
    *, dnc_list: DoNotCallList, numbers: list[str], reason: str = "", expires_on: datetime.date | None = None,
    source: str = DoNotCallEntry.Source.MANAGER, added_by=None,
) -> int:
    """Put typed numbers on the list (all or none: NumbersRefused names the bad ones). A number
    already listed keeps its entry. Returns how many were added."""
    keys, invalid = number_keys(numbers)
    if invalid:
        raise NumbersRefused(invalid)
    return _entries_add(dnc_list, keys, reason=reason, expires_on=expires_on, source=source, added_by=added_by)


@dataclass
class NumbersAdded:
    added: int  # newly listed
    listed: int  # valid, but on the list already
    invalid: list[str]  # as typed: not phone numbers, not added


def dnc_entries_add_valid(
    *, dnc_list: DoNotCallList, numbers: list[str], reason: str = "", expires_on: datetime.date | None = None,
    source: str = DoNotCallEntry.Source.MANAGER, added_by=None,
) -> NumbersAdded:
    """Put the valid typed numbers on the list and say which were not numbers: one typo in a pasted
    column does not keep the other opt-outs off the list."""
    keys, invalid = number_keys(numbers)
    added = _entries_add(dnc_list, keys, reason=reason, expires_on=expires_on, source=source, added_by=added_by)
    return NumbersAdded(added=added, listed=len(keys) - added, invalid=invalid)


def _entries_add(dnc_list, keys, *, reason, expires_on, source, added_by) -> int:
    if not keys:
        return 0
    with transaction.atomic():
        # Every change of a list's entries holds its row lock (a bulk load relies on it).
        DoNotCallList.objects.select_for_update().filter(pk=dnc_list.pk).first()
        listed = set(
            DoNotCallEntry.objects.filter(dnc_list=dnc_list, number__in=keys).values_list("number", flat=True)
        )
        DoNotCallEntry.objects.bulk_create(
            [
                DoNotCallEntry(
                    dnc_list=dnc_list, number=key, source=source, reason=reason[:200], expires_on=expires_on,
                    added_by=added_by,
                )
                for key in keys
                if key not in listed
            ],
            ignore_conflicts=True,
        )
    return len(keys) - len(listed)


def dnc_entries_remove(*, dnc_list: DoNotCallList, numbers: list[str]) -> int:
    """Take typed numbers off the list (all or none, as for adding). Returns how many were listed."""
    keys, invalid = number_keys(numbers)
    if invalid:
        raise NumbersRefused(invalid)
    with transaction.atomic():
        DoNotCallList.objects.select_for_update().filter(pk=dnc_list.pk).first()
        deleted, _ = DoNotCallEntry.objects.filter(dnc_list=dnc_list, number__in=keys).delete()
    return deleted


def dnc_entries_find(*, lists, number: str) -> list[DoNotCallEntry]:
    """The entries of these lists for one typed number (empty if it is not a number or not listed)."""
    keys, _ = number_keys([number])
    if not keys:
        return []
    return list(
        DoNotCallEntry.objects.filter(dnc_list__in=lists, number=keys[0]).select_related("dnc_list", "added_by")
    )


def dnc_list_export_csv(dnc_list: DoNotCallList, out) -> int:
    """Every entry of the list as CSV rows (in number order, read in chunks); returns the count."""
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    rows = (
        DoNotCallEntry.objects.filter(dnc_list=dnc_list)
        .order_by("number")
        .values_list("number", "source", "reason", "expires_on", "added_by__username", "created_at")
    )
    count = 0
    for number, source, reason, expires_on, added_by, created_at in rows.iterator(chunk_size=10_000):
        writer.writerow(
            [number, source, excel_safe(reason), expires_on or "", excel_safe(added_by or ""), created_at.isoformat()]
        )
        count += 1
    return count


def dnc_list_choose(*, client_id: str | None = None, name: str | None = None) -> DoNotCallList:
    """The list a command means: an account's own (by its client ID; created if it has none yet) or
    a global list by its name. Raises ValueError with a sentence when there is none."""
    if client_id:
        account = Account.objects.filter(client_id=client_id).first()
        if account is None:
            raise ValueError(f'No account has the client ID "{client_id}".')
        return dnc_own_list(account=account)
    dnc_list = DoNotCallList.objects.filter(account__isnull=True, name=name).first()
    if dnc_list is None:
        # Never created on the fly: a misspelt name would load a registry that blocks nobody.
        raise ValueError(
            f'No global do-not-call list is named "{name}"; create it in admin (Do-not-call lists) '
            "and attach its accounts first."
        )
    return dnc_list


def dnc_list_delete(*, dnc_list: DoNotCallList) -> int:
    """Delete a list and its entries (one statement, however many). Returns the entries deleted."""
    with transaction.atomic():
        DoNotCallList.objects.select_for_update().filter(pk=dnc_list.pk).first()
        # Nothing points at an entry and no signal listens: Django deletes them in one statement.
        deleted, _ = DoNotCallEntry.objects.filter(dnc_list=dnc_list).delete()
        dnc_list.delete()
    return deleted
