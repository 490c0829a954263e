"""The client against the sandbox over real HTTP: the code in the body whatever the HTTP status,
the HTTP status only when there is no readable code, and Retry-After."""

import datetime
import email.utils
import json

import pytest
import requests

from phonon import client
from phonon.codes import Handling, handling_of

FLOW = "ZH0RKJvh"
SECRET = "s3cret-from-edit-flow"
IST = datetime.timezone(datetime.timedelta(hours=5, minutes=30))


def body(*client_ids, security_id=SECRET) -> bytes:
    start = (datetime.datetime.now(IST) + datetime.timedelta(days=1)).replace(microsecond=0).isoformat()
    calls = [
        {"client-identifier": cid, "start-time": start, "contact-numbers": [f"91981234{index:04d}"]}
        for index, cid in enumerate(client_ids)
    ]
    return json.dumps({"api-version": "1.0", "security-id": security_id, "flow-id": FLOW, "calls": calls}).encode()


def send(sandbox, data: bytes, path="/realtime/kairos-apis/outbound/create") -> client.Answer:
    return client.post(sandbox.base_url + path, data, connect_timeout=2, read_timeout=2)


def set_faults(sandbox, **faults):
    response = requests.post(f"{sandbox.base_url}/_sandbox/faults", json=faults, timeout=5)
    assert response.status_code == 200, response.text


@pytest.fixture
def flow(sandbox):
    requests.post(f"{sandbox.base_url}/_sandbox/flows", json={"flow-id": FLOW, "security-id": SECRET}, timeout=5)


def test_an_http_401_carrying_202_is_read_as_202_and_pauses(sandbox, flow):
    # given a provider that sends its codes with HTTP statuses of its own choosing
    set_faults(sandbox, http_status_for_codes={"202": 401})

    # when a request with a wrong security-id is sent
    answer = send(sandbox, body("c1", security_id="wrong"))

    # then the code in the body counts, not the HTTP status
    assert (answer.outcome, answer.http_status, answer.code) == ("answered", 401, 202)
    assert handling_of(code=answer.code, http_status=answer.http_status) is Handling.PAUSE


def test_an_http_409_carrying_201_is_read_as_accepted_earlier(sandbox, flow):
    # given a body the provider accepted, and a provider that answers 201 with HTTP 409
    data = body("c1")
    assert send(sandbox, data).code == 200
    set_faults(sandbox, http_status_for_codes={"201": 409})

    # when the same bytes are sent again
    answer = send(sandbox, data)

    # then it is a 201, not an HTTP error to retry
    assert (answer.outcome, answer.http_status, answer.code) == ("answered", 409, 201)
    assert handling_of(code=answer.code, http_status=answer.http_status) is Handling.REPEATED


def test_an_answer_without_a_readable_code_is_judged_by_its_http_status(sandbox, flow):
    # when the address is wrong (the sandbox answers 404 with a body of its own)
    wrong_address = send(sandbox, body("c1"), path="/realtime/kairos-apis/no-such-api")

    # then there is no code, and a 4xx without a code stops rather than retries
    assert (wrong_address.outcome, wrong_address.http_status, wrong_address.code) == ("http_error", 404, None)
    assert "PHONON_REALTIME_BASE_URL" in wrong_address.message
    assert handling_of(code=None, http_status=404) is Handling.PAUSE
    assert handling_of(code=None, http_status=429) is Handling.RETRY
    assert handling_of(code=None, http_status=502) is Handling.RETRY
    assert handling_of(code=None, http_status=None) is Handling.RETRY  # a timeout


def test_retry_after_in_seconds_comes_with_a_429(sandbox, flow):
    set_faults(sandbox, http_429=1.0, retry_after=7)

    answer = send(sandbox, body("c1"))

    assert (answer.outcome, answer.http_status, answer.retry_after) == ("http_error", 429, 7.0)


def test_retry_after_as_an_http_date_comes_with_a_503_carrying_500(sandbox, flow):
    # given a provider answering its code 500 with HTTP 503 and a Retry-After date 30 s ahead
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=30)
    set_faults(sandbox, force_code=500, http_status_for_codes={"500": 503},
               retry_after=email.utils.format_datetime(later, usegmt=True))

    # when a request is sent
    answer = send(sandbox, body("c1"))

    # then the code is read and the wait is honoured
    assert (answer.outcome, answer.http_status, answer.code) == ("answered", 503, 500)
    assert 27 <= answer.retry_after <= 30


def test_retry_after_is_ignored_on_other_statuses(sandbox, flow):
    set_faults(sandbox, force_code=500, http_status_for_codes={"500": 500}, retry_after=9)

    answer = send(sandbox, body("c1"))

    assert (answer.http_status, answer.code, answer.retry_after) == (500, 500, None)


@pytest.mark.parametrize(
    "header, seconds",
    [("120", 120.0), ("0", 0.0), ("-5", 0.0), ("soon", None), ("", None), (None, None), ("nan", None),
     ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("99999999", client.MAX_RETRY_AFTER)],
)
def test_retry_after_reads_seconds_and_dates_and_ignores_nonsense(header, seconds):
    assert client.retry_after_seconds(header) == seconds
