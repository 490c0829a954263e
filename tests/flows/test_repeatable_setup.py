"""The set-up commands are safe to repeat: `make run` runs seed_demo at every start, and the README's
rotate-the-security-id recipe runs create_flow again with the same --did."""

import io
import json

import pytest
from django.core.management import call_command

from flows.models import DID, Flow

pytestmark = pytest.mark.django_db


def run(command: str, *args) -> tuple[int, dict]:
    out = io.StringIO()
    try:
        call_command(command, *args, stdout=out)
    except SystemExit as exit_:
        return exit_.code, json.loads(out.getvalue())
    return 0, json.loads(out.getvalue().strip().splitlines()[-1])


def test_create_flow_with_the_same_did_twice_updates_the_flow(monkeypatch):
    # given a flow created with a DID
    monkeypatch.setenv("PHONON_SECURITY_ID", "first-secret-0001")
    assert run("create_flow", "--flow-id", "ZH0RKJvh", "--did", "918045678901") == (
        0,
        {"flow_id": "ZH0RKJvh", "created": True},
    )

    # when the same command runs again with a new security-id (the rotation recipe)
    monkeypatch.setenv("PHONON_SECURITY_ID", "second-secret-0002")
    code, answer = run("create_flow", "--flow-id", "ZH0RKJvh", "--did", "918045678901")

    # then it succeeds, updates the secret and keeps one DID
    assert (code, answer) == (0, {"flow_id": "ZH0RKJvh", "created": False})
    assert Flow.objects.get(flow_id="ZH0RKJvh").security_id == "second-secret-0002"
    assert list(DID.objects.values_list("number", flat=True)) == ["918045678901"]


def test_create_flow_still_refuses_a_malformed_did(monkeypatch):
    monkeypatch.setenv("PHONON_SECURITY_ID", "first-secret-0001")
    code, answer = run("create_flow", "--flow-id", "ZH0RKJvh", "--did", "not-a-number")
    assert code == 1 and "error" in answer
    assert not DID.objects.exists()


def test_seed_demo_twice_answers_the_same_both_times():
    # given the demo already seeded (the first `make run`)
    first = run("seed_demo", "--rows", "5")

    # when a second `make run` seeds it again
    second = run("seed_demo", "--rows", "5")

    # then both succeed with the same answer and one demo flow with one DID
    assert first[0] == second[0] == 0 and first[1] == second[1]
    assert Flow.objects.filter(flow_id="DEMOflw1").count() == 1
    assert DID.objects.filter(flow__flow_id="DEMOflw1").count() == 1
