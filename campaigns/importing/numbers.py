"""Numbers and start times as the provider takes them: country code and digits; ISO-8601 in a zone."""

import datetime
import re
from zoneinfo import ZoneInfo

import phonenumbers

from campaigns.importing.limits import DAY_FIRST_FORMATS

# The descriptions phonenumbers checks for a valid number, mobiles and landlines first (most lists).
NUMBER_TYPES = (
    "mobile", "fixed_line", "toll_free", "premium_rate", "shared_cost", "voip", "personal_number", "pager", "uan",
    "voicemail",
)
SEPARATORS = str.maketrans("", "", " -.")
MIN_NATIONAL_LENGTH, MAX_NATIONAL_LENGTH = 2, 17  # phonenumbers' _MIN_LENGTH_FOR_NSN, _MAX_LENGTH_FOR_NSN


class _Desc:
    """One PhoneNumberDesc, compiled once: its pattern and the lengths it allows (empty: any)."""

    def __init__(self, desc):
        pattern = desc.national_number_pattern if desc is not None else None
        self.match = re.compile(pattern).fullmatch if pattern else None
        self.lengths = frozenset(desc.possible_length) if desc is not None else frozenset()

    def matches(self, national: str) -> bool:  # phonenumbers' _is_number_matching_desc
        if self.match is None or (self.lengths and len(national) not in self.lengths):
            return False
        return self.match(national) is not None


class NumberNormaliser:
    """Phone numbers to the provider's form (country code and digits), exactly as phonenumbers says.

    phonenumbers costs about 30 µs a number. For numbers written in the default region's own country
    code (or nationally), as digits with spaces, dashes or dots and maybe a leading +, a fast path
    follows phonenumbers' own parsing steps with the region's compiled metadata: the country code,
    the national prefix, and validity against every number type (mobiles, landlines, toll-free, …).
    It only ever answers "valid, and this is the number"; anything else (other countries, invalid
    numbers, letters, extensions, unusual prefixes) goes to the library. Property tests compare the
    two on random input for several regions (tests/campaigns/test_numbers.py).
    """

    def __init__(self, region: str):
        self.region = region
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        # Only where a number in this country code cannot belong to another region first (the main
        # country for the code) and the national prefix is a plain pattern without a transform.
        self.fast = bool(
            metadata is not None
            and phonenumbers.region_code_for_country_code(metadata.country_code) == region
            and not metadata.national_prefix_transform_rule
        )
        if not self.fast:
            return
        self.cc = str(metadata.country_code)
        self.idd = re.compile(metadata.international_prefix).match if metadata.international_prefix else None
        self.prefix = (
            re.compile(metadata.national_prefix_for_parsing).match if metadata.national_prefix_for_parsing else None
        )
        self.general = _Desc(metadata.general_desc)
        self.lengths = tuple(metadata.general_desc.possible_length)
        self.local_lengths = frozenset(metadata.general_desc.possible_length_local_only)
        self.types = [_Desc(getattr(metadata, name)) for name in NUMBER_TYPES]

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
            found = self._fast(raw)
            if found is not None:
                return found
        return self.slow(raw)

    def _fast(self, raw: str) -> str | None:
        plus = raw[:1] == "+"
        digits = (raw[1:] if plus else raw).translate(SEPARATORS)
        if not digits.isdigit():
            return None
        cc = self.cc
        if plus:
            if not digits.startswith(cc):
                return None  # another country: the library knows its metadata
            national = digits[len(cc):]
        else:
            if self.idd is not None and self.idd(digits):
                return None  # an international prefix (00…): the library's business
            national = digits
            if digits.startswith(cc):
                # phonenumbers' _maybe_extract_country_code for the default country's own code
                potential = self._strip_prefix(digits[len(cc):])
                if (not self._general_pattern(digits) and self._general_pattern(potential)) or (
                    self._length(digits) == "too_long"
                ):
                    national = potential
        if len(national) < MIN_NATIONAL_LENGTH:
            return None
        stripped = self._strip_prefix(national)
        if self._length(stripped) not in ("too_short", "local_only", "invalid"):
            national = stripped
        if not MIN_NATIONAL_LENGTH <= len(national) <= MAX_NATIONAL_LENGTH or national[0] == "0":
            return None  # a leading zero is kept by phonenumbers as "italian": leave it to the library
        if self.general.matches(national) and any(desc.matches(national) for desc in self.types):
            return cc + national
        return None

    def _general_pattern(self, number: str) -> bool:  # _match_national_number(…, allow_prefix_match=False)
        return self.general.match is not None and self.general.match(number) is not None

    def _strip_prefix(self, number: str) -> str:
        """phonenumbers' _maybe_strip_national_prefix_carrier_code, without a transform rule."""
        if not number or self.prefix is None:
            return number
        found = self.prefix(number)
        if not found:
            return number
        rest = number[found.end():]
        if self._general_pattern(number) and not self._general_pattern(rest):
            return number
        return rest

    def _length(self, number: str) -> str:
        """phonenumbers' _test_number_length against the general description."""
        lengths = self.lengths
        if not lengths or lengths[0] == -1:
            return "invalid"
        size = len(number)
        if size in self.local_lengths:
            return "local_only"
        if size == lengths[0]:
            return "possible"
        if size < lengths[0]:
            return "too_short"
        if size > lengths[-1]:
            return "too_long"
        return "possible" if size in lengths[1:] else "invalid"


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
