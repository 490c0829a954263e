"""Heartbeats of the Celery worker and beat processes, kept in Redis, read by /health and /metrics.

Each worker (on whatever machine) writes `phonon:heartbeat:worker:<nodename>` and beat writes
`phonon:heartbeat:beat`, every 10 s, with a 60 s expiry: a key that exists is a heartbeat younger
than 60 s, judged by Redis's clock alone, so the clocks of the machines never matter.

Imported by config/celery.py, so its signal receivers are connected in every worker and beat
process.
"""

import logging
import logging.config
import threading
from functools import lru_cache

import redis
from celery import signals
from django.conf import settings

WORKER_KEY_PREFIX = "phonon:heartbeat:worker:"
BEAT_KEY = "phonon:heartbeat:beat"
INTERVAL_SECONDS = 10
TTL_SECONDS = 60

log = logging.getLogger(__name__)


@lru_cache(maxsize=8)
def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=2)


def worker_key(nodename: str) -> str:
    return WORKER_KEY_PREFIX + nodename


class Heartbeat:
    """A daemon thread that refreshes one key until stopped."""

    def __init__(self, key: str, *, interval: float = INTERVAL_SECONDS, ttl: int = TTL_SECONDS):
        self.key, self.interval, self.ttl = key, interval, ttl
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat {key}", daemon=True)
        self._failing = False

    def beat(self) -> None:
        try:
            redis_client(settings.REDIS_URL).set(self.key, "1", ex=self.ttl)
        except redis.RedisError as error:
            if not self._failing:
                log.warning("heartbeat %s not written: %s", self.key, error)
            self._failing = True
        else:
            self._failing = False

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def start(self) -> "Heartbeat":
        self.beat()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        try:
            redis_client(settings.REDIS_URL).delete(self.key)
        except redis.RedisError:
            pass  # it expires on its own


_running: dict[str, Heartbeat] = {}


def start_heartbeat(key: str) -> Heartbeat:
    if key not in _running:
        _running[key] = Heartbeat(key).start()
    return _running[key]


def stop_heartbeats() -> None:
    while _running:
        _running.popitem()[1].stop()


@signals.worker_ready.connect
def _worker_ready(sender=None, **kwargs):
    # worker_ready runs in the worker's main process once its consumer takes messages.
    start_heartbeat(worker_key(sender.hostname))


@signals.worker_shutdown.connect
def _worker_shutdown(sender=None, **kwargs):
    stop_heartbeats()


@signals.beat_init.connect
def _beat_init(sender=None, **kwargs):
    start_heartbeat(BEAT_KEY)


@signals.setup_logging.connect
def _setup_logging(**kwargs):
    # A receiver here stops Celery from replacing the root logger's handlers with its own: worker
    # and beat keep settings.LOGGING, with its redaction filter and LOG_FORMAT.
    logging.config.dictConfig(settings.LOGGING)


# --- Reading (health and metrics) -------------------------------------------------------------


def workers_alive() -> int:
    """Workers whose heartbeat is younger than TTL_SECONDS. Raises redis.RedisError."""
    client = redis_client(settings.REDIS_URL)
    return sum(1 for _ in client.scan_iter(match=WORKER_KEY_PREFIX + "*", count=500))


def beat_alive() -> bool:
    """Raises redis.RedisError."""
    return bool(redis_client(settings.REDIS_URL).exists(BEAT_KEY))
