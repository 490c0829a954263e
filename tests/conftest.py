"""Fixtures shared by every test: a real Redis, the sandbox provider and its keys, and the named
people of every permission test (alice and bob manage Acme, charlie manages Globex).

Redis: REDIS_URL when set (CI points it at the machine's server), else an embedded redis-server
started for the session. The suite uses its own database number and empties it first.
"""

import os
from pathlib import Path

import pytest
import redis
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import get_user_model

from campaigns.models import Campaign
from config.celery import app
from config.embedded_redis import EmbeddedRedis
from dialer.outcomes import tallies as outcome_tallies
from dialer.tallies import tallies_differ
from flows.models import DID, Account, Flow
from phonon.sandbox import start_sandbox_thread

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))
TESTS = Path(__file__).resolve().parent
# Where workers send, are killed, split, cancel and re-queue: the stored tallies are checked after each test.
TALLIES_CHECKED_IN = {"dialer", "e2e"}


@pytest.fixture(scope="session")
def redis_url():
    given = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL")
    embedded = None
    if given:
        base = given.rsplit("/", 1)[0] if given.count("/") > 2 else given
        url = f"{base}/15"
    else:
        embedded = EmbeddedRedis().start()
        url = embedded.url

    redis.Redis.from_url(url).flushdb()
    yield url
    if embedded:
        embedded.stop()


@pytest.fixture(autouse=True)
def _use_test_redis(redis_url, settings):
    settings.REDIS_URL = redis_url
    settings.CELERY_BROKER_URL = redis_url
    os.environ["REDIS_URL"] = redis_url

    app.conf.broker_url = redis_url
    # Each test starts with a fresh limiter: account and campaign ids repeat across tests, and an
    # earlier test's sends (its window log, its pacing and shares) would hold a later one back; so would
    # its wrong API keys (api.key_failures: every test's requests come from 127.0.0.1).
    client = redis.Redis.from_url(redis_url)
    stale = list(client.scan_iter("phonon:ratelimit:*")) + list(client.scan_iter("api:key-failures:*"))
    # So would an earlier test's best time to call, and its computations asked of no worker.
    stale += list(client.scan_iter("redials:best-time:*"))
    if stale:
        client.delete(*stale)
    for message in client.lrange("celery", 0, -1):
        if b"best_time_compute_task" in message:
            client.lrem("celery", 0, message)


@pytest.fixture(autouse=True)
def _tallies_agree_with_the_calls(request):
    """After each database test in tests/dialer and tests/e2e, the stored call tallies (dialer.tallies)
    equal a real count of the calls by state. A test that writes calls behind the product's back
    rebuilds them with calls_recount, as the recount_calls command repairs them."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or Path(str(request.node.path)).relative_to(TESTS).parts[0] not in TALLIES_CHECKED_IN:
        yield
        return
    # Requested here so that the database outlives this check (and the test's workers stop before it).
    request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
    yield
    assert tallies_differ() == {}, "stored call tallies differ from the calls: {campaign: {state: (stored, counted)}}"
    for campaign_id in Campaign.objects.values_list("pk", flat=True):
        stored = outcome_tallies.outcomes_stored(campaign_id=campaign_id)
        assert stored == outcome_tallies.outcomes_counted(campaign_id=campaign_id), "stored outcome tallies differ"


@pytest.fixture
def sandbox(settings):
    """The sandbox provider on a free loopback port, with the settings pointed at it."""

    running = start_sandbox_thread()
    settings.PHONON_REALTIME_BASE_URL = f"{running.base_url}/realtime"
    settings.PHONON_BULK_BASE_URL = f"{running.base_url}/bulk"
    yield running
    running.stop()


@pytest.fixture
def artifacts_dir():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def sandbox_private_key():
    """One 2048-bit key for the whole session: generating one takes about 100 ms."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_private_key():
    """A second 2048-bit key, one the sandbox does not hold."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def keyed_sandbox(sandbox_private_key):
    """The sandbox provider with the session's key, on a free loopback port."""
    running = start_sandbox_thread(private_key=sandbox_private_key)
    yield running
    running.stop()


# --- Accounts, flows and the people who manage them ------------------------------------------------


@pytest.fixture
def acme(db):
    return Account.objects.create(name="Acme Lending", client_id="C129113")


@pytest.fixture
def globex(db):
    return Account.objects.create(name="Globex", client_id="C555001")


def make_user(username, *, staff=False, superuser=False, accounts=()):
    user = get_user_model().objects.create_user(
        username, password="pw-" + username, is_staff=staff, is_superuser=superuser
    )
    for account in accounts:
        account.managers.add(user)
    return user


@pytest.fixture
def alice(acme):
    return make_user("alice", accounts=[acme])


@pytest.fixture
def bob(acme):
    return make_user("bob", accounts=[acme])


@pytest.fixture
def charlie(globex):
    return make_user("charlie", accounts=[globex])


@pytest.fixture
def acme_flow(acme):
    flow = Flow.objects.create(account=acme, flow_id="ZH0RKJvh", name="Reminders", security_id="acme-secret-9876")
    DID.objects.create(flow=flow, number="918045678901")
    DID.objects.create(flow=flow, number="918045678902")
    return flow


@pytest.fixture
def globex_flow(globex):
    return Flow.objects.create(account=globex, flow_id="GLBXflw1", name="Globex calls", security_id="globex-s-1111")
