"""Do-not-call lists in bulk: `import_dnc` (add, --replace, --remove), `export_dnc`, the loader's
reading of registry files, and the import of call lists, which no longer consults the lists."""

import io
import json
import zipfile

import pytest
from django.core.management import call_command

from campaigns.donotcall.lists import dnc_entries_add, dnc_own_list
from campaigns.donotcall.loading import dnc_upload_create, dnc_upload_run
from campaigns.models import DoNotCallEntry, DoNotCallList, DoNotCallUpload
from flows.models import Account

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[int, dict | str]:
    out = io.StringIO()
    try:
        call_command(*args, stdout=out)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    text = out.getvalue()
    try:
        return code, json.loads(text)
    except ValueError:
        return code, text


def numbers_of(dnc_list) -> list[int]:
    return list(DoNotCallEntry.objects.filter(dnc_list=dnc_list).order_by("number").values_list("number", flat=True))


@pytest.fixture
def registry(db):
    return DoNotCallList.objects.create(name="National registry")


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_dnc_loads_a_file_into_an_accounts_own_list_and_prints_the_outcome(tmp_path, account):
    path = write(tmp_path, "optouts.csv", "919812345678\n+91 98123 45679\n\n9812345680\nnot a number\n919812345678\n")

    code, printed = run("import_dnc", str(path), "--account", account.client_id, "--reason", "opted out by SMS")

    assert code == 0
    assert printed == {
        "imported": 4, "rejected": 1, "list": "Acme Lending opt-outs", "added": 3, "removed": 0, "entries": 3,
    }
    own = dnc_own_list(account=account)
    assert numbers_of(own) == [919812345678, 919812345679, 919812345680]
    assert set(DoNotCallEntry.objects.values_list("source", "reason")) == {("upload", "opted out by SMS")}
    upload = DoNotCallUpload.objects.get()
    assert (upload.status, upload.original_filename, upload.rows_done) == ("done", "optouts.csv", 5)


def test_import_dnc_reads_the_number_column_of_a_csv_with_a_header(tmp_path, registry):
    path = write(tmp_path, "registry.csv", "name;Mobile Number;circle\nA;919812345678;MH\nB;919812345679;KA\n")

    code, printed = run("import_dnc", str(path), "--list", "National registry")

    assert code == 0 and printed["imported"] == 2
    assert numbers_of(registry) == [919812345678, 919812345679]


def test_import_dnc_reads_every_csv_of_a_zip(tmp_path, registry):
    path = tmp_path / "registry.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("part1.csv", "919812345678\n919812345679\n")
        archive.writestr("part2.csv", "number\n919812345680\n")

    code, printed = run("import_dnc", str(path), "--list", "National registry")

    assert code == 0 and (printed["imported"], printed["entries"]) == (3, 3)


def test_import_dnc_adds_to_what_is_listed_and_keeps_the_first_entry(tmp_path, registry):
    dnc_entries_add(dnc_list=registry, numbers=["919812345678"], reason="typed by hand")
    path = write(tmp_path, "more.csv", "919812345678\n919812345679\n")

    code, printed = run("import_dnc", str(path), "--list", "National registry", "--reason", "registry")

    assert code == 0 and (printed["added"], printed["entries"]) == (1, 2)
    assert dict(DoNotCallEntry.objects.values_list("number", "reason")) == {
        919812345678: "typed by hand", 919812345679: "registry",
    }


def test_import_dnc_replace_leaves_exactly_the_files_numbers(tmp_path, registry):
    dnc_entries_add(dnc_list=registry, numbers=["919812345678", "919812345679"], reason="old")
    path = write(tmp_path, "new.csv", "919812345679\n919812345680\n")

    code, printed = run("import_dnc", str(path), "--list", "National registry", "--replace")

    assert code == 0
    assert (printed["imported"], printed["added"], printed["removed"], printed["entries"]) == (2, 1, 1, 2)
    assert numbers_of(registry) == [919812345679, 919812345680]
    assert DoNotCallEntry.objects.get(number=919812345679).reason == "old"  # kept, not re-created


def test_import_dnc_remove_takes_the_files_numbers_off(tmp_path, registry):
    dnc_entries_add(dnc_list=registry, numbers=["919812345678", "919812345679"])
    path = write(tmp_path, "gone.csv", "919812345678\n919812345670\n")

    code, printed = run("import_dnc", str(path), "--list", "National registry", "--remove")

    assert code == 0 and (printed["removed"], printed["entries"]) == (1, 1)
    assert numbers_of(registry) == [919812345679]


def test_import_dnc_keeps_its_lists_apart(tmp_path, registry, account):
    path = write(tmp_path, "a.csv", "919812345678\n")

    run("import_dnc", str(path), "--list", "National registry")
    run("import_dnc", str(path), "--account", account.client_id)

    assert numbers_of(registry) == numbers_of(dnc_own_list(account=account)) == [919812345678]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--list", "Natonal registry"], 'No global do-not-call list is named "Natonal registry"'),
        (["--account", "C404"], 'No account has the client ID "C404"'),
        (["--list", "National registry", "--expires-on", "31/12/2026"], "is not a date"),
    ],
)
def test_import_dnc_refuses_what_it_cannot_do_in_one_sentence(tmp_path, registry, args, error):
    path = write(tmp_path, "a.csv", "919812345678\n")

    code, printed = run("import_dnc", str(path), *args)

    assert code == 1 and error in printed["error"]
    assert not DoNotCallEntry.objects.exists()


def test_a_file_without_a_single_valid_number_is_refused_and_changes_nothing(tmp_path, registry):
    dnc_entries_add(dnc_list=registry, numbers=["919812345678"])
    path = write(tmp_path, "bad.csv", "number\nabc\n12345\n")

    code, printed = run("import_dnc", str(path), "--list", "National registry", "--replace")

    assert code == 1 and 'line 2: "abc"' in printed["error"]
    assert numbers_of(registry) == [919812345678]


def test_a_file_larger_than_a_call_list_may_be_is_loaded(tmp_path, registry, settings):
    settings.CALL_LIST_MAX_BYTES = 1000
    path = write(tmp_path, "big.csv", "".join(f"9198{i:08d}\n" for i in range(2000)))

    code, printed = run("import_dnc", str(path), "--list", "National registry")

    assert code == 0 and printed["entries"] == 2000


def test_expiry_and_source_are_recorded(tmp_path, registry):
    path = write(tmp_path, "a.csv", "919812345678\n")

    run("import_dnc", str(path), "--list", "National registry", "--expires-on", "2027-01-31", "--source", "api")

    entry = DoNotCallEntry.objects.get()
    assert (str(entry.expires_on), entry.source) == ("2027-01-31", "api")


def test_export_dnc_writes_every_entry_in_number_order(tmp_path, registry):
    dnc_entries_add(dnc_list=registry, numbers=["919812345679", "919812345678"], reason="=cmd|' /C calc'!A0")
    out = tmp_path / "export.csv"

    code, printed = run("export_dnc", "--list", "National registry", "-o", str(out))

    assert code == 0 and printed == {"exported": 2, "list": "National registry", "file": str(out.resolve())}
    lines = out.read_text().splitlines()
    assert lines[0] == "number,source,reason,expires_on,added_by,created_at"
    assert [line.split(",")[0] for line in lines[1:]] == ["919812345678", "919812345679"]
    assert ",manager,'=cmd|' /C calc'!A0,," in lines[1]  # a formula is defused for spreadsheets


def test_an_upload_from_the_pages_runs_once_with_its_progress(tmp_path, registry, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    upload = dnc_upload_create(
        dnc_list=registry, fileobj=io.BytesIO(b"919812345678\n919812345679\n"), filename="optouts.csv",
    )
    assert upload.status == DoNotCallUpload.Status.PENDING

    done = dnc_upload_run(upload_id=upload.pk)
    again = dnc_upload_run(upload_id=upload.pk)

    assert (done.status, done.rows_done, done.added_count) == ("done", 2, 2)
    assert again.finished_at == done.finished_at
    assert numbers_of(registry) == [919812345678, 919812345679]


def test_a_call_list_imports_numbers_on_the_do_not_call_list(import_file, account):
    """They are skipped when the calls are planned (tests/dialer/test_eligibility.py); the import
    neither loads the list nor rejects them, so a number whose entry expires can still be called."""
    dnc_entries_add(dnc_list=dnc_own_list(account=account), numbers=["919812345678"])

    contact_list = import_file(b"tel1\n919812345678\n919812345679\n")

    assert (contact_list.imported_count, contact_list.rejected_count) == (2, 0)


def test_an_own_list_is_named_after_its_account_and_made_once(account):
    first = dnc_own_list(account=account)
    second = dnc_own_list(account=Account.objects.get(pk=account.pk))

    assert first == second and first.name == "Acme Lending opt-outs" and not first.is_global
