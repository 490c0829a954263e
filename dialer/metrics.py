"""Metrics the dialer records: waits for rate-limit grants, kept in Redis so every process adds up.

`/metrics` (config.metrics) reads them back; nothing is counted in process memory.
"""

import logging

import redis
from django.conf import settings

LIMITER_WAIT_KEY_PREFIX = "phonon:metrics:limiter_waits:"

log = logging.getLogger(__name__)


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=3, socket_connect_timeout=2)


def record_limiter_wait(endpoint: str, seconds: float) -> None:
    """Count one wait for a rate-limit grant on `endpoint` and how long it lasted. Never raises:
    a metric must not stop a send."""
    key = LIMITER_WAIT_KEY_PREFIX + endpoint
    try:
        pipe = _redis().pipeline(transaction=False)
        pipe.hincrby(key, "count", 1)
        pipe.hincrbyfloat(key, "seconds", max(seconds, 0.0))
        pipe.execute()
    except redis.RedisError as error:
        log.warning("limiter wait not recorded: %s", error)


def limiter_waits() -> dict[str, dict[bytes, bytes]]:
    """{endpoint: {b"count": ..., b"seconds": ...}}; raises redis.RedisError when Redis is away."""
    client = _redis()
    return {
        key.decode()[len(LIMITER_WAIT_KEY_PREFIX) :]: client.hgetall(key)
        for key in client.scan_iter(match=LIMITER_WAIT_KEY_PREFIX + "*", count=500)
    }
