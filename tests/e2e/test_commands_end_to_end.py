"""The automation surface: create_flow, import_contacts, launch_campaign --wait, export_results,
each a real `manage.py` process, against a sandbox running alone on another port."""

import csv
import io
import json
import subprocess
import sys
import urllib.request

import pytest

from config.embedded_redis import free_port
from tests.processes import ROOT, Processes, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def standalone_sandbox(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_sandbox", "--port", str(port), "--private-key", str(tmp_path / "key.pem")],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={"DEBUG": "1", "PATH": "/usr/bin:/bin"},
    )
    base = f"http://127.0.0.1:{port}"

    def healthy():
        try:
            return urllib.request.urlopen(f"{base}/_sandbox/health", timeout=1).status == 200  # noqa: S310
        except OSError:
            return False

    wait_until(healthy, timeout=30, message="the standalone sandbox")
    yield base
    process.terminate()
    process.wait(timeout=10)


def manage(env, *args):
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    return result.returncode, result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "", result


def test_create_import_launch_wait_and_export_through_the_commands(standalone_sandbox, tmp_path, artifacts_dir):
    # No web server here: the outcomes come through the sandbox's Pull API (the reconciler, by beat).
    processes = Processes(workers=1, log_dir=artifacts_dir / "e2e-logs" / "commands",
                          PHONON_REALTIME_BASE_URL=f"{standalone_sandbox}/realtime",
                          PHONON_PULL_URL=f"{standalone_sandbox}/pull", PHONON_PULL_AFTER="0", PHONON_PULL_SECONDS="1",
                          PHONON_PULL_BACKOFF="1s", SANDBOX_REPORT_URLS="0")
    env = processes.env
    processes.start()
    try:
        code, out, _ = manage(env, "create_flow", "--flow-id", "CmdFlow1", "--security-id", "s3cret-value",
                              "--kind", "multicast", "--mode", "realtime", "--did", "918045678901")
        assert code == 0 and json.loads(out) == {"flow_id": "CmdFlow1", "created": True}
        code, out, _ = manage(env, "create_flow", "--flow-id", "CmdFlow1", "--security-id", "s3cret-value")
        assert json.loads(out) == {"flow_id": "CmdFlow1", "created": False}

        calls_csv = tmp_path / "calls.csv"
        rows = ["tel1,tel2,$flow.key.name"] + [f"9198{i:08d},9197{i:08d},Customer {i}" for i in range(1200)]
        rows.append("12345,,Bad number")
        calls_csv.write_text("\n".join(rows) + "\n")
        code, out, _ = manage(env, "import_contacts", str(calls_csv), "--flow", "CmdFlow1", "--name", "Monday")
        imported = json.loads(out)
        assert code == 0
        assert imported["imported"] == 1200 and imported["rejected"] == 1 and imported["report"]

        code, out, result = manage(env, "launch_campaign", "--list", str(imported["contact_list_id"]),
                                   "--window", "00:00-24:00", "--wait", "--timeout", "120", "--yes",
                                   "--wait-outcomes", "120")
        summary = json.loads(out)
        assert code == 0, result.stderr
        outcomes = summary.pop("outcomes")
        assert summary == {
            "campaign_id": summary["campaign_id"], "status": "completed", "contacts": 1200, "placed": 1200,
            "accepted_unknown": 0, "rejected": 0, "skipped": 0, "batches": 3,
        }
        # every call's outcome came, through the Pull API, before --wait-outcomes ran out
        assert outcomes["unknown"] == 0 and sum(outcomes.values()) == 1200
        assert set(outcomes) >= {"answered", "busy", "no_answer", "unreachable", "failed", "unknown"}

        export_file = tmp_path / "results.csv"
        code, _, _ = manage(env, "export_results", str(summary["campaign_id"]), "-o", str(export_file))
        assert code == 0
        exported = list(csv.DictReader(io.StringIO(export_file.read_text())))
        assert list(exported[0])[:7] == ["client_identifier", "numbers", "request_id", "phonon_uuid", "state",
                                         "provider_code", "provider_message"]
        with urllib.request.urlopen(f"{standalone_sandbox}/_sandbox/ledger") as response:  # noqa: S310
            ledger = {e["client-identifier"]: e for e in json.loads(response.read())["calls"]}
        assert len(exported) == len(ledger) == 1200
        assert sum(row["outcome"] == "answered" for row in exported) == outcomes["answered"]
        for row in exported:
            assert row["state"] == "placed"
            assert row["phonon_uuid"] == ledger[row["client_identifier"]]["phonon-uuid"]
            assert row["request_id"] == ledger[row["client_identifier"]]["request-id"]
            assert row["numbers"] == ";".join(ledger[row["client_identifier"]]["contact-numbers"])

        code, out, _ = manage(env, "import_contacts", str(tmp_path / "missing.csv"), "--flow", "CmdFlow1")
        assert code == 1 and "error" in json.loads(out)

        # launching the same list again without --yes asks, and without an answer launches nothing
        list_id = str(imported["contact_list_id"])
        code, out, result = manage(env, "launch_campaign", "--list", list_id, "--window", "00:00-24:00")
        assert code == 1 and "--yes" in json.loads(out)["error"]
        assert "Already called in the last 7 days: 1,200, skipped" in result.stderr
        assert "Launch this campaign? [y/N]" in result.stderr

        # with --yes it launches, and every contact, called minutes ago, is skipped: no call is placed
        code, out, result = manage(env, "launch_campaign", "--list", list_id, "--window", "00:00-24:00",
                                   "--wait", "--timeout", "120", "--yes")
        again = json.loads(out)
        assert code == 0, result.stderr
        assert (again["status"], again["contacts"], again["placed"], again["skipped"], again["batches"]) == (
            "completed", 1200, 0, 1200, 0)
        with urllib.request.urlopen(f"{standalone_sandbox}/_sandbox/ledger") as response:  # noqa: S310
            assert len(json.loads(response.read())["calls"]) == 1200
    finally:
        processes.stop()
