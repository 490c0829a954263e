"""Files for the people who send call lists: the rejected-rows report and an empty template.

Every cell goes through excel_safe: a cell that starts with = + - @ (or a tab or carriage return)
is a formula to a spreadsheet, and a customer's variable or a provider message could carry one.
"""

import csv
import re

import phonenumbers
from django.conf import settings

from campaigns.importing.header import parse_header_mapped
from campaigns.importing.limits import FileRefused, Limits
from campaigns.models import Contact, ContactList

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEMPLATE_LISTS = 5
# How the import words a row whose tel1 the list already holds ("... is already in this list at line 4").
DUPLICATE_REASON = " is already in this list at line "
TEMPLATE_CONTACTS_PER_LIST = 50


def excel_safe(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


PHONE_LIKE = re.compile(r"^[+\d\s().-]+$")


def _as_written(cell: str) -> str:
    # A number such as +91 98123 45678 must upload again as written; a spreadsheet reads it as a
    # number, never as a formula. Anything else is escaped as usual.
    return cell if PHONE_LIKE.match(cell or "") else excel_safe(cell)


def rejected_rows_to_fix_csv(contact_list: ContactList, out) -> int:
    """For the manager: every rejected row to fix as it was written, under the file's header, with the
    line, column and reason after it; fixed, the file uploads again as it is (the import ignores the
    rejected_* columns). Rows rejected as duplicates of a number the list holds are left out: uploaded
    again they would be imported, and those people called twice. Lists imported before rows were kept
    get the report below instead."""
    header = list(contact_list.header or [])
    if header and contact_list.rejected_rows.filter(raw__isnull=False).exists():
        return _rejected_rows_as_written(contact_list, header, out)
    return rejected_rows_csv(contact_list, out)


def duplicate_rows(contact_list: ContactList):
    """The rejected rows whose tel1 the list already holds (campaigns.importing.rows._duplicate_reject)."""
    return contact_list.rejected_rows.filter(column="tel1", reason__contains=DUPLICATE_REASON)


def rejected_rows_csv(contact_list: ContactList, out) -> int:
    """The report scripts read (API, mail replies, SFTP): `line,column,value,reason` for every rejected
    row, in file order; return the count."""
    writer = csv.writer(out)
    writer.writerow(["line", "column", "value", "reason"])
    rows = contact_list.rejected_rows.order_by("id").values_list("line", "column", "value", "reason")
    count = 0
    for line, column, value, reason in rows.iterator(chunk_size=2000):
        writer.writerow([line, excel_safe(column), excel_safe(value), excel_safe(reason)])
        count += 1
    return count


def first_variable_name(contact_list: ContactList) -> str:
    """The list's first flow variable as its file named it (usually the customer's name), read from the
    stored header as the import read it; without a header (API rows), the first contact's variable
    whose key holds "name", else any of its variables."""
    if contact_list.header:
        try:
            header = parse_header_mapped(list(contact_list.header), Limits.from_settings(),
                                         mapping=contact_list.column_map)
        except FileRefused:
            return ""
        return header.variables[0][1] if header.variables else ""
    first = Contact.objects.filter(contact_list=contact_list).order_by("id").values_list("variables", flat=True).first()
    # PostgreSQL's jsonb does not keep the keys' order: a name is looked for by its key.
    keys = list(first or {})
    return next((key for key in keys if "name" in key.lower()), keys[0] if keys else "")


def numbers_outside_country(contact_list: ContactList, region: str = "") -> int:
    """How many of the list's contacts have a tel1 outside the default region's country (+91 for IN)."""
    return contact_list.contacts.exclude(primary_number__startswith=country_code(region)).count()


def country_code(region: str = "") -> str:
    return str(phonenumbers.country_code_for_region(region or settings.PHONON_DEFAULT_REGION))


def flow_variable_names(flow) -> list[str]:
    """The variables the flow's recent lists used, in their order of first appearance."""
    names = []
    recent = ContactList.objects.filter(flow=flow, status=ContactList.Status.IMPORTED, imported_count__gt=0).order_by(
        "-created_at"
    )[:TEMPLATE_LISTS]
    for contact_list in recent:
        contacts = Contact.objects.filter(contact_list=contact_list).order_by("line")[:TEMPLATE_CONTACTS_PER_LIST]
        for variables in contacts.values_list("variables", flat=True):
            for name in variables or {}:
                if name not in names:
                    names.append(name)
    return names


def template_csv(flow, out) -> None:
    """A header to fill in: tel1, tel2, starttime and the variables the flow's recent lists used."""
    names = flow_variable_names(flow)
    writer = csv.writer(out)
    writer.writerow(["tel1", "tel2", "starttime", *(f"$flow.key.{name}" for name in names or ["name"])])


def _rejected_rows_as_written(contact_list: ContactList, header: list[str], out) -> int:
    writer = csv.writer(out)
    writer.writerow([excel_safe(cell) for cell in header] + ["rejected_line", "rejected_column", "rejected_reason"])
    to_fix = contact_list.rejected_rows.exclude(column="tel1", reason__contains=DUPLICATE_REASON)
    rows = to_fix.order_by("id").values_list("line", "column", "reason", "raw")
    count = 0
    for line, column, reason, raw in rows.iterator(chunk_size=2000):
        cells = list(raw or [])
        cells += [""] * (len(header) - len(cells))
        writer.writerow([_as_written(cell) for cell in cells] + [line, excel_safe(column), excel_safe(reason)])
        count += 1
    return count
