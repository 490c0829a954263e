"""Numbers and start times as the provider takes them: country code and digits; ISO-8601 in a zone."""

import datetime
import re
from functools import cache
from zoneinfo import ZoneInfo

import phonenumbers
from django.conf import settings
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
# Tables for bytes.translate, three times quicker than str.translate (ASCII only: the fast path's input).
KEYPAD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", b"22233344455566677778889999" * 2)
LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
DIGITS = b"0123456789"
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
        # What a number must start with for each to match, for str.startswith (60 ns, re's match 85 ns):
        # the prefix when it is plain digits (most regions'), else "" (re decides); no prefix, nothing.
        self.idd_starts = _starts(metadata.international_prefix)
        self.prefix_starts = _starts(metadata.national_prefix_for_parsing)
        # _match_national_number(number, general_desc, False); no pattern matches nothing, as in the library.
        self.is_general = re.compile(general.national_number_pattern or "(?!)").fullmatch
        self.lengths = tuple(general.possible_length)
        self.local_lengths = tuple(general.possible_length_local_only)
        # The lengths at which parse keeps a stripped national prefix off (_test_number_length neither
        # TOO_SHORT, LOCAL_ONLY nor INVALID_LENGTH), for one set lookup (an IN landline 2.1 -> 1.8 µs).
        kept = (POSSIBLE, TOO_LONG)
        self.strippable = frozenset(size for size in range(MAX_INPUT_LENGTH + 1) if self.length("0" * size) in kept)
        self.leading = re.compile(metadata.leading_digits).match if metadata.leading_digits is not None else None
        descs = [getattr(metadata, name) for name in NUMBER_TYPES]
        if metadata.same_mobile_and_fixed_line_pattern:
            descs.pop()  # the library does not ask mobile again when its pattern is fixed-line's
        self.descs = [d for d in descs if d is not None and d.national_number_pattern]
        # Mobiles, then fixed lines, first in the validity pattern: a call list is mostly those, and an
        # alternation's order does not change whether fullmatch finds one (an IN mobile 0.38 -> 0.29 µs).
        self.descs.sort(key=lambda d: (d is not metadata.mobile, d is not metadata.fixed_line))
        self.general_desc = general if general.national_number_pattern else None
        # By length, the one pattern that decides validity, or None: is_valid is then one get and one call.
        self.valid = {size: self._compile(size) for size in range(MAX_NATIONAL_LENGTH + 1)}

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
        """_number_type_helper(national, metadata) != UNKNOWN (no number longer than parse takes is)."""
        match = self.valid.get(len(national))
        return match is not None and match(national) is not None

    def _compile(self, size: int):
        """The general description and one type, each with its lengths, as one pattern (one call into the
        regex engine); None when no number of this size is valid."""
        general = self.general_desc
        if general is None or (general.possible_length and size not in general.possible_length):
            return None
        types = [
            f"(?:{d.national_number_pattern})" for d in self.descs if not d.possible_length or size in d.possible_length
        ]
        if not types:
            return None
        return re.compile(f"(?=(?:{general.national_number_pattern})\\Z)(?:{'|'.join(types)})").fullmatch


def _starts(pattern: str | None) -> tuple[str, ...]:
    if not pattern:
        return ()
    return (pattern,) if pattern.isdigit() else ("",)


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
def _validity(cc: int) -> dict:
    """is_valid_number for a number of this country code, by the national number's length: the region it
    belongs to (the first whose leading digits match, or that finds it valid), then valid there."""
    regions = COUNTRY_CODE_TO_REGION_CODE[cc]
    if len(regions) == 1:
        plan = _plan_for(cc, regions[0])
        return plan.valid if plan is not None else {}
    plans = [plan for plan in (_plan_for(cc, region) for region in regions) if plan is not None]

    def is_valid(national: str) -> bool:
        for plan in plans:
            if plan.leading is not None:
                if plan.leading(national):
                    return plan.is_valid(national)
            elif plan.is_valid(national):
                return True
        return False

    return dict.fromkeys(range(MAX_NATIONAL_LENGTH + 1), is_valid)


class _Country:
    """A country code and the plan that reads its national numbers: what parse does after it has found
    the country code, then is_valid_number."""

    __slots__ = ("cc_text", "plan", "valid")

    def __init__(self, cc: int, plan: _Plan | None):
        self.cc_text = str(cc)
        self.plan = plan
        self.valid = _validity(cc)

    def number(self, national: str) -> str | None:
        """The number in E.164 without +, or None."""
        if len(national) < MIN_NATIONAL_LENGTH:
            return None
        # Most numbers have no national prefix to strip: then neither the strip nor the lengths are tried.
        plan = self.plan
        if national.startswith(plan.prefix_starts):
            stripped = plan.strip_prefix(national)
            if len(stripped) in plan.strippable:
                national = stripped
        # No pattern for more digits than parse takes (MAX_NATIONAL_LENGTH).
        match = self.valid.get(len(national))
        return self.cc_text + national if match is not None and match(national) else None


def _plain_letters(text: str) -> bool:
    """No letter that phonenumbers reads as an extension (x, ext, int) or a second number (/x)."""
    lower = text.lower()
    return "x" not in lower and "int" not in lower


# Country codes as written: a number's first one, two or three digits looked up without int().
COUNTRY_CODES = {str(cc): cc for cc in COUNTRY_CODE_TO_REGION_CODE}


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
    (tests/campaigns/test_numbers.py, rerun with more examples by .ci/run when phonenumbers' pin
    changes). `fast_path=False` (by default the PHONE_NUMBERS_FAST_PATH setting) sends every number
    to the library.
    """

    def __init__(self, region: str, fast_path: bool | None = None):
        self.region = region
        if fast_path is None:
            fast_path = settings.PHONE_NUMBERS_FAST_PATH
        # An unknown default region, or the fast path turned off: only the library decides.
        self.default = _plan(region) if fast_path and region in SUPPORTED_REGIONS else None
        # The countries met so far, by their code's text: the plan of the code's main region.
        self.codes = {}
        if self.default is not None:
            # A national number is read by the default region's own plan.
            self.national = _Country(self.default.cc, self.default)
            self.own = self._code(self.default.cc_text)
            # A number without + that starts with neither its own country code nor the international
            # prefix is national (one str.startswith for most numbers); one that does not start with the
            # national prefix either has only its validity to test.
            self.not_national = (self.default.cc_text, *self.default.idd_starts)
            self.not_plain = (*self.not_national, *self.default.prefix_starts)

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
            # letters), removed; str.translate with deletions costs four times these replaces. Spaces and
            # dashes first: numbers with nothing else (nearly all) need no other replace.
            digits = raw.replace(" ", "").replace("-", "")
            if digits.isdigit():
                if len(digits) < 3:
                    return self.slow(raw)
                if digits.startswith(self.not_plain):
                    if digits.startswith(self.not_national):
                        return self._without_plus(digits)
                    return self.national.number(digits)
                # The commonest: a national number without a national prefix (national.number inlined,
                # 0.1 µs less).
                match = self.national.valid.get(len(digits))
                return self.national.cc_text + digits if match is not None and match(digits) else None
            plus = digits[:1] == "+"
            if plus:
                digits = digits[1:]
                if digits.isdigit():
                    return self.fast(digits, True) if len(digits) >= 3 else self.slow(raw)
            digits = digits.replace(".", "").replace("(", "").replace(")", "").replace("/", "")
            if not plus and digits[:1] == "+":  # "(+91) ..."
                plus, digits = True, digits[1:]
            if digits.isdigit():
                if len(digits) >= 3:
                    return self.fast(digits, plus)
            elif digits[:3].isdigit() and digits.isalnum() and _plain_letters(digits):
                # Letters after three digits: no extension ("x", "int") can hide among them.
                text = digits.encode()
                vanity = len(text.translate(None, DIGITS)) >= 3
                return self.fast((text.translate(KEYPAD) if vanity else text.translate(None, LETTERS)).decode(), plus)
        return self.slow(raw)

    def fast(self, digits: str, plus: bool) -> str | None:
        """phonenumbers.parse + is_valid_number for ASCII digits (with a + before them, or not).
        No exceptions: it runs two or three times a row."""
        if plus:
            # After +, a country code; without a known one parse tries again as if the + were not there.
            if len(digits) <= MIN_NATIONAL_LENGTH:
                return None
            # Country codes are prefix-free (E.164): at most one of the first one, two or three digits is
            # one, so the codes met so far are looked up in any order (two digits first, the commonest);
            # 0.1 µs less than int codes and a function.
            codes = self.codes
            country = codes.get(digits[:2]) or codes.get(digits[:1]) or codes.get(digits[:3]) or self._code(digits)
            if country is None:
                return self._without_plus(digits, after_plus=True)
            return country.number(digits[len(country.cc_text):])
        if digits.startswith(self.not_national):
            return self._without_plus(digits)
        return self.national.number(digits)

    def _code(self, digits: str) -> _Country | None:
        """The country of the code a number starts with, met for the first time; None when it starts with
        none (phonenumbers' _extract_country_code)."""
        cc = COUNTRY_CODES.get(digits[:1]) or COUNTRY_CODES.get(digits[:2]) or COUNTRY_CODES.get(digits[:3])
        if cc is None:
            return None
        region = COUNTRY_CODE_TO_REGION_CODE[cc][0]
        plan = self.default if region == self.region else _plan_for(cc, region)
        country = self.codes[str(cc)] = _Country(cc, plan)
        return country

    def _without_plus(self, digits: str, after_plus: bool = False) -> str | None:
        """phonenumbers' _maybe_extract_country_code without a +, then fast's answer. After a + that
        no country code followed, parse refuses a national number."""
        default = self.default
        # The international prefix's regex only when the number can start with it (never, for a number
        # that starts with the country code: the commonest way to write one without +).
        found = default.idd(digits) if digits.startswith(default.idd_starts) else None
        if found:
            end = found.end()
            if digits[end:end + 1] != "0":
                rest = digits[end:]
                if len(rest) <= MIN_NATIONAL_LENGTH:
                    return None
                codes = self.codes
                country = codes.get(rest[:2]) or codes.get(rest[:1]) or codes.get(rest[:3]) or self._code(rest)
                return country.number(rest[len(country.cc_text):]) if country is not None else None
        own = default.cc_text
        if digits.startswith(own):
            national = digits[len(own):]
            if national.startswith(default.prefix_starts):
                national = default.strip_prefix(national)
            general = default.is_general
            if (not general(digits) and general(national)) or default.length(digits) == TOO_LONG:
                return self.own.number(national)
        return None if after_plus else self.national.number(digits)


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
