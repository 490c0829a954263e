"""Guessing passwords stops after five: real logins on the site and on the admin, through the whole
middleware stack, with the lockout kept in the database. alice is a manager, root an admin; the
guesser works from 203.0.113.9.
"""

import datetime

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"
GUESSER = "203.0.113.9"


@pytest.fixture(autouse=True)
def users():
    User = get_user_model()
    User.objects.create_user("alice", password=PASSWORD)
    User.objects.create_superuser("root", "root@example.com", PASSWORD)


def log_in(url, username, password, address=GUESSER, **headers):
    client = Client(REMOTE_ADDR=address)
    response = client.post(url, {"username": username, "password": password}, **headers)
    return response, client


def assert_told_to_wait(response):
    assert response.status_code == 429
    text = response.content.decode()
    assert "Too many failed logins" in text and "Wait 15 minutes, then try again" in text
    assert "Traceback" not in text


@pytest.mark.parametrize("url", ["/login/", "/admin/login/?next=/admin/"], ids=["site", "admin"])
def test_five_wrong_passwords_lock_the_user_out_even_with_the_right_one(url):
    # given five wrong passwords for root, each from another address
    for attempt in range(5):
        response, _ = log_in(url, "root", f"guess-{attempt}", address=f"198.51.100.{attempt}")
    assert_told_to_wait(response)

    # when root then types the right password, from an address that never failed
    response, client = log_in(url, "root", PASSWORD, address="192.0.2.50")

    # then he is told to wait and is not logged in; the lockout is a row in the database
    assert_told_to_wait(response)
    assert "_auth_user_id" not in client.session
    assert AccessAttempt.objects.filter(username="root").exists()


def test_wrong_passwords_for_many_users_lock_out_their_address_on_both_logins():
    # given five wrong passwords for five made-up users from one address, on the site login
    for attempt in range(5):
        log_in("/login/", f"user{attempt}", "guess")

    # when that address tries alice's right password, on the site and then on the admin
    site, site_client = log_in("/login/", "alice", PASSWORD)
    admin, _ = log_in("/admin/login/?next=/admin/", "root", PASSWORD)

    # then both refuse, and alice still logs in from her own address
    assert_told_to_wait(site)
    assert_told_to_wait(admin)
    assert "_auth_user_id" not in site_client.session
    response, client = log_in("/login/", "alice", PASSWORD, address="192.0.2.77")
    assert response.status_code == 302 and client.session["_auth_user_id"]


def test_four_wrong_passwords_still_let_the_right_one_in():
    for attempt in range(4):
        response, _ = log_in("/login/", "alice", f"guess-{attempt}")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    response, client = log_in("/login/", "alice", PASSWORD)
    assert response.status_code == 302 and client.session["_auth_user_id"]


def test_the_lockout_ends_after_the_cool_off(settings):
    # given alice locked out (each login hashes a password: on a loaded machine five of them take longer
    # than a short cool-off, so the test moves the attempts back in time instead of waiting)
    for attempt in range(5):
        log_in("/login/", "alice", f"guess-{attempt}")
    assert log_in("/login/", "alice", PASSWORD)[0].status_code == 429

    # when the cool-off has passed since the last attempt
    past = timezone.now() - settings.AXES_COOLOFF_TIME - datetime.timedelta(seconds=1)
    AccessAttempt.objects.update(attempt_time=past)
    response, client = log_in("/login/", "alice", PASSWORD)

    # then the right password works again
    assert response.status_code == 302 and client.session["_auth_user_id"]


def test_behind_the_proxy_each_client_address_counts_not_the_proxys(settings):
    # given one TLS proxy in front, through which everyone arrives from 127.0.0.1
    settings.TRUSTED_PROXY_COUNT = 1

    # when a guesser fails five times, pretending to be another client in a header of its own
    for attempt in range(5):
        log_in("/login/", f"user{attempt}", "guess", address="127.0.0.1",
               HTTP_X_FORWARDED_FOR=f"10.9.9.{attempt}, {GUESSER}")

    # then the guesser's address is locked, not the proxy's: alice, behind the same proxy, logs in
    assert_told_to_wait(log_in("/login/", "alice", PASSWORD, address="127.0.0.1", HTTP_X_FORWARDED_FOR=GUESSER)[0])
    response, _ = log_in("/login/", "alice", PASSWORD, address="127.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.8")
    assert response.status_code == 302
