"""Properties: the same table imports to the same contacts whatever its encoding, delimiter, quoting
and line ends; the importer's fast path for numbers always agrees with phonenumbers."""

import codecs
import csv
import datetime
import io
import os
import random
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from campaigns.importing import NumberNormaliser
from campaigns.models import Contact, ContactList

IST = ZoneInfo("Asia/Kolkata")
PROPERTY_SETTINGS = hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
ENCODINGS = {
    # name: (encode the text, encoding chosen at upload)
    "utf-8": (lambda text: text.encode("utf-8"), ""),
    "utf-8 with BOM": (lambda text: codecs.BOM_UTF8 + text.encode("utf-8"), ""),
    "utf-16 LE with BOM": (lambda text: text.encode("utf-16"), ""),
    "utf-16 BE with BOM": (lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"), ""),
    "cp1252 chosen": (lambda text: text.encode("cp1252"), "cp1252"),
}


def is_valid(national: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.parse("+91" + national))


nationals = st.from_regex(r"[6-9][0-9]{9}", fullmatch=True).filter(is_valid)
number_forms = st.sampled_from(
    [
        lambda n: "91" + n,
        lambda n: "+91" + n,
        lambda n: f"+91 {n[:5]} {n[5:]}",
        lambda n: "0" + n,
        lambda n: n,
        lambda n: f"+91-{n[:3]}-{n[3:6]}-{n[6:]}",
    ]
)
variable_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True)
start_times = st.datetimes(min_value=datetime.datetime(2090, 1, 1), max_value=datetime.datetime(2099, 12, 31))
start_forms = st.sampled_from(
    [
        lambda t: t.strftime("%Y-%m-%dT%H:%M:%S+05:30"),
        lambda t: t.strftime("%Y-%m-%d %H:%M:%S"),
        lambda t: t.strftime("%d-%m-%Y %H:%M:%S"),
        lambda t: t.strftime("%Y-%m-%dT%H:%M:%S"),
    ]
)


def texts(encoding_name, max_size=12):
    if encoding_name == "cp1252 chosen":
        alphabet = st.characters(blacklist_categories=("Cc", "Cs")).filter(lambda c: _encodable(c, "cp1252"))
    else:
        alphabet = st.characters(blacklist_categories=("Cc", "Cs"))
    return st.text(alphabet | st.sampled_from(",;\t|\"\n' "), max_size=max_size)


def _encodable(char, encoding):
    try:
        char.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


@st.composite
def call_lists(draw):
    encoding = draw(st.sampled_from(sorted(ENCODINGS)))
    names = draw(st.lists(variable_names, max_size=3, unique=True))
    with_tel2 = draw(st.booleans())
    with_start = draw(st.booleans())
    with_external = draw(st.booleans())
    primaries = draw(st.lists(nationals, min_size=1, max_size=8, unique=True))
    header = ["tel1"] + (["tel2"] if with_tel2 else []) + (["starttime"] if with_start else [])
    header += (["client-identifier"] if with_external else []) + [f"$flow.key.{name}" for name in names]
    rows, expected = [], []
    for line, national in enumerate(primaries, start=2):
        tel2 = draw(st.none() | nationals) if with_tel2 else None
        start = draw(start_times).replace(microsecond=0) if with_start else None
        external = draw(texts(encoding, 20)) if with_external else ""
        values = {name: draw(texts(encoding)) for name in names}
        row = [draw(number_forms)(national)]
        if with_tel2:
            row.append(draw(number_forms)(tel2) if tel2 else "")
        if with_start:
            row.append(draw(start_forms)(start))
        if with_external:
            row.append(external)
        row += [values[name] for name in names]
        rows.append(row)
        numbers = ["91" + national] + ([f"91{tel2}"] if tel2 and tel2 != national else [])
        expected.append(
            {
                "line": line,
                "primary_number": "91" + national,
                "numbers": numbers,
                "variables": {name: value.strip() for name, value in values.items()},
                "start_at": start.replace(tzinfo=IST) if start else None,
                "external_id": external.strip(),
            }
        )
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    newline = draw(st.sampled_from(["\r\n", "\n"]))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    encode, chosen = ENCODINGS[encoding]
    return encode(out.getvalue()), chosen, expected


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(case=call_lists())
def test_any_table_of_valid_rows_imports_to_the_same_contacts(case, import_file):
    data, chosen, expected = case

    contact_list = import_file(data, encoding=chosen)

    assert contact_list.status == ContactList.Status.IMPORTED, contact_list.error
    assert contact_list.rejected_count == 0, list(contact_list.rejected_rows.values_list("reason", flat=True))
    got = [
        {
            "line": c.line,
            "primary_number": c.primary_number,
            "numbers": c.numbers,
            "variables": c.variables,
            "start_at": c.start_at,
            "external_id": c.external_id,
        }
        for c in Contact.objects.filter(contact_list=contact_list).order_by("line")
    ]
    assert got == expected


digit_strings = st.one_of(
    st.from_regex(r"\+?(91)?0?[0-9]{6,13}", fullmatch=True),
    st.from_regex(r"91[0-9]{10}", fullmatch=True),
    st.from_regex(r"\+91[0-9]{10}", fullmatch=True),
    st.from_regex(r"[0-9]{10}", fullmatch=True),
)


@hypothesis_settings(max_examples=300 * int(os.environ.get("NUMBER_PROPERTY_SCALE", "1")), deadline=None)
@given(raw=digit_strings)
def test_the_fast_path_agrees_with_phonenumbers(raw):
    normalise = NumberNormaliser("IN")

    assert normalise(raw) == normalise.slow(raw)


def test_the_fast_path_agrees_with_phonenumbers_over_every_four_digit_prefix():
    normalise = NumberNormaliser("IN")
    rng = random.Random(2026)
    for prefix in range(1000, 10000):
        national = f"{prefix}{rng.randrange(10**6):06d}"
        for raw in (national, "91" + national, "+91" + national):
            assert normalise(raw) == normalise.slow(raw), raw
