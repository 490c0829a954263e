"""Issue 24, finding 12: X-Forwarded-For is honoured only from TRUSTED_PROXIES. Real logins over HTTP to
the live server: a guesser that reaches gunicorn directly and writes a new made-up address in that header
for every guess is still locked out by its own address, and the same guesses through our proxy count
against the address the proxy appended."""

import pytest
import requests
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-long-test-password"


@pytest.fixture(autouse=True)
def alice(db):
    return get_user_model().objects.create_user("alice", password=PASSWORD)


def log_in(live_server, username: str, password: str, forwarded_for: str) -> requests.Response:
    session = requests.Session()
    login = f"{live_server.url}/login/"
    session.get(login, timeout=30)
    return session.post(
        login,
        data={"username": username, "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"X-Forwarded-For": forwarded_for, "Referer": login},
        allow_redirects=False,
        timeout=30,
    )


def test_a_direct_client_writing_made_up_forwarded_addresses_is_locked_out_by_its_own(live_server, settings):
    # given our proxy is elsewhere (192.0.2.1): the test's connections from 127.0.0.1 reach gunicorn directly
    settings.TRUSTED_PROXIES = ["192.0.2.1"]
    settings.TRUSTED_PROXY_COUNT = 1

    # when a guesser tries five made-up users, each time claiming another address in X-Forwarded-For
    for attempt in range(5):
        log_in(live_server, f"user{attempt}", "guess", forwarded_for=f"10.9.9.{attempt}")

    # then its own address is locked: even alice's right password from there is told to wait
    refused = log_in(live_server, "alice", PASSWORD, forwarded_for="192.0.2.77")
    assert refused.status_code == 429 and "Too many failed logins" in refused.text


def test_through_a_trusted_proxy_the_address_it_appended_counts(live_server, settings):
    # given our proxy on 127.0.0.1, appending each client's address
    settings.TRUSTED_PROXIES = ["127.0.0.1", "::1"]
    settings.TRUSTED_PROXY_COUNT = 1

    # when a guesser behind it fails five times
    for attempt in range(5):
        log_in(live_server, f"user{attempt}", "guess", forwarded_for="203.0.113.9")

    # then the guesser's address is locked, and alice from another address logs in
    assert log_in(live_server, "alice", PASSWORD, forwarded_for="203.0.113.9").status_code == 429
    assert log_in(live_server, "alice", PASSWORD, forwarded_for="198.51.100.4").status_code == 302
