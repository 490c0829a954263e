"""create_flow takes the security-id from a file, standard input or PHONON_SECURITY_ID, so that it
never has to appear on a command line (shell history, `ps`); the old flag keeps working."""

import io
import json

import pytest
from django.core.management import call_command

from flows.models import Flow

pytestmark = pytest.mark.django_db


def create_flow(*args) -> tuple[int, dict]:
    out = io.StringIO()
    try:
        call_command("create_flow", "--flow-id", "ZH0RKJvh", *args, stdout=out)
    except SystemExit as exit_:
        return exit_.code, json.loads(out.getvalue())
    return 0, json.loads(out.getvalue())


def test_it_reads_the_security_id_from_a_file(tmp_path):
    # given a secret with inner spaces in a file written by `echo`
    secret_file = tmp_path / "security-id"
    secret_file.write_text("acme secret 0001\n")

    # when the flow is created from it
    code, answer = create_flow("--security-id-file", str(secret_file))

    # then the flow holds the secret, without the line break
    assert (code, answer) == (0, {"flow_id": "ZH0RKJvh", "created": True})
    assert Flow.objects.get(flow_id="ZH0RKJvh").security_id == "acme secret 0001"


def test_it_reads_the_security_id_from_standard_input(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("from-a-pipe-0002\n"))
    code, _ = create_flow("--security-id-file", "-")
    assert code == 0 and Flow.objects.get(flow_id="ZH0RKJvh").security_id == "from-a-pipe-0002"


def test_it_reads_the_security_id_from_the_environment_and_updates_the_flow(monkeypatch):
    # given a flow created with the old flag
    assert create_flow("--security-id", "old-flag-0003") == (0, {"flow_id": "ZH0RKJvh", "created": True})

    # when it is updated with the secret in PHONON_SECURITY_ID
    monkeypatch.setenv("PHONON_SECURITY_ID", "from-env-0004")
    code, answer = create_flow("--name", "Reminders")

    # then the new secret replaced the old one
    assert (code, answer) == (0, {"flow_id": "ZH0RKJvh", "created": False})
    assert Flow.objects.get(flow_id="ZH0RKJvh").security_id == "from-env-0004"


def test_without_a_security_id_it_refuses_with_one_sentence(monkeypatch, tmp_path):
    monkeypatch.delenv("PHONON_SECURITY_ID", raising=False)
    assert create_flow() == (1, {"error": "Give the security-id with --security-id-file FILE or PHONON_SECURITY_ID."})
    code, answer = create_flow("--security-id-file", str(tmp_path / "missing"))
    assert code == 1 and answer == {"error": "Cannot read the security-id file: No such file or directory."}
    assert not Flow.objects.exists()
