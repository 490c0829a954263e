"""The numbers fast path equals phonenumbers (parse, is_valid_number, E.164) for every number type, in
several regions, on random input of every shape a spreadsheet produces."""

import random

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from campaigns.importing.numbers import NumberNormaliser

REGIONS = ["IN", "GB", "US", "AE", "DE", "FR", "SG", "AU", "BR"]


def library(raw: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


def written(digits: str, separators: list[str]) -> str:
    """Digits as people type them: groups split by a space, a dash or a dot."""
    out, cut = [], 0
    for index, separator in enumerate(separators):
        point = cut + 1 + index % 4
        out.append(digits[cut:point])
        out.append(separator)
        cut = point
    out.append(digits[cut:])
    return "".join(out)


country_code = {region: str(phonenumbers.country_code_for_region(region)) for region in REGIONS}


@st.composite
def raw_numbers(draw, region):
    cc = country_code[region]
    national = draw(st.from_regex(r"[0-9]{4,14}", fullmatch=True))
    shape = draw(st.sampled_from(["national", "prefix0", "cc", "+cc", "00cc", "+other", "noise"]))
    digits = {
        "national": national, "prefix0": "0" + national, "cc": cc + national, "+cc": cc + national,
        "00cc": "00" + cc + national, "+other": draw(st.sampled_from(["44", "1", "971", "65", "49"])) + national,
        "noise": national,
    }[shape]
    separators = draw(st.lists(st.sampled_from([" ", "-", ".", ""]), max_size=4))
    text = written(digits, separators)
    if shape in ("+cc", "+other"):
        text = "+" + text
    if shape == "noise":
        text = draw(st.sampled_from(["(", "x", "#", "+", " ", "ext 1"])) + text
    return text


@pytest.mark.parametrize("region", REGIONS)
def test_the_fast_path_equals_the_library_on_random_input(region):
    normalise = NumberNormaliser(region)

    @hypothesis_settings(max_examples=400, deadline=None, database=None)
    @given(raw=raw_numbers(region))
    def agrees(raw):
        assert normalise(raw) == library(raw, region), raw

    agrees()


@pytest.mark.parametrize("region", ["IN", "GB", "US", "AE", "DE"])
def test_the_fast_path_equals_the_library_for_every_example_number_of_every_type(region):
    # given phonenumbers' own example of each number type, written in every way we accept
    normalise = NumberNormaliser(region)
    cc = country_code[region]
    examples = [
        phonenumbers.example_number_for_type(region, kind)
        for kind in phonenumbers.PhoneNumberType.values()
        if phonenumbers.example_number_for_type(region, kind) is not None
    ]
    assert len(examples) >= 3
    for example in examples:
        national = phonenumbers.national_significant_number(example)
        spaced = f"+{cc} {national[:3]} {national[3:]}"
        for raw in (national, "0" + national, cc + national, "+" + cc + national, spaced):
            # then the fast path (when it answers) and the whole normaliser agree with the library
            fast = normalise._fast(raw) if normalise.fast else None
            assert fast is None or fast == library(raw, region), (region, raw)
            assert normalise(raw) == library(raw, region), (region, raw)


def test_indian_landlines_toll_free_and_mobiles_take_the_fast_path():
    normalise = NumberNormaliser("IN")
    rng = random.Random(7)
    fast = total = 0
    for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE,
                 phonenumbers.PhoneNumberType.TOLL_FREE):
        example = phonenumbers.national_significant_number(phonenumbers.example_number_for_type("IN", kind))
        for _ in range(50):
            national = example[:-4] + f"{rng.randrange(10**4):04d}"
            expected = library(national, "IN")
            if expected is None:
                continue
            total += 1
            fast += normalise._fast(national) == expected
    assert total > 100 and fast == total


def test_a_region_whose_prefix_has_a_transform_rule_always_asks_the_library():
    assert not NumberNormaliser("BR").fast
    assert NumberNormaliser("BR")("+55 11 96123 4567") == library("+55 11 96123 4567", "BR")
