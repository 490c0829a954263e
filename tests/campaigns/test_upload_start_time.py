"""A start time in the file's name that has passed (the provider's own example is in 2020): refused
with one sentence in the importer, so every channel says the same, unless the manager confirms
"start now" in the browser; the name of a CSV inside a ZIP counts too."""

import datetime
import io
import json
import zipfile
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from campaigns.importing import FileRefused, StartTimePassed, contact_list_create, contact_list_import
from campaigns.models import ContactList

pytestmark = pytest.mark.django_db
IST = ZoneInfo("Asia/Kolkata")
ROWS = b"tel1\n919812345678\n919812345679\n"
PROVIDERS_EXAMPLE = "upload_08022020211200.csv"  # 8 Feb 2020 21:12, from the provider's page


def stamp(moment: datetime.datetime) -> str:
    return f"upload_{moment.astimezone(IST):%d%m%Y%H%M%S}"


def zipped(*members: tuple[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    return out.getvalue()


def create(flow, data: bytes, filename: str, **options) -> ContactList:
    return contact_list_create(flow=flow, fileobj=io.BytesIO(data), filename=filename, source="upload", **options)


def test_the_providers_own_2020_example_is_refused_with_one_sentence(flow):
    with pytest.raises(StartTimePassed) as refused:
        create(flow, ROWS, PROVIDERS_EXAMPLE)

    assert refused.value.message == (
        "The start time in the file name, 08 Feb 2020 21:12 (Asia/Kolkata), has passed; rename the file with a "
        "time still to come, or without its upload_ddMMyyyyHHmmss to call at once."
    )
    contact_list = refused.value.contact_list
    assert contact_list.status == ContactList.Status.REFUSED and contact_list.error == refused.value.message
    assert not contact_list.stored_file and not contact_list.contacts.exists()


def test_start_now_takes_the_file_and_its_rows_start_at_once(flow):
    before = timezone.now()

    contact_list = contact_list_import(contact_list_id=create(flow, ROWS, PROVIDERS_EXAMPLE, start_now=True).pk)

    assert contact_list.status == ContactList.Status.IMPORTED and contact_list.imported_count == 2
    assert before <= contact_list.common_start_at <= timezone.now()


def test_a_time_to_come_and_one_just_passed_are_taken_as_named(flow):
    later = timezone.now() + datetime.timedelta(days=2)
    just_passed = timezone.now() - datetime.timedelta(minutes=5)

    ahead = create(flow, ROWS, f"{stamp(later)}.csv")
    arriving = create(flow, ROWS, f"C129113_o9vJavuB_{stamp(just_passed)}.csv")

    assert ahead.common_start_at == later.replace(microsecond=0)
    assert arriving.common_start_at == just_passed.replace(microsecond=0)


def test_the_name_of_a_csv_inside_a_zip_gives_the_start_time(flow):
    later = timezone.now() + datetime.timedelta(days=1)

    contact_list = create(flow, zipped((f"march_{stamp(later)}.csv", ROWS)), "lists.zip")

    assert contact_list.common_start_at == later.replace(microsecond=0)
    assert contact_list_import(contact_list_id=contact_list.pk).imported_count == 2


def test_a_past_start_time_inside_a_zip_is_refused_naming_the_csv(flow):
    with pytest.raises(StartTimePassed) as refused:
        create(flow, zipped((f"folder/{PROVIDERS_EXAMPLE}", ROWS)), "lists.zip")

    assert refused.value.message.startswith(
        f'The start time in the name of "{PROVIDERS_EXAMPLE}" inside the ZIP, 08 Feb 2020 21:12 (Asia/Kolkata), '
        "has passed;"
    )


def test_csvs_in_a_zip_naming_different_start_times_are_refused(flow):
    first, second = (timezone.now() + datetime.timedelta(days=days) for days in (1, 2))

    with pytest.raises(FileRefused) as refused:
        create(flow, zipped((f"a_{stamp(first)}.csv", ROWS), (f"b_{stamp(second)}.csv", ROWS)), "lists.zip")

    assert "name different start times" in refused.value.message


def test_the_upload_page_refuses_a_past_start_unless_start_now_is_ticked(client, flow):
    # given a manager of the flow's account
    alice = get_user_model().objects.create_user("alice")
    flow.account.managers.add(alice)
    client.force_login(alice)

    # when she uploads the provider's example without ticking "Start now"
    refused = client.post(
        reverse("list_upload"), {"flow": flow.pk, "file": SimpleUploadedFile(PROVIDERS_EXAMPLE, ROWS)},
        HTTP_ACCEPT="application/json",
    )

    # then the page says why, and how to call it at once
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert "08 Feb 2020 21:12 (Asia/Kolkata), has passed" in error and "tick “Start now”" in error

    # when she ticks it and uploads again
    taken = client.post(
        reverse("list_upload"),
        {"flow": flow.pk, "file": SimpleUploadedFile(PROVIDERS_EXAMPLE, ROWS), "start_now": "on"},
        HTTP_ACCEPT="application/json",
    )

    # then the list is taken, to start at once
    assert taken.status_code == 201
    contact_list = ContactList.objects.get(pk=taken.json()["id"])
    assert contact_list.status == ContactList.Status.PENDING and contact_list.common_start_at <= timezone.now()


def test_the_upload_form_offers_start_now(client, flow):
    alice = get_user_model().objects.create_user("alice")
    flow.account.managers.add(alice)
    client.force_login(alice)

    page = client.get(reverse("list_index")).content.decode()

    assert 'name="start_now"' in page and "Start now" in page


def test_import_contacts_refuses_it_too_and_takes_it_with_start_now(flow, tmp_path, capsys):
    path = tmp_path / PROVIDERS_EXAMPLE
    path.write_bytes(ROWS)

    with pytest.raises(SystemExit) as exited:
        call_command("import_contacts", str(path), "--flow", flow.flow_id)
    refused = json.loads(capsys.readouterr().out)
    call_command("import_contacts", str(path), "--flow", flow.flow_id, "--start-now")
    taken = json.loads(capsys.readouterr().out)

    assert exited.value.code == 1 and "has passed" in refused["error"]
    assert taken["imported"] == 2
