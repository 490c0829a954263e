"""Fixtures shared by every test: a real Redis, the sandbox provider, named users.

Redis: REDIS_URL when set (CI points it at the machine's server), else an embedded redis-server
started for the session. The suite uses its own database number and empties it first.
"""

import os
from pathlib import Path

import pytest
import redis

from config.celery import app
from config.embedded_redis import EmbeddedRedis
from phonon.sandbox import start_sandbox_thread

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))


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
    # Each test starts with no campaign asking the limiter (campaign ids repeat across tests).
    client = redis.Redis.from_url(redis_url)
    stale = list(client.scan_iter("phonon:ratelimit:*:asking"))
    if stale:
        client.delete(*stale)


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
