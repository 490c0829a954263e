"""Numbers and start times as the provider takes them: country code and digits; ISO-8601 in a zone."""

import datetime
import re
from functools import cache
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE, SUPPORTED_REGIONS

from campaigns.importing.limits import DAY_FIRST_FORMATS

# The descriptions phonenumbers' _number_type_helper tries after the general one, in its order.
NUMBER_TYPES = (
    "premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail",
    "fixed_line", "mobile",
)
# phonenumbers' _normalize: with three letters or more a number is a "vanity" one, letters turned into
# the keypad's digits (ITU E.161); with fewer the letters are dropped.
KEYPAD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "22233344455566677778889999")
LETTERS = str.maketrans("", "", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
DIGITS = str.maketrans("", "", "0123456789")
MIN_NATIONAL_LENGTH, MAX_NATIONAL_LENGTH = 2, 17  # phonenumbers' _MIN_LENGTH_FOR_NSN, _MAX_LENGTH_FOR_NSN
MAX_INPUT_LENGTH = 250  # phonenumbers' _MAX_INPUT_STRING_LENGTH
NON_GEOGRAPHIC = "001"
TOO_SHORT, LOCAL_ONLY, POSSIBLE, TOO_LONG, INVALID_LENGTH = range(5)  # phonenumbers' ValidationResult


class _Plan:
    """One region's metadata, compiled once, with phonenumbers' own parsing steps over plain digits."""

    def __init__(self, metadata):
        self.cc = metadata.country_code
        self.cc_text = str(metadata.country_code)
        general = metadata.general_desc
        # A prefix that never matches digits stands for "no international prefix", as in the library.
        self.idd = re.compile(metadata.international_prefix or "NonMatch").match
        self.prefix = re.compile(metadata.national_prefix_for_parsing) if metadata.national_prefix_for_parsing else None
        self.transform = metadata.national_prefix_transform_rule or None
        pattern = general.national_number_pattern
        self.general = re.compile(pattern).fullmatch if pattern else None
        self.lengths = tuple(general.possible_length)
        self.local_lengths = tuple(general.possible_length_local_only)
        self.leading = re.compile(metadata.leading_digits).match if metadata.leading_digits is not None else None
        descs = [getattr(metadata, name) for name in NUMBER_TYPES]
        if metadata.same_mobile_and_fixed_line_pattern:
            descs.pop()  # the library does not ask mobile again when its pattern is fixed-line's
        self.descs = [d for d in descs if d is not None and d.national_number_pattern]
        self.general_desc = general if general.national_number_pattern else None
        self.by_length = {}

    def is_general(self, number: str) -> bool:  # _match_national_number(number, general_desc, False)
        return self.general is not None and self.general(number) is not None

    def length(self, number: str) -> int:  # _test_number_length(number, metadata)
        size = len(number)
        if size in self.local_lengths:
            return LOCAL_ONLY
        lengths = self.lengths
        if lengths[0] == size:
            return POSSIBLE
        if lengths[0] > size:
            return TOO_SHORT
        if lengths[-1] < size:
            return TOO_LONG
        return POSSIBLE if size in lengths[1:] else INVALID_LENGTH

    def strip_prefix(self, number: str) -> str:  # _maybe_strip_national_prefix_carrier_code
        if not number or self.prefix is None:
            return number
        found = self.prefix.match(number)
        if not found:
            return number
        viable = self.is_general(number)
        if self.transform is None or found.groups()[-1] is None:
            rest = number[found.end():]
        else:
            rest = self.prefix.sub(self.transform, number, count=1)
        if viable and not self.is_general(rest):
            return number
        return rest

    def is_valid(self, national: str) -> bool:
        """_number_type_helper(national, metadata) != UNKNOWN: the general description and one type,
        each with its lengths, as one pattern per length (one call into the regex engine)."""
        size = len(national)
        match = self.by_length.get(size, False)
        if match is False:
            match = self.by_length[size] = self._compile(size)
        return match is not None and match(national) is not None

    def _compile(self, size: int):
        general = self.general_desc
        if general is None or (general.possible_length and size not in general.possible_length):
            return None
        types = [
            f"(?:{d.national_number_pattern})" for d in self.descs if not d.possible_length or size in d.possible_length
        ]
        if not types:
            return None
        return re.compile(f"(?=(?:{general.national_number_pattern})\\Z)(?:{'|'.join(types)})").fullmatch


@cache
def _plan(region: str) -> _Plan | None:
    metadata = PhoneMetadata.metadata_for_region(region, None)
    return _Plan(metadata) if metadata is not None else None


@cache
def _non_geographic_plan(cc: int) -> _Plan | None:
    metadata = PhoneMetadata.metadata_for_nongeo_region(cc, None)
    return _Plan(metadata) if metadata is not None else None


def _plan_for(cc: int, region: str) -> _Plan | None:  # PhoneMetadata.metadata_for_region_or_calling_code
    return _non_geographic_plan(cc) if region == NON_GEOGRAPHIC else _plan(region)


@cache
def _validity(cc: int):
    """is_valid_number for a number of this country code: the region it belongs to (the first whose
    leading digits match, or that finds it valid), then valid there."""
    regions = COUNTRY_CODE_TO_REGION_CODE[cc]
    if len(regions) == 1:
        plan = _plan_for(cc, regions[0])
        return plan.is_valid if plan is not None else lambda national: False
    plans = [plan for plan in (_plan_for(cc, region) for region in regions) if plan is not None]

    def is_valid(national: str) -> bool:
        for plan in plans:
            if plan.leading is not None:
                if plan.leading(national):
                    return plan.is_valid(national)
            elif plan.is_valid(national):
                return True
        return False

    return is_valid


def _plain_letters(text: str) -> bool:
    """No letter that phonenumbers reads as an extension (x, ext, int) or a second number (/x)."""
    lower = text.lower()
    return "x" not in lower and "int" not in lower


# Country codes as written: a number's first one, two or three digits looked up without int().
COUNTRY_CODES = {str(cc): cc for cc in COUNTRY_CODE_TO_REGION_CODE}


def _country_code(number: str) -> tuple[int, str]:  # phonenumbers' _extract_country_code
    # The library tries the first one, two, then three digits. No code starts with 0, so a number that
    # does finds none; a number shorter than three digits is tried again whole, and fails again.
    codes = COUNTRY_CODES
    cc = codes.get(number[:1])
    if cc is not None:
        return cc, number[1:]
    cc = codes.get(number[:2])
    if cc is not None:
        return cc, number[2:]
    cc = codes.get(number[:3])
    if cc is not None:
        return cc, number[3:]
    return 0, number


class NumberNormaliser:
    """Phone numbers to the provider's form (country code and digits), exactly as phonenumbers says
    (parse, is_valid_number, E.164).

    phonenumbers costs 80-200 µs a number. Numbers written as digits with spaces, dashes, dots,
    slashes or brackets and maybe one leading + (nearly all of a call list) take a fast path that
    follows the library's own steps on its own metadata, compiled once: the international prefix
    (00…) or +, the country code of any region, the default region's country code written without
    +, the national prefix (and its transform rule), the lengths, and validity against every number
    type of the number's region, valid or not. Anything else (letters, extensions, other scripts,
    fewer than three digits) goes to the library. Property tests hold the two equal
    (tests/campaigns/test_numbers.py).
    """

    def __init__(self, region: str):
        self.region = region
        # An unknown default region: only the library knows what it does with each input.
        self.default = _plan(region) if region in SUPPORTED_REGIONS else None
        self.countries = {}
        self.default_valid = _validity(self.default.cc) if self.default is not None else None

    def slow(self, raw: str) -> str | None:
        try:
            number = phonenumbers.parse(raw, self.region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]

    def __call__(self, raw: str) -> str | None:
        if self.default is not None and len(raw) <= MAX_INPUT_LENGTH and raw.isascii():
            # What people put between digits, all of it punctuation to phonenumbers (no extension, no
            # letters), removed; str.translate with deletions costs four times these replaces.
            digits = raw.replace(" ", "").replace("-", "").replace(".", "").replace("(", "").replace(")", "")
            digits = digits.replace("/", "")
            plus = digits[:1] == "+"
            if plus:
                digits = digits[1:]
            if digits.isdigit():
                if len(digits) >= 3:
                    return self.fast(digits, plus)
            elif digits[:3].isdigit() and digits.isalnum() and _plain_letters(digits):
                # Letters after three digits: no extension ("x", "int") can hide among them.
                vanity = len(digits.translate(DIGITS)) >= 3
                return self.fast(digits.upper().translate(KEYPAD) if vanity else digits.translate(LETTERS), plus)
        return self.slow(raw)

    def fast(self, digits: str, plus: bool) -> str | None:
        """phonenumbers.parse + is_valid_number for ASCII digits (with a + before them, or not).
        One method, no exceptions: it runs two or three times a row."""
        if plus:
            # After +, a country code; without a known one parse tries again as if the + were not there.
            if len(digits) <= MIN_NATIONAL_LENGTH:
                return None
            cc, national = _country_code(digits)
            if not cc:
                found = self._without_plus(digits)
                if found is None or not found[0]:
                    return None
                cc, national = found
        else:
            found = self._without_plus(digits)
            if found is None:
                return None
            cc, national = found
        if cc:
            plan, valid = self.countries.get(cc) or self._country(cc)
        else:  # a national number, read by the default region's rules
            cc, national, plan, valid = self.default.cc, digits, self.default, self.default_valid
        if len(national) < MIN_NATIONAL_LENGTH:
            return None
        # Most numbers have no national prefix to strip: then neither the strip nor the lengths are tried.
        prefix = plan.prefix
        if prefix is not None and prefix.match(national):
            stripped = plan.strip_prefix(national)
            if plan.length(stripped) not in (TOO_SHORT, LOCAL_ONLY, INVALID_LENGTH):
                national = stripped
        if len(national) > MAX_NATIONAL_LENGTH or not valid(national):
            return None
        return f"{cc}{national}"

    def _country(self, cc: int):
        """(the plan of the country code's main region, its validity test), kept per normaliser."""
        known = self.countries.get(cc)
        if known is None:
            region = COUNTRY_CODE_TO_REGION_CODE[cc][0]
            plan = self.default if region == self.region else _plan_for(cc, region)
            known = self.countries[cc] = (plan, _validity(cc))
        return known

    def _without_plus(self, digits: str) -> tuple[int, str] | None:
        """phonenumbers' _maybe_extract_country_code without a +: (country code, national number),
        (0, "") when the number is national, None when parse refuses it."""
        default = self.default
        found = default.idd(digits)
        if found:
            end = found.end()
            if digits[end:end + 1] != "0":
                digits = digits[end:]
                if len(digits) <= MIN_NATIONAL_LENGTH:
                    return None
                cc, national = _country_code(digits)
                return (cc, national) if cc else None
        own = default.cc_text
        if digits.startswith(own):
            national = default.strip_prefix(digits[len(own):])
            if (not default.is_general(digits) and default.is_general(national)) or default.length(digits) == TOO_LONG:
                return default.cc, national
        return 0, ""


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
