"""Which lists and campaigns the main tables and pickers show: not archived, not test calls."""

from django.db.models import Q

from campaigns.models import ContactList


def contact_lists_in_use(contact_lists):
    """Lists for attention and pickers: not archived, not a test call's one-number list."""
    return contact_lists.filter(archived_at__isnull=True).exclude(source=ContactList.Source.TEST_CALL)


def campaigns_in_use(campaigns):
    """Campaigns for the main tables: test calls are listed apart."""
    return campaigns.filter(~Q(contact_list__source=ContactList.Source.TEST_CALL))
