"""Wrong API keys are counted, per key prefix and per client address, in Redis (shared by every web
process): after API_KEY_FAILURE_LIMIT of them within API_KEY_FAILURE_WINDOW_SECONDS, keys from that prefix
or address are not even checked until the window ends. Guessing the secret of a known prefix, or many
prefixes from one address, then takes forever. Without Redis the API stays up, unthrottled (logged)."""

import logging
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings

from api.keys import api_key_find
from api.models import AccountAPIKey
from core.client_address import client_address

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyCheck:
    api_key: AccountAPIKey | None
    wait_seconds: int = 0  # > 0: refused unchecked, too many failures; try again after this


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _counters(raw: str, request) -> list[str]:
    prefix = (raw or "").partition(".")[0][:32]
    return [f"api:key-failures:prefix:{prefix}", f"api:key-failures:address:{client_address(request) or '-'}"]


def _wait(client: redis.Redis, counters: list[str]) -> int:
    """Seconds until the fullest counter's window ends, when one is at the limit; else 0."""
    counts = client.mget(counters)
    full = [key for key, count in zip(counters, counts) if count is not None and int(count) >= _limit()]
    return max((max(client.ttl(key), 1) for key in full), default=0)


def _limit() -> int:
    return settings.API_KEY_FAILURE_LIMIT


def api_key_checked(raw: str, request) -> KeyCheck:
    """The usable key of this secret (None when wrong), unless this prefix or address failed too often."""
    counters = _counters(raw, request)
    try:
        client = _client(settings.REDIS_URL)
        wait = _wait(client, counters)
    except redis.RedisError:
        log.warning("API key failures are not counted: Redis cannot be reached.")
        return KeyCheck(api_key_find(raw))
    if wait:
        return KeyCheck(None, wait_seconds=wait)
    api_key = api_key_find(raw)
    if api_key is None:
        try:
            with client.pipeline() as pipe:
                for key in counters:
                    pipe.incr(key)
                    pipe.expire(key, settings.API_KEY_FAILURE_WINDOW_SECONDS, nx=True)
                pipe.execute()
        except redis.RedisError:
            log.warning("A wrong API key was not counted: Redis cannot be reached.")
    return KeyCheck(api_key)
