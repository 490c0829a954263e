"""Files for the people who send call lists: the rejected-rows report and an empty template.

Every cell goes through excel_safe: a cell that starts with = + - @ (or a tab or carriage return)
is a formula to a spreadsheet, and a customer's variable or a provider message could carry one.
"""

import csv

from campaigns.models import Contact, ContactList

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEMPLATE_LISTS = 5
TEMPLATE_CONTACTS_PER_LIST = 50


def excel_safe(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def rejected_rows_csv(contact_list: ContactList, out) -> int:
    """Write `line,column,value,reason` for every rejected row, in file order; return the count."""
    writer = csv.writer(out)
    writer.writerow(["line", "column", "value", "reason"])
    rows = contact_list.rejected_rows.order_by("id").values_list("line", "column", "value", "reason")
    count = 0
    for line, column, value, reason in rows.iterator(chunk_size=2000):
        writer.writerow([line, excel_safe(column), excel_safe(value), excel_safe(reason)])
        count += 1
    return count


def template_csv(flow, out) -> None:
    """A header to fill in: tel1, tel2, starttime and the variables the flow's recent lists used."""
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
    writer = csv.writer(out)
    writer.writerow(["tel1", "tel2", "starttime", *(f"$flow.key.{name}" for name in names or ["name"])])
