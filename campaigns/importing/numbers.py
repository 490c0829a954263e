"""Numbers and start times as the provider takes them: country code and digits; ISO-8601 in a zone."""

import datetime
import re
from zoneinfo import ZoneInfo

import phonenumbers

from campaigns.importing.limits import DAY_FIRST_FORMATS


class NumberNormaliser:
    """Phone numbers to the provider's form (country code and digits), exactly as phonenumbers says.

    phonenumbers costs tens of microseconds a number. For the default region IN the common shapes
    (91 + 10 digits, or 10 digits, mobile) take a fast path built from phonenumbers' own metadata
    patterns; it answers only when the library's parse + is_valid_number would give the same
    result (tests compare both paths), and hands every other shape to the library.
    """

    def __init__(self, region: str):
        self.region = region
        self.fast = False
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if region == "IN" and metadata and metadata.mobile and metadata.national_prefix_for_parsing == "0":
            self.cc = str(metadata.country_code)
            self.general = re.compile(metadata.general_desc.national_number_pattern).fullmatch
            self.mobile = re.compile(metadata.mobile.national_number_pattern).fullmatch
            self.fast = 10 in metadata.mobile.possible_length and len(self.cc) == 2

    def slow(self, raw: str) -> str | None:
        try:
            number = phonenumbers.parse(raw, self.region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]

    def __call__(self, raw: str) -> str | None:
        if self.fast and raw.isascii():
            if raw.isdigit():
                size = len(raw)
                if size == 12 and raw.startswith(self.cc):
                    national = raw[2:]
                    if (
                        national[0] in "6789"
                        and self.mobile(national)
                        and self.general(national)
                        and not self.general(raw)
                    ):
                        return raw
                elif size == 10 and raw[0] in "6789" and self.mobile(raw) and self.general(raw):
                    return self.cc + raw
            elif raw[:1] == "+" and len(raw) == 13 and raw[1:].isdigit() and raw.startswith(self.cc, 1):
                national = raw[3:]
                if national[0] in "6789" and self.mobile(national) and self.general(national):
                    return raw[1:]
        return self.slow(raw)


def parse_start_time(raw: str, zone: ZoneInfo) -> datetime.datetime | None:
    """ISO-8601 (or the day-first dd-mm-yyyy HH:MM[:SS] spreadsheets produce); no offset means `zone`."""
    try:
        value = datetime.datetime.fromisoformat(raw)
    except ValueError:
        for pattern in DAY_FIRST_FORMATS:
            try:
                value = datetime.datetime.strptime(raw, pattern)
                break
            except ValueError:
                continue
        else:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value
