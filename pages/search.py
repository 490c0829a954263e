"""Finding a campaign's calls by the end of a number or by part of the contact's name."""

from django.db.models import QuerySet
from django.db.models.fields.json import KeyTextTransform


def calls_matching(calls: QuerySet, query: str, *, name_key: str) -> QuerySet:
    """Digits: calls whose tel1 ends with them. Text: calls whose contact's `name_key` variable (the
    list's first flow variable, usually the name) holds it, in any case."""
    if query.isdigit():
        return calls.filter(contact__primary_number__endswith=query)
    if not name_key:
        return calls.none()
    return calls.annotate(contact_name=KeyTextTransform(name_key, "contact__variables")).filter(
        contact_name__icontains=query
    )
