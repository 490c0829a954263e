"""A corpus of hostile and awkward files: each is imported with its report or refused with its sentence.

Whatever the file, no exception escapes, a refused list keeps no rows, and an imported list holds
exactly as many contacts and rejected rows as its counts say.
"""

import codecs
import gzip
import io
import random
import struct
import zipfile
from pathlib import Path

import pytest

from campaigns.models import Contact, ContactList, RejectedRow

pytestmark = pytest.mark.django_db

MB = 1024 * 1024
ROWS = [("919812345678", "Asha", "Pune"), ("919887654321", "José", "Goa"), ("9812345670", "Zoë", "Delhi")]


def table(delimiter=",", newline="\r\n", header=("tel1", "$flow.key.name", "$flow.key.city"), rows=ROWS):
    return newline.join([delimiter.join(header), *(delimiter.join(row) for row in rows)]) + newline


def zip_bytes(members, compression=zipfile.ZIP_DEFLATED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def padded_to(size):
    """A valid CSV of exactly `size` bytes: long rows so that the stream, not the row count, decides."""
    head = "tel1,$flow.key.note\n"
    rows, total, n = [head], len(head), 0
    while total < size:
        prefix = f"9198{n:08d},"
        room = size - total - len(prefix) - 1
        row = prefix + "x" * max(0, min(9000, room)) + "\n"
        rows.append(row)
        total += len(row)
        n += 1
    data = "".join(rows).encode()
    return data[:size] if len(data) > size else data


def zip_bomb():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("bomb.csv", "w", force_zip64=True) as member:
            member.write(b"tel1,$flow.key.x\n919812345678,a\n")
            line = b" " * 8000 + b"\n"
            block = line * 128  # 1 MB of blank lines
            for _ in range(200):
                member.write(block)
    return buffer.getvalue()


def set_encrypted_flag(data):
    """Mark every member as encrypted in its local header and in the central directory."""
    data = bytearray(data)
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        while at >= 0:
            (flags,) = struct.unpack_from("<H", data, at + flag_offset)
            struct.pack_into("<H", data, at + flag_offset, flags | 0x1)
            at = data.find(signature, at + 4)
    return bytes(data)


def lying_size(data, claimed=100):
    """The central directory says the member is `claimed` bytes long; it is much longer."""
    data = bytearray(data)
    at = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, at + 24, claimed)
    at = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, at + 22, claimed)
    return bytes(data)


def compression_method(data, method):
    """Claim a compression method zipfile does not know (99 is AE-x encryption)."""
    data = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = data.find(signature)
        struct.pack_into("<H", data, at + offset, method)
    return bytes(data)


def late_bad_byte():
    good = table(rows=[(f"9198{n:08d}", "Asha", "Pune") for n in range(5000)]).encode()
    return good + b"919800000001,Jos\xe9,Goa\r\n"


def late_nul_byte():
    good = table(rows=[(f"9198{n:08d}", "Asha", "Pune") for n in range(5000)]).encode()
    return good + b"919800000001,Jo\x00,Goa\r\n"


def xlsx_bytes():
    return zip_bytes(
        [
            ("[Content_Types].xml", "<Types/>"),
            ("_rels/.rels", "<Relationships/>"),
            ("xl/workbook.xml", "<workbook/>"),
            ("xl/worksheets/sheet1.xml", "<worksheet/>"),
        ]
    )


IMPORTED, REFUSED = "imported", "refused"

# name: (bytes, filename, encoding, settings, expectation)
# expectation: (IMPORTED, contacts, rejected) or (REFUSED, words the sentence must hold)
CORPUS = {
    "utf8 comma crlf": (lambda: table().encode(), "a.csv", "", {}, (IMPORTED, 3, 0)),
    "utf8 bom": (lambda: codecs.BOM_UTF8 + table().encode(), "a.csv", "", {}, (IMPORTED, 3, 0)),
    "utf8 bom chosen cp1252 (the bom wins)": (
        lambda: codecs.BOM_UTF8 + table().encode(),
        "a.csv",
        "cp1252",
        {},
        (IMPORTED, 3, 0),
    ),
    "utf16 le bom tab (Excel unicode text)": (lambda: table("\t").encode("utf-16"), "a.csv", "", {}, (IMPORTED, 3, 0)),
    "utf16 be bom": (lambda: codecs.BOM_UTF16_BE + table().encode("utf-16-be"), "a.csv", "", {}, (IMPORTED, 3, 0)),
    "utf16 le without bom chosen": (lambda: table().encode("utf-16-le"), "a.csv", "utf-16-le", {}, (IMPORTED, 3, 0)),
    "utf16 le without bom": (lambda: table().encode("utf-16-le"), "a.csv", "", {}, (REFUSED, ["UTF-16", "byte-order"])),
    "utf32 bom": (lambda: table().encode("utf-32"), "a.csv", "", {}, (IMPORTED, 3, 0)),
    "cp1252 chosen": (lambda: table(";").encode("cp1252"), "a.csv", "cp1252", {}, (IMPORTED, 3, 0)),
    "cp1252 not chosen": (lambda: table(";").encode("cp1252"), "a.csv", "", {}, (REFUSED, ["UTF-8", "encoding"])),
    "unknown encoding chosen": (lambda: table().encode(), "a.csv", "klingon", {}, (REFUSED, ["encoding"])),
    "bad byte after the first 64 KB": (late_bad_byte, "a.csv", "", {}, (REFUSED, ["UTF-8", "line 5002"])),
    "nul byte after the first 64 KB": (late_nul_byte, "a.csv", "", {}, (REFUSED, ["binary", "5002"])),
    "semicolon": (lambda: table(";").encode(), "a.csv", "", {}, (IMPORTED, 3, 0)),
    "tab lf": (lambda: table("\t", "\n").encode(), "a.csv", "", {}, (IMPORTED, 3, 0)),
    "pipe cr only": (lambda: table("|", "\r").encode(), "a.csv", "", {}, (IMPORTED, 3, 0)),
    "excel sep line": (lambda: ("sep=;\r\n" + table(";")).encode(), "a.csv", "", {}, (IMPORTED, 3, 0)),
    "excel sep line for tabs": (
        lambda: ("sep=\t\r\n" + table("\t")).encode("utf-16"),
        "a.csv",
        "",
        {},
        (IMPORTED, 3, 0),
    ),
    "quoted fields with delimiters, quotes and line breaks": (
        lambda: (
            b'tel1,$flow.key.name,$flow.key.address\r\n"919812345678","Rao, ""Ravi""","12 MG Road\r\nPune"\r\n'
            b"919887654321,Asha,Goa\r\n"
        ),
        "a.csv",
        "",
        {},
        (IMPORTED, 2, 0),
    ),
    "quote never closed": (
        lambda: b'tel1,$flow.key.name\r\n919812345678,"Ravi\r\n919887654321,Asha\r\n',
        "a.csv",
        "",
        {},
        (REFUSED, ["quote", "never closed"]),
    ),
    "no final newline": (lambda: table().rstrip().encode(), "a.csv", "", {}, (IMPORTED, 3, 0)),
    "blank lines and trailing empty columns": (
        lambda: b"\r\ntel1,$flow.key.name,,,\r\n\r\n919812345678,Asha,,,\r\n,,,,\r\n",
        "a.csv",
        "",
        {},
        (IMPORTED, 1, 0),
    ),
    "eleven tel columns": (
        lambda: (",".join(f"tel{i}" for i in range(1, 12)) + "\n" + ",".join(["919812345678"] * 11) + "\n").encode(),
        "a.csv",
        "",
        {},
        (REFUSED, ["tel11", "at most 10"]),
    ),
    "ten tel columns": (
        lambda: (
            ",".join(f"tel{i}" for i in range(1, 11)) + "\n" + ",".join(f"9198123456{i:02d}" for i in range(10)) + "\n"
        ).encode(),
        "a.csv",
        "",
        {},
        (IMPORTED, 1, 0),
    ),
    "no tel1 column": (lambda: b"reference,name\n919812345678,Asha\n", "a.csv", "", {}, (REFUSED, ["no tel1"])),
    "tel1 twice": (lambda: b"tel1,TEL 1\n919812345678,919812345678\n", "a.csv", "", {}, (REFUSED, ["twice"])),
    "too many columns": (
        lambda: ("tel1," + ",".join(f"v{i}" for i in range(60)) + "\n919812345678" + "," * 60 + "\n").encode(),
        "a.csv",
        "",
        {},
        (REFUSED, ["61 columns", "at most 50"]),
    ),
    "empty file": (lambda: b"", "a.csv", "", {}, (REFUSED, ["empty"])),
    "only blank lines": (lambda: b"\r\n\r\n  \r\n", "a.csv", "", {}, (REFUSED, ["no header"])),
    "header only": (lambda: b"tel1,$flow.key.name\r\n", "a.csv", "", {}, (REFUSED, ["no rows"])),
    "header and blank rows only": (
        lambda: b"tel1,$flow.key.name\r\n,\r\n\r\n",
        "a.csv",
        "",
        {},
        (REFUSED, ["no rows"]),
    ),
    "every row rejected": (lambda: b"tel1\r\n123\r\nabc\r\n", "a.csv", "", {}, (IMPORTED, 0, 2)),
    "a 50,000-character line": (
        lambda: ("tel1,$flow.key.x\n919812345678," + "y" * 50_000 + "\n").encode(),
        "a.csv",
        "",
        {},
        (REFUSED, ["longer than 10,000"]),
    ),
    "5 MB exactly": (lambda: padded_to(5 * MB), "a.csv", "", {}, (IMPORTED, None, 0)),
    "5 MB + 1 byte": (lambda: padded_to(5 * MB + 1), "a.csv", "", {}, (REFUSED, ["larger than 5 MB"])),
    "more rows than allowed": (
        lambda: table(rows=[(f"9198{n:08d}", "a", "b") for n in range(30)]).encode(),
        "a.csv",
        "",
        {"CALL_LIST_MAX_ROWS": 20},
        (REFUSED, ["more than 20 rows"]),
    ),
    "binary garbage": (lambda: random.Random(7).randbytes(20_000), "a.csv", "", {}, (REFUSED, ["binary"])),
    "binary garbage chosen cp1252": (
        lambda: random.Random(7).randbytes(20_000),
        "a.csv",
        "cp1252",
        {},
        (REFUSED, ["binary"]),
    ),
    "xlsx renamed to csv": (xlsx_bytes, "a.csv", "", {}, (REFUSED, ["Excel workbook"])),
    "xls renamed to csv": (
        lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000),
        "a.csv",
        "",
        {},
        (REFUSED, ["Excel 97-2003"]),
    ),
    "gzip renamed to csv": (lambda: gzip.compress(table().encode()), "a.csv", "", {}, (REFUSED, ["compressed"])),
    "pdf renamed to csv": (lambda: b"%PDF-1.7\n" + bytes(100), "a.csv", "", {}, (REFUSED, ["PDF"])),
    "zip of two csvs with mac junk": (
        lambda: zip_bytes(
            [
                ("lists/", b""),
                ("lists/a.csv", table().encode()),
                ("__MACOSX/lists/._a.csv", b"\x00\x05\x16\x07" + bytes(60)),
                (
                    "lists/b.csv",
                    table(";", rows=[("919800000001", "A", "B"), ("919812345678", "dup", "x")]).encode("utf-16"),
                ),
                (".DS_Store", bytes(20)),
            ]
        ),
        "a.zip",
        "",
        {},
        (IMPORTED, 4, 1),
    ),
    "zip bomb": (zip_bomb, "a.zip", "", {}, (REFUSED, ["larger than 5 MB"])),
    "zip over its total": (
        lambda: zip_bytes([(f"part{i}.csv", padded_to(400_000)) for i in range(3)]),
        "a.zip",
        "",
        {"CALL_LIST_MAX_TOTAL_BYTES": MB},
        (REFUSED, ["unpacks to more than 1 MB"]),
    ),
    "zip whose header lies about the size": (
        lambda: lying_size(zip_bytes([("a.csv", padded_to(200_000))])),
        "a.zip",
        "",
        {},
        (REFUSED, ["damaged"]),
    ),
    "zip with ../ names": (
        lambda: zip_bytes([("../../evil.csv", table().encode())]),
        "a.zip",
        "",
        {},
        (REFUSED, ["unsafe name"]),
    ),
    "zip with an absolute name": (
        lambda: zip_bytes([("/tmp/evil.csv", table().encode())]),
        "a.zip",
        "",
        {},
        (REFUSED, ["unsafe name"]),
    ),
    "nested zip": (
        lambda: zip_bytes([("inner.zip", zip_bytes([("a.csv", table().encode())]))]),
        "a.zip",
        "",
        {},
        (REFUSED, ["inside archives"]),
    ),
    "zip renamed csv inside zip": (
        lambda: zip_bytes([("a.csv", zip_bytes([("a.csv", table().encode())]))]),
        "a.zip",
        "",
        {},
        (REFUSED, ["ZIP archive"]),
    ),
    "encrypted zip": (
        lambda: set_encrypted_flag(zip_bytes([("a.csv", table().encode())])),
        "a.zip",
        "",
        {},
        (REFUSED, ["password"]),
    ),
    "zip with a non-csv member": (
        lambda: zip_bytes([("a.csv", table().encode()), ("notes.txt", b"hello")]),
        "a.zip",
        "",
        {},
        (REFUSED, ["notes.txt", "only CSV"]),
    ),
    "zip with too many csvs": (
        lambda: zip_bytes([(f"{i}.csv", table().encode()) for i in range(21)]),
        "a.zip",
        "",
        {},
        (REFUSED, ["more than 20"]),
    ),
    "zip with thousands of entries": (
        lambda: zip_bytes([(f"d{i}/", b"") for i in range(3000)], zipfile.ZIP_STORED),
        "a.zip",
        "",
        {},
        (REFUSED, ["more than 20"]),
    ),
    "empty zip": (lambda: zip_bytes([]), "a.zip", "", {}, (REFUSED, ["no CSV"])),
    "truncated zip": (
        lambda: zip_bytes([("a.csv", table().encode())])[:-30],
        "a.zip",
        "",
        {},
        (REFUSED, ["not a readable ZIP"]),
    ),
    "csv named .zip": (lambda: table().encode(), "a.zip", "", {}, (REFUSED, ["not a readable ZIP"])),
    "zip with unsupported compression": (
        lambda: compression_method(zip_bytes([("a.csv", table().encode())]), 99),
        "a.zip",
        "",
        {},
        (REFUSED, ["cannot be read"]),
    ),
}


@pytest.mark.parametrize("name", list(CORPUS))
def test_every_file_is_imported_with_its_report_or_refused_with_its_sentence(name, import_file, settings, tmp_path):
    build, filename, encoding, overrides, expected = CORPUS[name]
    for key, value in overrides.items():
        setattr(settings, key, value)

    contact_list = import_file(build(), filename=filename, encoding=encoding)

    contacts = Contact.objects.filter(contact_list=contact_list).count()
    rejected = RejectedRow.objects.filter(contact_list=contact_list).count()
    assert contacts == contact_list.imported_count
    assert rejected == contact_list.rejected_count
    if expected[0] == IMPORTED:
        assert contact_list.status == ContactList.Status.IMPORTED, contact_list.error
        if expected[1] is not None:
            assert contacts == expected[1], list(contact_list.rejected_rows.values_list("reason", flat=True))
        assert rejected == expected[2]
    else:
        assert contact_list.status == ContactList.Status.REFUSED
        assert contacts == rejected == 0
        sentence = contact_list.error
        assert sentence.endswith(".") and "\n" not in sentence and len(sentence) < 300
        for word in expected[1]:
            assert word in sentence, sentence
    # Nothing is ever extracted: the media folder holds the stored uploads and nothing else.
    media = Path(settings.MEDIA_ROOT)
    assert {p.relative_to(media).parts[0] for p in media.rglob("*")} <= {"call_lists"}
    assert not list(tmp_path.parent.rglob("evil.csv"))


def test_a_zip_of_several_csvs_names_the_member_in_its_report(import_file):
    contact_list = import_file(CORPUS["zip of two csvs with mac junk"][0](), filename="a.zip")

    (rejection,) = RejectedRow.objects.filter(contact_list=contact_list)
    assert rejection.line == 3
    assert rejection.reason.startswith("lists/b.csv: ")
    assert 'at line 2 of "lists/a.csv"' in rejection.reason
    lines = sorted(Contact.objects.filter(contact_list=contact_list).values_list("line", flat=True))
    assert lines == [2, 2, 3, 4]
