"""The sandbox's switches for what the real provider may do, driven over HTTP as the tests drive them:
codes with any HTTP status, a 200 missing calls, one bad call refusing the whole request."""

import datetime
import json

import pytest
import requests

FLOW = "ZH0RKJvh"
SECRET = "s3cret-from-edit-flow"
PATH = "/realtime/kairos-apis/outbound/create"
IST = datetime.timezone(datetime.timedelta(hours=5, minutes=30))


def call(client_id, number="919812345678"):
    start = (datetime.datetime.now(IST) + datetime.timedelta(days=1)).replace(microsecond=0).isoformat()
    return {"client-identifier": client_id, "start-time": start, "contact-numbers": [number]}


def post(sandbox, calls):
    data = json.dumps({"api-version": "1.0", "security-id": SECRET, "flow-id": FLOW, "calls": calls})
    return requests.post(sandbox.base_url + PATH, data=data, headers={"Content-Type": "application/json"}, timeout=5)


def set_faults(sandbox, **faults):
    return requests.post(f"{sandbox.base_url}/_sandbox/faults", json=faults, timeout=5)


def ledger(sandbox):
    return requests.get(f"{sandbox.base_url}/_sandbox/ledger", timeout=5).json()["calls"]


@pytest.fixture
def flow(sandbox):
    requests.post(f"{sandbox.base_url}/_sandbox/flows", json={"flow-id": FLOW, "security-id": SECRET}, timeout=5)


def test_http_status_for_codes_sends_a_code_with_that_status_and_the_same_body(sandbox, flow):
    assert set_faults(sandbox, force_code=212, http_status_for_codes={"212": 402}).status_code == 200

    response = post(sandbox, [call("c1")])

    assert response.status_code == 402
    assert response.json() == {"api-response-code": 212, "api-response-message": "Insufficient Balance"}


def test_a_mapped_success_still_accepts_the_calls(sandbox, flow):
    set_faults(sandbox, http_status_for_codes={"200": 202})

    response = post(sandbox, [call("c1")])

    assert response.status_code == 202 and response.json()["api-response-code"] == 200
    assert len(ledger(sandbox)) == 1


def test_drop_details_leaves_calls_out_of_a_200_but_accepts_them(sandbox, flow):
    set_faults(sandbox, drop_details=2)

    answer = post(sandbox, [call("c1"), call("c2", "919812345679"), call("c3", "919812345670")]).json()

    assert answer["api-response-code"] == 200
    assert [detail["client-identifier"] for detail in answer["call-details"]] == ["c1"]
    assert [entry["client-identifier"] for entry in ledger(sandbox)] == ["c1", "c2", "c3"]


def test_drop_details_as_a_share_rounds_up(sandbox, flow):
    set_faults(sandbox, drop_details=0.25)

    answer = post(sandbox, [call(f"c{i}", f"91981234567{i}") for i in range(5)]).json()

    assert len(answer["call-details"]) == 3  # a quarter of 5 is 1.25: 2 left out
    assert len(ledger(sandbox)) == 5


@pytest.mark.parametrize(
    "bad_call, code",
    [({"client-identifier": "bad", "contact-numbers": ["12"]}, 205), ({"contact-numbers": ["919812345677"]}, 210)],
)
def test_refuse_whole_for_bad_call_refuses_everything_for_one_call(sandbox, flow, bad_call, code):
    set_faults(sandbox, refuse_whole_for_bad_call=True)

    answer = post(sandbox, [call("c1"), bad_call, call("c2", "919812345679")]).json()

    assert answer == {"api-response-code": code, "api-response-message": answer["api-response-message"]}
    assert ledger(sandbox) == []


def test_without_the_switch_a_bad_call_is_dropped_alone_with_209(sandbox, flow):
    answer = post(sandbox, [call("c1"), {"client-identifier": "bad", "contact-numbers": ["12"]}]).json()

    assert answer["api-response-code"] == 209
    assert [entry["client-identifier"] for entry in ledger(sandbox)] == ["c1"]


@pytest.mark.parametrize(
    "faults",
    [{"http_status_for_codes": {"299": 401}}, {"http_status_for_codes": {"202": 99}},
     {"http_status_for_codes": [202]}, {"drop_details": -1}, {"drop_details": 1.5}, {"drop_details": True},
     {"refuse_whole_for_bad_call": "yes"}, {"retry_after": [1]}],
)
def test_nonsense_switches_are_refused_with_400(sandbox, faults):
    response = set_faults(sandbox, **faults)

    assert response.status_code == 400 and response.json()["error"]


def test_the_switches_read_back_over_http(sandbox):
    set_faults(sandbox, http_status_for_codes={202: 401}, drop_details=1, refuse_whole_for_bad_call=True)

    faults = requests.get(f"{sandbox.base_url}/_sandbox/faults", timeout=5).json()

    assert faults["http_status_for_codes"] == {"202": 401}
    assert (faults["drop_details"], faults["refuse_whole_for_bad_call"], faults["retry_after"]) == (1, True, 1)
