"""The numbers fast path equals phonenumbers (parse, is_valid_number, E.164: the number, or a refusal)
for every number type of every region, on random input of every shape a spreadsheet produces."""

import os
import random

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE, SUPPORTED_REGIONS

from campaigns.importing.numbers import NumberNormaliser

# The default region, neighbours that share a country code (US/CA/JM, GB/JE/IM, RU/KZ), regions whose
# national prefix has a transform rule (BR, AR, MX), leading zeros kept (IT), and others.
REGIONS = ["IN", "GB", "JE", "US", "CA", "JM", "AE", "DE", "FR", "IT", "SG", "AU", "BR", "AR", "MX", "RU", "KZ", "CN"]
ALL_REGIONS = sorted(SUPPORTED_REGIONS)
COUNTRY_CODES = sorted(COUNTRY_CODE_TO_REGION_CODE)
TYPES = list(phonenumbers.PhoneNumberType.values())
# .ci/run multiplies the random examples when phonenumbers' pin changes (a release with new metadata).
EXAMPLES_SCALE = int(os.environ.get("NUMBER_PROPERTY_SCALE", "1"))


def library(raw: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


class WithoutLibrary(NumberNormaliser):
    """A normaliser that fails where it would ask the library: proves which inputs the fast path answers."""

    def slow(self, raw):
        raise AssertionError(f"{raw!r} went to the library")


def examples(region: str) -> list[tuple[int, str]]:
    """(country code, national number) of phonenumbers' own example of every number type of a region."""
    found = []
    for kind in TYPES:
        example = phonenumbers.example_number_for_type(region, kind)
        if example is not None:
            found.append((example.country_code, phonenumbers.national_significant_number(example)))
    return found


EXAMPLES = {region: examples(region) for region in ALL_REGIONS}


def written(text: str, separators: list[str]) -> str:
    """Characters as people type them: groups split by a space, a dash, a dot, a slash or brackets."""
    out, cut = [], 0
    for index, separator in enumerate(separators):
        point = min(len(text), cut + 1 + index % 4)
        out.append(text[cut:point])
        out.append(separator)
        cut = point
    out.append(text[cut:])
    return "".join(out)


def shapes(cc: int, national: str, own: int) -> dict[str, str]:
    """Every way a number is written: national, with the trunk 0, the country code with or without +,
    the international prefix (00, 011), the default region's own code before another's number."""
    return {
        "national": national,
        "trunk 0": "0" + national,
        "cc": f"{cc}{national}",
        "+cc": f"+{cc}{national}",
        "00cc": f"00{cc}{national}",
        "011cc": f"011{cc}{national}",
        "own cc": f"{own}{national}",
        "+own cc": f"+{own}{national}",
        "+0": f"+0{national}",
        "+00cc": f"+00{cc}{national}",
    }


@st.composite
def raw_numbers(draw, region):
    """A number drawn from the metadata (an example of any type of any region, cut or lengthened to an
    invalid length, or random digits), written in any shape, with separators, brackets, letters."""
    source = draw(st.sampled_from([region, region, *ALL_REGIONS]))
    cc, national = draw(st.sampled_from(EXAMPLES[source] or [(1, "2015550123")]))
    change = draw(st.sampled_from(["as is", "as is", "cut", "lengthen", "random"]))
    if change == "cut":
        national = national[: draw(st.integers(0, len(national)))]
    elif change == "lengthen":
        national += draw(st.from_regex(r"[0-9]{1,4}", fullmatch=True))
    elif change == "random":
        national = draw(st.from_regex(r"[0-9]{1,16}", fullmatch=True))
    if draw(st.integers(0, 9)) == 0:
        cc = draw(st.sampled_from(COUNTRY_CODES))
    shape = draw(st.sampled_from(sorted(shapes(0, "", 0))))
    text = shapes(cc, national, phonenumbers.country_code_for_region(region))[shape]
    separators = draw(st.lists(st.sampled_from([" ", "-", ".", "/", "(", ")", "", " - "]), max_size=5))
    text = written(text, separators)
    if draw(st.booleans()):
        text = draw(st.sampled_from(["(", " ", "-", "+", "Tel: ", "(+"])) + text
    if draw(st.integers(0, 3)) == 0:  # letters: vanity numbers, typos, extensions
        at = draw(st.integers(0, len(text)))
        letters = draw(st.sampled_from(["ABC", "abc", "A", "ab", "FLOWERS", "x", "ext", "int", "INT", "Xy", "pq"]))
        text = text[:at] + letters + text[at:]
    if draw(st.integers(0, 9)) == 0:
        text += draw(st.sampled_from(["#", " x12", ";ext=5", ",,3", "\t", "é", "١", "＋"]))
    return text


@pytest.mark.parametrize("region", REGIONS)
def test_the_normaliser_equals_the_library_on_random_input(region):
    normalise = NumberNormaliser(region)

    @hypothesis_settings(max_examples=300 * EXAMPLES_SCALE, deadline=None, database=None)
    @given(raw=raw_numbers(region))
    def agrees(raw):
        assert normalise(raw) == library(raw, region), raw

    agrees()


def test_the_normaliser_equals_the_library_for_every_example_of_every_type_of_every_region():
    # given phonenumbers' own example of each number type of every region, valid, cut short and made
    # too long, written in every shape, read with every region as the default
    rng = random.Random(16)
    checked = 0
    for region in ALL_REGIONS:
        normalise = NumberNormaliser(region)
        own = phonenumbers.country_code_for_region(region)
        source = rng.choice(ALL_REGIONS)
        for cc, national in EXAMPLES[region] + EXAMPLES[source]:
            for digits in (national, national[:-1], national + "5"):
                for shape, raw in shapes(cc, digits, own).items():
                    spaced = written(raw, [" ", "-", "."]) if shape != "national" else f"({raw[:3]}) {raw[3:]}"
                    for text in (raw, spaced):
                        # then the normaliser answers what the library answers
                        assert normalise(text) == library(text, region), (region, text)
                        checked += 1
    assert checked > 20_000


@pytest.mark.parametrize("region", REGIONS)
def test_numbers_written_with_digits_and_separators_never_ask_the_library(region):
    # given valid numbers of every type, in every shape and with separators (and numbers made invalid)
    fast = WithoutLibrary(region)
    own = phonenumbers.country_code_for_region(region)
    answered = 0
    for source in (region, "IN", "GB", "US", "AE"):
        for cc, national in EXAMPLES[source]:
            for digits in (national, national[:-2]):
                for raw in shapes(cc, digits, own).values():
                    for text in (raw, written(raw, [" ", "-", ".", "(", ")"])):
                        # then the fast path answers alone (an AssertionError would name the input)
                        assert fast(text) == library(text, region), text
                        answered += 1
    assert answered > 100


def test_the_realistic_mix_of_issue_16_takes_the_fast_path():
    fast = WithoutLibrary("IN")
    # mobiles three ways, landlines, toll-free, other countries, invalid (too short, letters)
    for raw, expected in [
        ("919812345678", "919812345678"),
        ("+91 98123 45678", "919812345678"),
        ("98123-45678", "919812345678"),
        ("080 2123 4567", "918021234567"),
        ("+91-22-21234567", "912221234567"),
        ("1800 123 4567", "9118001234567"),
        ("+44 20 7946 0123", "442079460123"),
        ("+1 201 555 0123", "12015550123"),
        ("+971 50 123 4567", "971501234567"),
        ("0091 98123 45678", "919812345678"),
        ("9812345", None),
        ("98123ABC45", "919812322245"),
        ("981234AB45", None),
    ]:
        assert fast(raw) == expected == library(raw, "IN"), raw


# The call list's shapes (issue 16's mix, and the default regions' own ways of writing), "#" a random digit.
CALL_LIST_SHAPES = [
    "91##########", "+91 ##### #####", "#####-#####", "0## #### ####", "+91-##-########", "1800 ### ####",
    "#######", "######ABC##", "+44 ## #### ####", "+1 ### ### ####", "+971 ## ### ####", "(###) ###-####",
    "0### #######", "00## ## ########", "011 ## ##########", "1 ### ### ####", "44##########", "971#########",
    "49##########", "55###########", "+55 (##) #####-####", "0## ##### ####", "##.##.##.##.##",
]
DEFAULTS = ["IN", "US", "GB", "AE", "DE", "BR"]


@st.composite
def call_list_numbers(draw):
    shape = draw(st.sampled_from(CALL_LIST_SHAPES))
    return "".join(draw(st.sampled_from("0123456789")) if char == "#" else char for char in shape)


@pytest.mark.parametrize("region", DEFAULTS)
def test_the_call_list_shapes_take_the_fast_path_and_equal_the_library(region):
    # given one normaliser (the countries it meets are kept) and numbers of every shape of a call list
    fast = WithoutLibrary(region)

    @hypothesis_settings(max_examples=400 * EXAMPLES_SCALE, deadline=None, database=None)
    @given(raw=call_list_numbers())
    def agrees(raw):
        # then the fast path answers alone, as the library does
        assert fast(raw) == library(raw, region), raw

    agrees()


def test_country_codes_are_prefix_free():
    # the fast path looks a number's first one, two and three digits up in any order: at most one is a code
    codes = [str(cc) for cc in COUNTRY_CODES]
    assert not [(a, b) for a in codes for b in codes if a != b and b.startswith(a)]


def test_extensions_and_other_scripts_are_left_to_the_library():
    normalise = NumberNormaliser("IN")
    for raw in ("98123 45678 x12", "98123 45678 ext 4", "98123 45678 int 5", "９８１２３４５６７８", "98123\t45678"):
        assert normalise(raw) == library(raw, "IN"), raw
        with pytest.raises(AssertionError, match="went to the library"):
            WithoutLibrary("IN")(raw)


def test_an_unknown_default_region_leaves_every_number_to_the_library():
    normalise = NumberNormaliser("ZZ")
    assert normalise("+91 98123 45678") == library("+91 98123 45678", "ZZ") == "919812345678"
    assert normalise("98123 45678") is None


class Counting(NumberNormaliser):
    """A normaliser that counts the numbers it sends to the library."""

    asked = 0

    def slow(self, raw):
        self.asked += 1
        return super().slow(raw)


CALL_LIST_SHAPES = ["919812345678", "+91 98123 45678", "98123-45678", "080 2345 6789", "1800 123 4567", "98123"]


def test_with_the_fast_path_turned_off_every_number_goes_to_the_library_with_the_same_answers(settings):
    # given the fast path turned off in the settings, and a normaliser with it on
    settings.PHONE_NUMBERS_FAST_PATH = False
    off, on = Counting("IN"), Counting("IN", fast_path=True)

    # when call-list numbers are normalised by both
    answers_off = [off(raw) for raw in CALL_LIST_SHAPES]
    answers_on = [on(raw) for raw in CALL_LIST_SHAPES]

    # then every one went to the library with the fast path off, none with it on, and the answers agree
    assert off.asked == len(CALL_LIST_SHAPES) and on.asked == 0
    assert answers_off == answers_on == [library(raw, "IN") for raw in CALL_LIST_SHAPES]
    assert answers_off[0] == "919812345678" and answers_off[-1] is None


def test_the_fast_path_is_on_by_default(settings):
    assert settings.PHONE_NUMBERS_FAST_PATH is True
    assert Counting("IN")("919812345678") == "919812345678"
