import datetime
import io
import os
import zipfile
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

import pytest

from campaigns.importing import (
    FileRefused,
    common_start_from_filename,
    contact_list_create,
    contact_list_import,
    preview_rows,
)
from campaigns.importing import rows as import_rows
from campaigns.models import Contact, ContactList, RejectedRow
from campaigns.tasks import import_contact_list_task

IST = ZoneInfo("Asia/Kolkata")
pytestmark = pytest.mark.django_db


def csv_bytes(*lines, newline="\r\n", encoding="utf-8"):
    return (newline.join(lines) + newline).encode(encoding)


def contacts_of(contact_list):
    return list(Contact.objects.filter(contact_list=contact_list).order_by("line"))


def rejections_of(contact_list):
    return list(
        RejectedRow.objects.filter(contact_list=contact_list)
        .order_by("line")
        .values_list("line", "column", "value", "reason")
    )


def test_it_imports_numbers_variables_start_times_and_identifiers(import_file):
    data = csv_bytes(
        "client-identifier,tel1,tel2,tel3,starttime,$flow.key.Name,$flow.key.amount",
        'A-1,+91 98123 45678,09887654321,,2099-01-15T10:30:00+05:30,"Abhinandan, Jr.",1200',
        "A-2,919812345679,9887654322,919812345679,2099-01-15 10:30,Asha,",
    )

    contact_list = import_file(data)

    assert contact_list.status == ContactList.Status.IMPORTED, contact_list.error
    assert (contact_list.imported_count, contact_list.rejected_count, contact_list.rows_done) == (2, 0, 2), (
        rejections_of(contact_list)
    )
    first, second = contacts_of(contact_list)
    assert first.line == 2 and second.line == 3
    assert first.primary_number == "919812345678"
    assert first.numbers == ["919812345678", "919887654321"]
    assert first.variables == {"Name": "Abhinandan, Jr.", "amount": "1200"}
    assert first.external_id == "A-1"
    assert first.start_at == datetime.datetime(2099, 1, 15, 10, 30, tzinfo=IST)
    # The repeated alternate is kept once; no offset means Asia/Kolkata.
    assert second.numbers == ["919812345679", "919887654322"]
    assert second.variables == {"Name": "Asha", "amount": ""}
    assert second.start_at == datetime.datetime(2099, 1, 15, 5, 0, tzinfo=datetime.UTC)
    assert contact_list.started_at and contact_list.finished_at and contact_list.rows_per_second


def test_cells_with_backslashes_tabs_and_line_breaks_are_stored_exactly_as_written(import_file):
    # On PostgreSQL contacts go in as lines of COPY's text format, where these characters mean something.
    variables = ["C:\\new\\table", "tab\there", "two\nlines", "cr\rhere", "\\N", "\\.", 'say "hi"', "नमस्ते \\u0041"]
    identifiers = ["ID\\1", "ID\t2", "ID\n3", "\\N", "\\.", "ID\r6", "ID 7", "अ-8"]
    lines = ["client-identifier,tel1,$flow.key.note"]
    for index, (identifier, value) in enumerate(zip(identifiers, variables, strict=True)):
        quoted = [f'"{cell.replace(chr(34), chr(34) * 2)}"' for cell in (identifier, value)]
        lines.append(f"{quoted[0]},+91 98123 4{index:04d},{quoted[1]}")

    contact_list = import_file(csv_bytes(*lines, newline="\n"))

    assert contact_list.status == ContactList.Status.IMPORTED, contact_list.error
    assert [(c.external_id, c.variables) for c in contacts_of(contact_list)] == [
        (identifier, {"note": value}) for identifier, value in zip(identifiers, variables, strict=True)
    ]
    assert contacts_of(contact_list)[0].numbers == ["919812340000"]


@pytest.mark.parametrize(
    "header",
    [
        "Tel 1,TEL2,$flow.key.Name",
        " tel_1 , Tel-2 ,$FLOW.KEY.Name",
        '"TEL1";"tel 2";"$flow.key. Name"',
        "tel1|tel2|Name",
    ],
)
def test_it_reads_header_names_in_any_case_and_spacing(import_file, header):
    delimiter = ";" if ";" in header else "|" if "|" in header else ","
    data = csv_bytes(header, delimiter.join(["919812345678", "919887654321", "Ravi"]))

    contact_list = import_file(data)

    assert contact_list.status == ContactList.Status.IMPORTED, contact_list.error
    (contact,) = contacts_of(contact_list)
    assert contact.numbers == ["919812345678", "919887654321"]
    assert contact.variables == {"Name": "Ravi"}


def test_it_sniffs_tab_delimited_utf16_as_excel_unicode_text_writes_it(import_file):
    data = csv_bytes("tel1\t$flow.key.name", "919812345678\tज़ोया", encoding="utf-16")

    contact_list = import_file(data)

    assert contact_list.status == ContactList.Status.IMPORTED, contact_list.error
    assert contacts_of(contact_list)[0].variables == {"name": "ज़ोया"}


def test_it_decodes_cp1252_only_when_chosen(import_file):
    data = csv_bytes("tel1,$flow.key.name", "919812345678,José €5", encoding="cp1252")

    guessed = import_file(data)
    chosen = import_file(data, encoding="cp1252")

    assert guessed.status == ContactList.Status.REFUSED
    assert "not valid UTF-8" in guessed.error and "Windows-1252" in guessed.error
    assert chosen.status == ContactList.Status.IMPORTED, chosen.error
    assert contacts_of(chosen)[0].variables == {"name": "José €5"}


def test_it_rejects_bad_rows_with_line_column_and_reason(import_file):
    data = csv_bytes(
        "tel1,tel2,starttime,$flow.key.name",
        "919812345678,,,first",  # 2: imported
        ",919887654321,,no tel1",  # 3
        "12345,,,short",  # 4
        "919812345679,99,,bad alternate",  # 5
        "919812345680,,not a date,x",  # 6
        "919812345681,,2020-02-08T21:12:00+05:30,past",  # 7
        "+91 98123 45678,,,duplicate",  # 8
        "919812345682,98000,,short alternate",  # 9
        "9.19812E+11,,,excel",  # 10
        ",,,",  # 11: blank, skipped
        "919812345683,,,x,unexpected",  # 12
        "919812345684,,,last",  # 13: imported
    )

    contact_list = import_file(data)

    assert contact_list.status == ContactList.Status.IMPORTED
    assert [c.line for c in contacts_of(contact_list)] == [2, 13]
    rejected = rejections_of(contact_list)
    assert [(line, column) for line, column, _, _ in rejected] == [
        (3, "tel1"),
        (4, "tel1"),
        (5, "tel2"),
        (6, "starttime"),
        (7, "starttime"),
        (8, "tel1"),
        (9, "tel2"),
        (10, "tel1"),
        (12, ""),
    ]
    reasons = {line: reason for line, _, _, reason in rejected}
    assert "empty" in reasons[3]
    assert "not a valid phone number" in reasons[4]
    assert "not a date" in reasons[6]
    assert "past date" in reasons[7]
    assert "already in this list at line 2" in reasons[8]
    assert "not a valid phone number" in reasons[9]
    assert "scientific notation" in reasons[10]
    assert "cells" in reasons[12]
    assert (contact_list.imported_count, contact_list.rejected_count, contact_list.rows_done) == (2, 9, 11)


def test_a_past_time_on_todays_date_is_accepted(import_file):
    today = datetime.datetime.now(IST).date()
    data = csv_bytes("tel1,starttime", f"919812345678,{today.isoformat()}T00:00:01")

    contact_list = import_file(data)

    assert contact_list.imported_count == 1, rejections_of(contact_list)


def test_it_reads_the_common_start_time_from_the_file_name():
    expected = datetime.datetime(2020, 2, 8, 21, 12, tzinfo=IST)
    assert common_start_from_filename("upload_08022020211200.csv") == expected
    assert common_start_from_filename("C129113_o9vJavuB_upload_08022020211200.csv") == expected
    assert common_start_from_filename("C129113_o9vJavuB.csv") is None


def test_it_stores_the_common_start_time_and_refuses_an_impossible_one(import_file):
    good = import_file(csv_bytes("tel1", "919812345678"), filename="C129113_o9vJavuB_upload_08022030211200.csv")
    bad = import_file(csv_bytes("tel1", "919812345678"), filename="upload_32132020211200.csv")

    assert good.common_start_at == datetime.datetime(2030, 2, 8, 21, 12, tzinfo=IST)
    assert bad.status == ContactList.Status.REFUSED and "file name" in bad.error


def test_create_stores_the_upload_privately_under_a_generated_name(flow, settings):
    contact_list = contact_list_create(
        flow=flow, fileobj=io.BytesIO(b"tel1\n919812345678\n"), filename="../../etc/passwd.csv", source="upload"
    )

    path = Path(settings.MEDIA_ROOT) / contact_list.stored_file
    assert contact_list.status == ContactList.Status.PENDING
    assert path.parent == Path(settings.MEDIA_ROOT) / "call_lists"
    assert "passwd" not in path.name and path.read_bytes() == b"tel1\n919812345678\n"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert contact_list.original_filename == "passwd.csv"


def test_create_refuses_other_extensions_and_oversized_uploads(flow, settings):
    settings.UPLOAD_MAX_BYTES = 100
    with pytest.raises(FileRefused) as wrong_type:
        contact_list_create(flow=flow, fileobj=io.BytesIO(b"x"), filename="list.xlsx", source="upload")
    with pytest.raises(FileRefused) as too_big:
        contact_list_create(flow=flow, fileobj=io.BytesIO(b"x" * 101), filename="list.csv", source="upload")

    assert ".csv and .zip" in wrong_type.value.message
    assert "larger than 100 bytes" in too_big.value.message
    assert ContactList.objects.filter(status=ContactList.Status.REFUSED).count() == 2
    assert not list((Path(settings.MEDIA_ROOT) / "call_lists").glob("*"))


def test_importing_twice_does_nothing_the_second_time(import_file):
    contact_list = import_file(csv_bytes("tel1", "919812345678"))

    again = contact_list_import(contact_list_id=contact_list.pk)

    assert again.status == ContactList.Status.IMPORTED
    assert Contact.objects.filter(contact_list=contact_list).count() == 1


def test_a_stale_import_is_restarted_and_a_live_one_left_alone(flow):
    created = contact_list_create(
        flow=flow, fileobj=io.BytesIO(b"tel1\n919812345678\n"), filename="a.csv", source="upload"
    )
    Contact.objects.create(contact_list=created, line=2, primary_number="919800000000", numbers=["919800000000"])
    ContactList.objects.filter(pk=created.pk).update(
        status=ContactList.Status.IMPORTING, started_at=datetime.datetime.now(datetime.UTC)
    )

    live = contact_list_import(contact_list_id=created.pk)
    assert live.status == ContactList.Status.IMPORTING

    ContactList.objects.filter(pk=created.pk).update(
        started_at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=11)
    )
    restarted = contact_list_import(contact_list_id=created.pk)

    assert restarted.status == ContactList.Status.IMPORTED
    assert [c.primary_number for c in contacts_of(restarted)] == ["919812345678"]


def test_progress_is_committed_chunk_by_chunk_with_consistent_counts(import_file, settings):
    settings.CALL_LIST_CHUNK_ROWS = 3
    rows = [f"9198123456{i:02d}" for i in range(10)] + ["bad"]
    seen = []
    real_insert = import_rows.insert_rows

    def watching_insert(model, columns, rows_):
        real_insert(model, columns, rows_)
        if model is RejectedRow:
            seen.append(len(rows_))

    with mock.patch.object(import_rows, "insert_rows", watching_insert):
        contact_list = import_file(csv_bytes("tel1", *rows))

    assert len(seen) == 4  # 3 + 3 + 3 + 2 rows
    assert (contact_list.imported_count, contact_list.rejected_count) == (10, 1)
    assert Contact.objects.filter(contact_list=contact_list).count() == 10


def test_an_import_failing_half_way_is_marked_failed_and_leaves_no_rows(import_file, settings):
    settings.CALL_LIST_CHUNK_ROWS = 2
    real_insert = import_rows.insert_rows
    calls = []

    def failing_insert(model, columns, rows):
        calls.append(model)
        if len(calls) > 2:
            raise RuntimeError("disk full")
        real_insert(model, columns, rows)

    with mock.patch.object(import_rows, "insert_rows", failing_insert):
        contact_list = import_file(csv_bytes("tel1", *[f"9198123456{i:02d}" for i in range(6)]))

    assert contact_list.status == ContactList.Status.FAILED
    assert "failed" in contact_list.error
    assert Contact.objects.filter(contact_list=contact_list).count() == 0 == contact_list.imported_count


def test_a_refusal_half_way_deletes_committed_chunks(import_file, settings):
    settings.CALL_LIST_CHUNK_ROWS = 2
    settings.CALL_LIST_MAX_ROWS = 5

    contact_list = import_file(csv_bytes("tel1", *[f"9198123456{i:02d}" for i in range(6)]))

    assert contact_list.status == ContactList.Status.REFUSED
    assert "more than 5 rows" in contact_list.error
    assert not Contact.objects.filter(contact_list=contact_list).exists()
    assert contact_list.imported_count == 0


def test_an_import_restarted_elsewhere_stops_without_touching_the_list(flow):
    created = contact_list_create(
        flow=flow, fileobj=io.BytesIO(b"tel1\n919812345678\n"), filename="a.csv", source="upload"
    )
    real_flush = import_rows.ListImport._flush

    def restarted_elsewhere(self, final=False):
        ContactList.objects.filter(pk=created.pk).update(started_at=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))
        real_flush(self, final)

    with mock.patch.object(import_rows.ListImport, "_flush", restarted_elsewhere):
        result = contact_list_import(contact_list_id=created.pk)

    assert result.status == ContactList.Status.IMPORTING
    assert not Contact.objects.filter(contact_list=created).exists()


def test_the_task_imports_the_list(flow):
    created = contact_list_create(
        flow=flow, fileobj=io.BytesIO(b"tel1\n919812345678\n"), filename="a.csv", source="upload"
    )

    import_contact_list_task.apply(args=[created.pk])

    assert ContactList.objects.get(pk=created.pk).imported_count == 1


def test_a_missing_stored_file_fails_the_import(flow, settings):
    created = contact_list_create(
        flow=flow, fileobj=io.BytesIO(b"tel1\n919812345678\n"), filename="a.csv", source="upload"
    )
    os.unlink(Path(settings.MEDIA_ROOT) / created.stored_file)

    result = contact_list_import(contact_list_id=created.pk)

    assert result.status == ContactList.Status.FAILED and "no longer" in result.error


def test_preview_reads_the_header_and_first_rows_and_rewinds():
    upload = io.BytesIO(
        csv_bytes("TEL 1;Start Time;$flow.key.Name;client id", *[f"91981234567{i};;N{i};" for i in range(9)])
    )
    upload.seek(0)

    preview = preview_rows(fileobj=upload, filename="x.csv", limit=3)

    assert preview["error"] is None
    assert preview["columns"] == ["tel1", "starttime", "$flow.key.Name", "client-identifier"]
    assert preview["rows"] == [
        ["919812345670", "", "N0", ""],
        ["919812345671", "", "N1", ""],
        ["919812345672", "", "N2", ""],
    ]
    assert upload.tell() == 0


def test_preview_says_why_a_file_would_be_refused():
    preview = preview_rows(fileobj=io.BytesIO(b"name,city\nA,1\n"), filename="x.csv")

    assert preview["error"] and "no tel1 column" in preview["error"]


def test_preview_reads_the_first_csv_of_a_zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", "tel1,$flow.key.name\n919812345678,Asha\n")
        archive.writestr("b.csv", "tel1\n919812345679\n")

    preview = preview_rows(fileobj=buffer, filename="lists.zip")

    shown = {key: preview[key] for key in ("columns", "rows", "error", "header_cells")}
    assert shown == {"columns": ["tel1", "$flow.key.name"], "rows": [["919812345678", "Asha"]], "error": None,
                     "header_cells": ["tel1", "$flow.key.name"]}
