"""Issue 24, finding 11: wrong API keys are throttled per key prefix and per address, over real HTTP to the
live server with Redis counting: a guesser of one prefix's secret, or of many prefixes from one address,
gets 429 after API_KEY_FAILURE_LIMIT failures, without the key even being checked; another key from
another address still works, and so does the right key once the window has passed."""

import pytest

from tests.api.conftest import Api
from tests.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _small_limits(settings):
    settings.API_KEY_FAILURE_LIMIT = 5
    settings.API_KEY_FAILURE_WINDOW_SECONDS = 60


def test_guessing_the_secret_of_a_known_prefix_is_throttled_whatever_address_it_comes_from(
    live_server, acme_key, acme_flow, globex_key, settings
):
    # given our proxy on 127.0.0.1 in front of the server, telling each client's address
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    settings.TRUSTED_PROXY_COUNT = 1
    prefix = acme_key.partition(".")[0]
    guesser = Api(live_server.url, f"{prefix}.wrong-secret")

    # when wrong secrets for Acme's prefix come from eight addresses
    answers = []
    for attempt in range(8):
        guesser.session.headers["X-Forwarded-For"] = f"203.0.113.{attempt}"
        answers.append(guesser.get("flows/"))

    # then the sixth and later are refused unchecked, as problems with Retry-After
    assert [answer.status_code for answer in answers] == [401] * 5 + [429] * 3
    refused = answers[-1]
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    # and, until the window ends, that prefix's right key too (it is not even checked)
    owner = Api(live_server.url, acme_key)
    owner.session.headers["X-Forwarded-For"] = "198.51.100.7"
    assert owner.get("flows/").status_code == 429
    # while another account's key from another address works
    other = Api(live_server.url, globex_key)
    other.session.headers["X-Forwarded-For"] = "198.51.100.8"
    assert other.get("flows/").status_code == 200


def test_a_guesser_from_a_trusted_proxy_is_throttled_by_its_own_address_and_others_are_not(
    live_server, acme_key, acme_flow, globex_key, settings
):
    # given our proxy on 127.0.0.1 in front of the server, telling each client's address
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    settings.TRUSTED_PROXY_COUNT = 1
    guesser = Api(live_server.url, None)
    guesser.session.headers["X-Forwarded-For"] = "203.0.113.9"

    # when one address tries many made-up prefixes
    answers = []
    for attempt in range(7):
        guesser.session.headers["Authorization"] = f"Api-Key Guess{attempt:03d}.secret"
        answers.append(guesser.get("flows/").status_code)

    # then it is throttled after five, whatever prefix it tries next
    assert answers == [401] * 5 + [429] * 2
    # while the account's own client, from another address, works
    owner = Api(live_server.url, acme_key)
    owner.session.headers["X-Forwarded-For"] = "198.51.100.7"
    assert owner.get("flows/").status_code == 200


def test_the_throttle_ends_with_its_window(live_server, acme_key, acme_flow, settings):
    settings.API_KEY_FAILURE_WINDOW_SECONDS = 2
    prefix = acme_key.partition(".")[0]
    guesser = Api(live_server.url, f"{prefix}.wrong-secret")
    for _ in range(6):
        guesser.get("flows/")
    assert Api(live_server.url, acme_key).get("flows/").status_code == 429

    wait_until(
        lambda: Api(live_server.url, acme_key).get("flows/").status_code == 200,
        timeout=30,
        message="the right key works again once the window has passed",
    )
