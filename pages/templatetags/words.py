"""Template filters for words people read: times with their zone, counts with their noun."""

from django import template
from django.conf import settings
from django.utils.formats import number_format

from campaigns.clock import zoned_time

register = template.Library()


@register.filter
def in_zone(when, zone=""):
    """`2 Dec 2026, 14:30 Europe/London`; the site's zone when none is given."""
    return zoned_time(when, zone or settings.PHONON_TIMEZONE)


@register.filter
def in_zone_utc(when, zone=""):
    """`2 Dec 2026, 10:30 IST (05:00 UTC)`."""
    return zoned_time(when, zone or settings.PHONON_TIMEZONE, utc=True)


@register.filter
def count_of(number, nouns):
    """`1 call`, `2 calls`, `1,200 calls`: `{{ n|count_of:"call,calls" }}`."""
    singular, _, plural = nouns.partition(",")
    number = number or 0
    return f"{number_format(number, force_grouping=True)} {singular if number == 1 else plural or singular + 's'}"


@register.filter
def variable(variables, name):
    """A contact's flow variable by name ("" when it has none): `contact.variables|variable:name_key`."""
    return (variables or {}).get(name, "") if name else ""
