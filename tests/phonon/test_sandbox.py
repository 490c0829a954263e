"""The sandbox provider, over real HTTP on 127.0.0.1: every code it produces, the ledger,
the statistics, the injected faults and the run_sandbox command."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from phonon.sandbox import SandboxProvider, max_in_window, route, start_sandbox_thread

FLOW = "ZH0RKJvh"
SECRET = "s3cret-from-edit-flow"
MULTICAST = "/realtime/kairos-apis/outbound/create"
BULK_MULTICAST = "/bulk/kairos-apis/outbound/create"
DIALER = "/realtime/kairos-apis/outbounddialer/create"
IST = timezone(timedelta(hours=5, minutes=30))
PROJECT = Path(__file__).resolve().parents[2]


def tomorrow() -> str:
    return (datetime.now(IST) + timedelta(days=1)).replace(hour=10, minute=30, second=0, microsecond=0).isoformat()


def make_call(client_id, numbers=("919812345678",), **extra):
    call = {"client-identifier": client_id, "start-time": tomorrow(), "contact-numbers": list(numbers)}
    call.update(extra)
    return call


def make_body(calls, **overrides):
    body = {"api-version": "1.0", "security-id": SECRET, "flow-id": FLOW, "calls": calls}
    body.update(overrides)
    return body


def post(sandbox, path, body, **kwargs):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    kwargs.setdefault("timeout", 5)
    return requests.post(sandbox.base_url + path, data=data, headers={"Content-Type": "application/json"}, **kwargs)


def code_of(response) -> int:
    assert response.status_code == 200, response.text
    return response.json()["api-response-code"]


@pytest.fixture
def flow(sandbox):
    return sandbox.provider.register_flow(FLOW, SECRET, kind="multicast", dids=["918040000000"])


# --- 200, the ledger and the open registry ---------------------------------------------------


def test_it_accepts_every_call_with_200_and_one_uuid_per_call_in_request_order(sandbox, flow):
    response = post(sandbox, MULTICAST, make_body([make_call("b"), make_call("a"), make_call("c")]))

    answer = response.json()
    assert response.status_code == 200
    assert answer["api-response-code"] == 200
    assert answer["api-response-message"] == "Success"
    uuid.UUID(answer["request-id"])
    assert [detail["client-identifier"] for detail in answer["call-details"]] == ["b", "a", "c"]
    assert len({uuid.UUID(detail["phonon-uuid"]) for detail in answer["call-details"]}) == 3


def test_the_ledger_holds_each_accepted_call_in_process_and_over_http(sandbox, flow):
    keys = [{"name": "$flow.key.name", "value": "Abhinandan"}]
    before = time.time()
    answer = post(sandbox, BULK_MULTICAST, make_body([make_call("c1", ["919812345678", "919887654321"], keys=keys)]))
    answer = answer.json()

    over_http = requests.get(f"{sandbox.base_url}/_sandbox/ledger", timeout=5).json()["calls"]
    assert over_http == sandbox.provider.ledger()
    (entry,) = over_http
    assert entry["client-identifier"] == "c1"
    assert entry["phonon-uuid"] == answer["call-details"][0]["phonon-uuid"]
    assert entry["request-id"] == answer["request-id"]
    assert entry["contact-numbers"] == ["919812345678", "919887654321"]
    assert entry["flow-id"] == FLOW
    assert entry["endpoint"] == "bulk"
    assert entry["path"] == BULK_MULTICAST
    assert before <= entry["received_at"] <= time.time()
    assert entry["api-version"] == "1.0"
    assert entry["keys"] == keys
    assert entry["start-time"] == tomorrow()


def test_an_empty_registry_accepts_any_well_formed_flow(sandbox):
    response = post(sandbox, DIALER, make_body([make_call("c1")], **{"flow-id": "Ab3dE6gH", "security-id": "any"}))

    assert code_of(response) == 200


def test_a_path_without_prefix_is_the_realtime_host(sandbox, flow):
    post(sandbox, "/kairos-apis/outbound/create", make_body([make_call("c1")]))

    assert sandbox.provider.ledger()[0]["endpoint"] == "realtime"
    assert route("/kairos-apis/enc/outbounddialer/create") == ("realtime", "encrypted")
    assert route("/bulk/kairos-apis/outbounddialer/create") == ("bulk", "dialer")
    assert route("/elsewhere/kairos-apis/outbound/create") is None


def test_it_accepts_a_past_time_on_todays_date_in_the_start_times_own_offset(sandbox, flow):
    early_today = datetime.now(IST).replace(hour=0, minute=0, second=1, microsecond=0).isoformat()

    response = post(sandbox, MULTICAST, make_body([make_call("c1", **{"start-time": early_today})]))

    assert code_of(response) == 200


def test_a_call_without_start_time_or_keys_is_accepted(sandbox, flow):
    response = post(sandbox, MULTICAST, make_body([{"client-identifier": "c1", "contact-numbers": ["919812345678"]}]))

    assert code_of(response) == 200


# --- 201 --------------------------------------------------------------------------------------


def test_it_answers_201_to_a_repeated_identical_body_and_accepts_nothing_more(sandbox, flow):
    body = json.dumps(make_body([make_call("c1"), make_call("c2")])).encode()
    assert code_of(post(sandbox, MULTICAST, body)) == 200

    response = post(sandbox, MULTICAST, body)

    assert response.json() == {"api-response-code": 201, "api-response-message": "Checksum Repeated"}
    assert len(sandbox.provider.ledger()) == 2


def test_a_body_refused_earlier_is_not_a_repeat(sandbox, flow):
    body = json.dumps(make_body([make_call("c1")])).encode()
    sandbox.provider.set_faults(error_500=1.0)
    assert code_of(post(sandbox, MULTICAST, body)) == 500
    sandbox.provider.set_faults(None)

    assert code_of(post(sandbox, MULTICAST, body)) == 200


def test_identical_bodies_sent_at_once_are_accepted_only_once(sandbox, flow):
    body = json.dumps(make_body([make_call(f"c{number}") for number in range(500)])).encode()
    barrier = threading.Barrier(8)

    def send():
        barrier.wait()
        return code_of(post(sandbox, MULTICAST, body))

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = sorted(pool.map(lambda _: send(), range(8)))

    assert codes == [200] + [201] * 7
    assert len(sandbox.provider.ledger()) == 500


# --- codes of the whole request -----------------------------------------------------------------


def test_it_refuses_a_wrong_security_id_with_202(sandbox, flow):
    response = post(sandbox, MULTICAST, make_body([make_call("c1")], **{"security-id": "wrong"}))

    assert response.json() == {"api-response-code": 202, "api-response-message": "Invalid Security ID"}
    assert sandbox.provider.ledger() == []


def test_it_refuses_an_unsupported_api_version_with_203(sandbox, flow):
    assert code_of(post(sandbox, MULTICAST, make_body([make_call("c1")], **{"api-version": "2.0"}))) == 203


def test_it_answers_207_when_the_flow_has_no_did_mapped(sandbox):
    sandbox.provider.register_flow(FLOW, SECRET, kind="multicast", dids=[])

    assert code_of(post(sandbox, MULTICAST, make_body([make_call("c1")]))) == 207


@pytest.mark.parametrize("missing", ["api-version", "security-id", "flow-id", "calls"])
def test_it_refuses_a_request_without_a_mandatory_field_with_210(sandbox, flow, missing):
    body = make_body([make_call("c1")])
    del body[missing]

    assert code_of(post(sandbox, MULTICAST, body)) == 210


def test_it_refuses_a_start_time_on_a_past_date_with_210(sandbox, flow):
    response = post(
        sandbox, MULTICAST, make_body([make_call("c1"), make_call("c2", **{"start-time": "2020-02-08T21:12:00+05:30"})])
    )

    assert code_of(response) == 210
    assert sandbox.provider.ledger() == []


def test_it_refuses_an_expired_flow_with_211(sandbox):
    sandbox.provider.register_flow(FLOW, SECRET, expired=True)

    assert code_of(post(sandbox, MULTICAST, make_body([make_call("c1")]))) == 211


def test_it_refuses_more_calls_than_the_balance_with_212_and_spends_the_balance_on_acceptance(sandbox):
    sandbox.provider.register_flow(FLOW, SECRET, balance=3)
    assert code_of(post(sandbox, MULTICAST, make_body([make_call("c1"), make_call("c2")]))) == 200

    response = post(sandbox, MULTICAST, make_body([make_call("c3"), make_call("c4")]))

    assert code_of(response) == 212
    assert sandbox.provider.flows()[0]["balance"] == 1
    assert code_of(post(sandbox, MULTICAST, make_body([make_call("c3")]))) == 200


@pytest.mark.parametrize("flow_id", ["Unknown1", "short", "ZH0RKJvh9", "ZH0RKJv!"])
def test_it_refuses_an_unknown_or_malformed_flow_id_with_301(sandbox, flow, flow_id):
    assert code_of(post(sandbox, MULTICAST, make_body([make_call("c1")], **{"flow-id": flow_id}))) == 301


def test_even_an_open_sandbox_refuses_a_malformed_flow_id_with_301(sandbox):
    assert code_of(post(sandbox, MULTICAST, make_body([make_call("c1")], **{"flow-id": "1234567"}))) == 301


def test_it_refuses_a_multicast_flow_on_the_dialer_path_with_301(sandbox, flow):
    assert code_of(post(sandbox, DIALER, make_body([make_call("c1")]))) == 301


def test_it_refuses_an_empty_call_list_with_302(sandbox, flow):
    assert code_of(post(sandbox, MULTICAST, make_body([]))) == 302


def test_it_refuses_more_than_500_calls_with_303_and_takes_500(sandbox, flow):
    calls = [make_call(f"c{number}") for number in range(501)]

    assert code_of(post(sandbox, MULTICAST, make_body(calls))) == 303
    assert code_of(post(sandbox, MULTICAST, make_body(calls[:500]))) == 200


def test_it_refuses_test_version_when_the_flow_has_no_test_version_with_304(sandbox):
    sandbox.provider.register_flow(FLOW, SECRET, versions=["1.0"])

    assert code_of(post(sandbox, MULTICAST, make_body([make_call("c1")], **{"api-version": "TEST"}))) == 304


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b'["a list"]',
        json.dumps(make_body("not a list")).encode(),
        json.dumps(make_body([make_call("c1")], **{"api-version": 1.0})).encode(),
        json.dumps(make_body(["not an object"])).encode(),
        json.dumps(make_body([make_call("c1", **{"start-time": "2099-01-01 10:00:00"})])).encode(),
        json.dumps(make_body([make_call("c1", **{"start-time": "2099-01-01T10:00:00"})])).encode(),
        json.dumps(make_body([make_call("c1", **{"start-time": "2099-13-01T10:00:00+05:30"})])).encode(),
    ],
    ids=[
        "not-json",
        "empty",
        "not-an-object",
        "calls-not-a-list",
        "version-not-a-string",
        "call-not-an-object",
        "start-time-with-space",
        "start-time-without-offset",
        "start-time-month-13",
    ],
)
def test_it_refuses_an_unreadable_body_with_400(sandbox, flow, body):
    response = post(sandbox, MULTICAST, body)

    assert response.json() == {"api-response-code": 400, "api-response-message": "Invalid Format"}


def test_it_refuses_a_client_outside_the_allowed_ips_with_401(sandbox):
    sandbox.provider.register_flow(FLOW, SECRET, allowed_ips=["10.20.30.40"])
    assert code_of(post(sandbox, MULTICAST, make_body([make_call("c1")]))) == 401

    sandbox.provider.register_flow(FLOW, SECRET, allowed_ips=["10.20.30.40", "127.0.0.1"])
    assert code_of(post(sandbox, MULTICAST, make_body([make_call("c1")]))) == 200


def test_it_refuses_a_test_call_to_a_number_not_whitelisted_with_402(sandbox):
    sandbox.provider.register_flow(FLOW, SECRET, whitelisted_phones=["919812345678"])
    calls = [make_call("c1"), make_call("c2", ["919812345678", "919000000000"])]

    assert code_of(post(sandbox, MULTICAST, make_body(calls, **{"api-version": "TEST"}))) == 402
    assert code_of(post(sandbox, MULTICAST, make_body(calls))) == 200  # production version: no whitelist


# --- codes of single calls: 205, 209, 210 -------------------------------------------------------


def test_it_refuses_a_request_whose_every_call_has_a_bad_number_with_205(sandbox, flow):
    calls = [
        make_call("c1", ["+919812345678"]),
        make_call("c2", ["1234"]),
        make_call("c3", ["9" * 16]),
        make_call("c4", ["919812345678"] * 11),
        make_call("c5", [919812345678]),
    ]

    assert code_of(post(sandbox, MULTICAST, make_body(calls))) == 205


def test_it_answers_209_and_leaves_out_every_call_it_dropped(sandbox, flow):
    without_client_id = make_call("gone")
    del without_client_id["client-identifier"]
    calls = [
        make_call("kept-1"),
        without_client_id,
        make_call("bad-number", ["91-98123"]),
        make_call("bad-keys", keys=[{"name": "name", "value": "x"}]),
        make_call("kept-2", keys=[{"name": "$flow.key.name", "value": "Asha"}]),
        make_call("kept-1"),
    ]

    answer = post(sandbox, MULTICAST, make_body(calls)).json()

    assert answer["api-response-code"] == 209
    assert answer["api-response-message"] == "Partial Success"
    assert [detail["client-identifier"] for detail in answer["call-details"]] == ["kept-1", "kept-2"]
    assert [entry["client-identifier"] for entry in sandbox.provider.ledger()] == ["kept-1", "kept-2"]


def test_it_refuses_a_request_whose_calls_were_all_accepted_before_with_210(sandbox, flow):
    assert code_of(post(sandbox, MULTICAST, make_body([make_call("c1")]))) == 200

    response = post(sandbox, MULTICAST, make_body([make_call("c1", ["919887654321"])]))

    assert code_of(response) == 210
    assert len(sandbox.provider.ledger()) == 1


def test_it_refuses_a_request_whose_calls_all_lack_a_client_identifier_with_210(sandbox, flow):
    assert code_of(post(sandbox, MULTICAST, make_body([{"contact-numbers": ["919812345678"]}]))) == 210


# --- codes forced ----------------------------------------------------------------------------


@pytest.mark.parametrize("code", [204, 206, 208, 213, 500, 202])
def test_force_code_answers_every_request_with_that_code_and_accepts_nothing(sandbox, flow, code):
    sandbox.provider.set_faults(force_code=code)

    answer = post(sandbox, MULTICAST, make_body([make_call("c1")])).json()

    assert set(answer) == {"api-response-code", "api-response-message"}
    assert answer["api-response-code"] == code
    assert sandbox.provider.ledger() == []


def test_force_code_209_answers_with_no_call_accepted(sandbox, flow):
    sandbox.provider.set_faults(force_code=209)

    answer = post(sandbox, MULTICAST, make_body([make_call("c1")])).json()

    assert answer["api-response-code"] == 209
    assert answer["call-details"] == []
    assert sandbox.provider.ledger() == []


def test_force_code_must_be_a_documented_code_other_than_200(sandbox):
    for code in (200, 299, True):
        with pytest.raises(ValueError):
            sandbox.provider.set_faults(force_code=code)


# --- faults ------------------------------------------------------------------------------------


def test_an_injected_500_accepts_nothing(sandbox, flow):
    sandbox.provider.set_faults(error_500=1.0)

    response = post(sandbox, MULTICAST, make_body([make_call("c1")]))

    assert response.json() == {"api-response-code": 500, "api-response-message": "Failure"}
    assert sandbox.provider.ledger() == []


def test_an_injected_429_is_an_http_status_and_accepts_nothing(sandbox, flow):
    sandbox.provider.set_faults(http_429=1.0)

    response = post(sandbox, MULTICAST, make_body([make_call("c1")]))

    assert response.status_code == 429
    assert sandbox.provider.ledger() == []


def test_a_slow_answer_comes_after_the_client_gave_up_with_the_calls_accepted(sandbox, flow):
    sandbox.provider.set_faults(slow=1.0, slow_seconds=2)

    with pytest.raises(requests.Timeout):
        post(sandbox, MULTICAST, make_body([make_call("c1"), make_call("c2")]), timeout=(2, 0.3))

    assert [entry["client-identifier"] for entry in sandbox.provider.ledger()] == ["c1", "c2"]


def test_a_reset_before_acceptance_raises_connection_error_and_accepts_nothing(sandbox, flow):
    sandbox.provider.set_faults(reset=1.0, reset_after_accept=0.0)

    with pytest.raises(requests.ConnectionError):
        post(sandbox, MULTICAST, make_body([make_call("c1")]))

    assert sandbox.provider.ledger() == []


def test_a_reset_after_acceptance_raises_connection_error_with_the_calls_accepted(sandbox, flow):
    body = json.dumps(make_body([make_call("c1")])).encode()
    sandbox.provider.set_faults(reset=1.0, reset_after_accept=1.0)

    with pytest.raises(requests.ConnectionError):
        post(sandbox, MULTICAST, body)

    assert len(sandbox.provider.ledger()) == 1
    sandbox.provider.set_faults(None)
    assert code_of(post(sandbox, MULTICAST, body)) == 201


def test_a_seed_makes_the_faults_repeatable(sandbox, flow):
    def outcomes():
        sandbox.provider.set_faults(error_500=0.3, http_429=0.3, seed=7)
        answers = [post(sandbox, MULTICAST, b"{}") for _ in range(12)]
        return [(answer.status_code, answer.json().get("api-response-code")) for answer in answers]

    first = outcomes()

    assert first == outcomes()
    assert len(set(first)) > 1


def test_faults_are_set_and_read_over_http(sandbox):
    url = f"{sandbox.base_url}/_sandbox/faults"

    response = requests.post(
        url,
        json={
            "error_500": 0.1,
            "slow": 0.1,
            "slow_seconds": 3,
            "reset": 0.05,
            "http_429": 0.05,
            "force_code": None,
            "seed": 1,
        },
        timeout=5,
    )

    assert response.status_code == 200
    faults = requests.get(url, timeout=5).json()
    assert faults == sandbox.provider.faults()
    assert faults["error_500"] == 0.1 and faults["reset_after_accept"] == 0.5 and faults["seed"] == 1
    assert requests.post(url, json={"error_500": 0.9, "http_429": 0.2}, timeout=5).status_code == 400
    assert requests.post(url, json={"explode": 1}, timeout=5).status_code == 400


def test_faults_can_be_given_at_start():
    running = start_sandbox_thread(faults={"force_code": 206})
    try:
        assert code_of(post(running, MULTICAST, make_body([make_call("c1")]))) == 206
    finally:
        running.stop()


# --- statistics ------------------------------------------------------------------------------


def test_max_in_window_counts_the_busiest_half_open_window():
    events = [(10.0, 500), (0.0, 500), (59.9, 500), (60.0, 500), (61.0, 100), (200.0, 1)]

    assert max_in_window(events, 60) == 1600  # [10, 70) holds 10, 59.9, 60 and 61
    assert max_in_window(events, 1) == 1000  # [59.9, 60.9) holds 59.9 and 60
    assert max_in_window([(0.0, 1), (60.0, 1)], 60) == 1  # t and t + window are never in one window
    assert max_in_window([], 60) == 0
    with pytest.raises(ValueError):
        max_in_window(events, 0)


def test_stats_count_per_endpoint_and_window(sandbox, flow):
    post(sandbox, MULTICAST, make_body([make_call("r1"), make_call("r2")]))
    post(sandbox, BULK_MULTICAST, make_body([make_call("b1"), make_call("b2"), make_call("b3")]))
    post(sandbox, BULK_MULTICAST, make_body([make_call("b4"), make_call("b5")], **{"security-id": "wrong"}))
    post(sandbox, BULK_MULTICAST, make_body([make_call("b1"), make_call("b6")]))

    stats = requests.get(f"{sandbox.base_url}/_sandbox/stats", params={"window": 60}, timeout=5).json()
    tiny = sandbox.provider.stats(1e-9)

    assert stats["realtime"]["calls"] == 2 and stats["realtime"]["requests"] == 1
    bulk = stats["bulk"]
    assert (bulk["requests"], bulk["accepted_requests"], bulk["calls"], bulk["calls_received"]) == (3, 2, 4, 7)
    assert bulk["max_calls_in_window"] == 4
    assert bulk["max_calls_received_in_window"] == 7
    assert tiny["bulk"]["max_calls_in_window"] == 3
    assert tiny["bulk"]["max_calls_received_in_window"] == 3


def test_stats_use_the_arrival_time_of_each_request():
    provider = SandboxProvider(flows=[{"flow-id": FLOW, "security-id": SECRET}])
    for second, client_id in ((0, "a"), (30, "b"), (61, "c"), (90, "d")):
        body = json.dumps(make_body([make_call(client_id), make_call(client_id + "2")])).encode()
        provider.submit(body, api="multicast", endpoint="bulk", received_at=1000.0 + second)

    def busiest(window):
        return provider.stats(window)["bulk"]["max_calls_in_window"]

    assert [busiest(29), busiest(29.5), busiest(60), busiest(61), busiest(90), busiest(91)] == [2, 4, 4, 6, 6, 8]


# --- control endpoints and HTTP ------------------------------------------------------------------


def test_flows_are_registered_over_http(sandbox):
    flow = {
        "flow-id": FLOW,
        "security-id": SECRET,
        "kind": "dialer",
        "versions": ["1.0"],
        "dids": ["918040000000"],
        "profile": "pkcs1-cbc",
        "expired": False,
        "balance": None,
        "whitelisted_phones": [],
        "allowed_ips": None,
    }

    response = requests.post(f"{sandbox.base_url}/_sandbox/flows", json=flow, timeout=5)

    assert response.status_code == 200
    assert requests.get(f"{sandbox.base_url}/_sandbox/flows", timeout=5).json()["flows"] == [response.json()]
    assert code_of(post(sandbox, DIALER, make_body([make_call("c1")]))) == 200
    assert code_of(post(sandbox, MULTICAST, make_body([make_call("c2")]))) == 301
    bad = requests.post(f"{sandbox.base_url}/_sandbox/flows", json={**flow, "kind": "sms"}, timeout=5)
    assert bad.status_code == 400


def test_reset_forgets_ledger_checksums_stats_faults_and_flows(sandbox, flow):
    body = json.dumps(make_body([make_call("c1")])).encode()
    post(sandbox, MULTICAST, body)
    sandbox.provider.set_faults(slow=0.5)

    assert requests.post(f"{sandbox.base_url}/_sandbox/reset", timeout=5).json() == {"ok": True}

    assert sandbox.provider.ledger() == [] and sandbox.provider.flows() == []
    assert sandbox.provider.stats()["realtime"]["requests"] == 0
    assert sandbox.provider.faults()["slow"] == 0
    assert code_of(post(sandbox, MULTICAST, body)) == 200


def test_health_and_public_key(sandbox):
    assert requests.get(f"{sandbox.base_url}/_sandbox/health", timeout=5).json() == {"ok": True}
    response = requests.get(f"{sandbox.base_url}/_sandbox/public-key", timeout=5)
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == sandbox.provider.public_key_pem()
    assert response.text.startswith("-----BEGIN PUBLIC KEY-----")


def test_unknown_paths_get_404_and_wrong_methods_405(sandbox):
    assert requests.post(f"{sandbox.base_url}/kairos-apis/outbound/delete", json={}, timeout=5).status_code == 404
    assert requests.get(f"{sandbox.base_url}/other/kairos-apis/outbound/create", timeout=5).status_code == 404
    wrong = requests.get(f"{sandbox.base_url}{MULTICAST}", timeout=5)
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"
    assert requests.post(f"{sandbox.base_url}/_sandbox/ledger", timeout=5).status_code == 405
    assert requests.delete(f"{sandbox.base_url}/_sandbox/flows", timeout=5).status_code == 405


def test_one_connection_carries_many_requests(sandbox, flow):
    with requests.Session() as session:
        for number in range(20):
            response = session.post(sandbox.base_url + MULTICAST, json=make_body([make_call(f"c{number}")]), timeout=5)
            assert response.json()["api-response-code"] == 200
            assert response.headers["Content-Length"] == str(len(response.content))

    assert len(sandbox.provider.ledger()) == 20


# --- the command -------------------------------------------------------------------------------


def start_command(*arguments):
    env = {**os.environ, "DEBUG": "1"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_sandbox", *arguments],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    assert "http://127.0.0.1:" in line, process.stderr.read() if process.poll() is not None else line
    base_url = line.split(" at ", 1)[1].split(" ", 1)[0]
    return process, base_url, line


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_sandbox_serves_until_signalled_and_keeps_its_key(tmp_path, stop_signal):
    key_file = tmp_path / "keys" / "sandbox.pem"
    process, base_url, line = start_command(
        "--port", "0", "--private-key", str(key_file), "--faults", '{"force_code": 204}'
    )
    try:
        assert f"{base_url}/_sandbox/public-key" in line
        first_key = requests.get(f"{base_url}/_sandbox/public-key", timeout=5).text
        answer = requests.post(base_url + MULTICAST, json=make_body([make_call("c1")]), timeout=5).json()
        assert answer["api-response-code"] == 204
    finally:
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
    assert key_file.exists() and oct(key_file.stat().st_mode & 0o777) == "0o600"

    process, base_url, _ = start_command("--port", "0", "--private-key", str(key_file))
    try:
        assert requests.get(f"{base_url}/_sandbox/public-key", timeout=5).text == first_key
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
