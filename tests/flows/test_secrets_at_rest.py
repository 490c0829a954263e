"""Secrets at rest: security-ids and intake credentials are stored encrypted, survive key rotation
with the old key dropped, and never appear in clear in a database dump."""

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from campaigns.models import Campaign
from core.encrypted_fields import TOKEN_PREFIX, encrypted_models
from dialer.models import Batch
from flows.models import Flow
from intake.models import MailIntake, SftpIntake
from tests.factories import make_contact_list, make_flow

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
SECRETS = ["sec-Alpha-7c1e9f", "sec-Bravo-2b8d40", "sec-Charlie-93aa1d"]
INTAKE_SECRETS = ["imap-pw-5d2f7e", "smtp-pw-8a1c3b", "sftp-pw-0e9d6c", "sftp-passphrase-4f7a2e",
                  "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-test-only\n"]


def stored(model, field) -> list:
    """The values as the database holds them, read past the field's decryption."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote(field.column)} FROM {quote(model._meta.db_table)}")
        return [row[0] for row in cursor.fetchall()]


def table_exists(model) -> bool:
    return model._meta.db_table in connection.introspection.table_names()


def make_secrets() -> None:
    for index, secret in enumerate(SECRETS):
        make_flow(flow_id=f"FLOW000{index}", security_id=secret)

    if table_exists(MailIntake):  # the intake channels' migration may not be in this tree yet
        MailIntake.objects.create(
            name="inbox", imap_host="127.0.0.1", username="lists", password=INTAKE_SECRETS[0],
            smtp_host="127.0.0.1", smtp_password=INTAKE_SECRETS[1], from_address="lists@example.com",
        )
        SftpIntake.objects.create(
            name="drop", account=Flow.objects.first().account, host="127.0.0.1", username="u",
            password=INTAKE_SECRETS[2], private_key_passphrase=INTAKE_SECRETS[3], private_key=INTAKE_SECRETS[4],
        )


def every_stored_value() -> list:
    return [
        value for model, fields in encrypted_models() for field in fields for value in stored(model, field) if value
    ]


def all_secrets() -> list[str]:
    return SECRETS + INTAKE_SECRETS


@pytest.mark.django_db
def test_security_ids_and_intake_credentials_are_stored_as_tokens(settings):
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    make_secrets()

    values = every_stored_value()
    assert len(values) >= len(SECRETS)
    for value in values:
        assert value.startswith(TOKEN_PREFIX)
        assert not any(secret in value for secret in all_secrets())
    assert sorted(Flow.objects.values_list("security_id", flat=True)) == sorted(SECRETS)


@pytest.mark.django_db
def test_key_rotation_reencrypts_every_secret_and_the_old_key_can_then_be_dropped(settings):
    # given secrets written under the old key
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    make_secrets()
    before = every_stored_value()
    clear = {model._meta.label: sorted(
        getattr(row, field.name) for row in model.objects.all() for field in fields if getattr(row, field.name)
    ) for model, fields in encrypted_models()}

    # when a new key is put first, the check says the old key is still needed
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    with pytest.raises(CommandError):
        call_command("rotate_encryption_keys", "--check", stdout=io.StringIO())
    # and rotation runs (in batches smaller than the table)
    out = io.StringIO()
    call_command("rotate_encryption_keys", "--batch-size", "2", stdout=out)

    # then it reports every row of every model with encrypted fields
    counts = json.loads(out.getvalue())
    assert counts["flows.Flow"] == {"rows": 3, "rotated": 3, "changed": 0}
    for model, _ in encrypted_models():
        assert counts[model._meta.label]["rotated"] == model.objects.count()
    # every stored token changed, and the check passes
    after = every_stored_value()
    assert len(after) == len(before) and not set(after) & set(before)
    call_command("rotate_encryption_keys", "--check", stdout=io.StringIO())

    # and with the old key dropped, every row still decrypts to the same clear value
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    for model, fields in encrypted_models():
        assert clear[model._meta.label] == sorted(
            getattr(row, field.name) for row in model.objects.all() for field in fields if getattr(row, field.name)
        )


@pytest.mark.django_db
def test_dropping_a_key_before_rotation_fails_loudly(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    make_flow(security_id=SECRETS[0])
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(ImproperlyConfigured, match="dropped too early"):
        list(Flow.objects.all())


@pytest.mark.django_db
def test_dumpdata_holds_tokens_and_loaddata_restores_the_secret(settings, tmp_path):
    # given flows with security-ids
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    make_secrets()

    # when the database is dumped
    out = io.StringIO()
    labels = {model._meta.label for model, _ in encrypted_models()}
    call_command("dumpdata", "flows", *sorted(labels), format="json", stdout=out)
    dump = out.getvalue()

    # then no secret is in it, only tokens
    assert not any(secret in dump for secret in all_secrets())
    tokens = [row["fields"]["security_id"] for row in json.loads(dump) if row["model"] == "flows.flow"]
    assert len(tokens) == 3 and all(token.startswith(TOKEN_PREFIX) for token in tokens)

    # and loading it back (same keys) gives the clear value again, not a token encrypted twice
    flow = Flow.objects.get(flow_id="FLOW0000")
    fixture = tmp_path / "flows.json"
    fixture.write_text(json.dumps([row for row in json.loads(dump) if row["model"] == "flows.flow"]))
    Flow.objects.filter(pk=flow.pk).update(security_id="changed-after-the-dump")
    call_command("loaddata", str(fixture), verbosity=0)
    assert Flow.objects.get(pk=flow.pk).security_id == SECRETS[0]


@pytest.mark.django_db(transaction=True)
def test_the_database_files_hold_no_security_id_in_clear(settings, tmp_path):
    # given committed flows and intake credentials
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    make_secrets()

    # when the whole database is dumped the way an operator would
    if connection.vendor == "sqlite":
        # The file and its WAL, as a backup of the files would see them, and a dump through this
        # same connection (a second connection to the file would delete the WAL when it closes,
        # under the feet of connections other tests keep open).
        name = Path(connection.settings_dict["NAME"])
        raw = b"".join(path.read_bytes() for path in [name, Path(f"{name}-wal")] if path.exists())
        connection.ensure_connection()
        dump = "\n".join(connection.connection.iterdump())
    else:
        if not shutil.which("pg_dump"):
            pytest.skip("pg_dump is not installed")
        s = connection.settings_dict
        dump = subprocess.run(
            ["pg_dump", "-h", s["HOST"] or "127.0.0.1", "-p", str(s["PORT"] or 5432), "-U", s["USER"], s["NAME"]],
            capture_output=True, text=True, check=True, env={"PGPASSWORD": s["PASSWORD"] or "", "PATH": "/usr/bin"},
        ).stdout
        raw = dump.encode()

    # then no secret appears in it
    assert "FLOW0000" in dump  # the dump did see the flows
    for secret in all_secrets():
        assert secret not in dump
        assert secret.encode() not in raw


@pytest.mark.django_db
def test_a_frozen_batch_body_holds_no_security_id_in_clear(settings):
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    flow = make_flow(security_id=SECRETS[0])
    contact_list = make_contact_list(flow, 1)
    campaign = Campaign.objects.create(name="c", contact_list=contact_list, flow=flow, token="tok1")
    body = json.dumps({"api-version": "1.0", "security-id": SECRETS[0], "flow-id": flow.flow_id}).encode()
    Batch.objects.create(campaign=campaign, sequence=1, endpoint="realtime", call_count=1, body=body)

    assert bytes(Batch.objects.get().body) == body
    (raw,) = stored(Batch, Batch._meta.get_field("body"))
    assert SECRETS[0].encode() not in bytes(raw)
