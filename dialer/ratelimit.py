"""The provider's rate limit, shared by every worker on every machine: a sliding-window log in Redis.

One key per provider endpoint and account, or per endpoint alone (PHONON_RATE_SCOPE). Each grant
is a sorted-set member `<calls>:<id>` scored by Redis's own clock (`TIME`), so worker clocks never
matter. A grant of n calls is given only if the calls granted in the last `window + margin`
seconds plus n stay within the limit: over every window of the configured length, the calls sent
never exceed it. The check and the grant are one Lua script, so two workers can never both take
the last room.
"""

import time
import uuid
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings

# KEYS[1]: the log. ARGV: limit, window seconds, cost, grant id.
# Returns {1, "0"} for a grant, {0, "<seconds to wait>"} otherwise, {-1, "0"} if cost > limit.
ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
if cost > limit then return {-1, '0'} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. tostring(now - window))
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local used = 0
for i = 1, #entries, 2 do
  used = used + tonumber(string.match(entries[i], '^(%d+):'))
end
if used + cost <= limit then
  redis.call('ZADD', KEYS[1], now, cost .. ':' .. ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
  return {1, '0'}
end
local freed = 0
for i = 1, #entries, 2 do
  freed = freed + tonumber(string.match(entries[i], '^(%d+):'))
  if used - freed + cost <= limit then
    return {0, tostring(tonumber(entries[i + 1]) + window - now)}
  end
end
return {0, tostring(window)}
"""


class LimiterUnavailable(Exception):
    """Redis cannot be reached: nothing may be sent (the limiter fails closed)."""


@dataclass(frozen=True)
class Rate:
    calls: int
    seconds: float

    @classmethod
    def parse(cls, text: str) -> "Rate":
        calls, _, seconds = text.partition("/")
        rate = cls(int(calls), float(seconds or 60))
        if rate.calls < 1 or rate.seconds <= 0:
            raise ValueError(f"A rate is written calls/seconds, e.g. 3000/60; got {text!r}.")
        return rate


@dataclass(frozen=True)
class Decision:
    granted: bool
    wait_seconds: float = 0.0
    key: str = ""
    member: str = ""
    granted_at: float = 0.0  # time.monotonic() of the grant, on this worker

    def age(self) -> float:
        return time.monotonic() - self.granted_at


def rate_for(endpoint: str) -> Rate:
    return Rate.parse(settings.PHONON_BULK_RATE if endpoint == "bulk" else settings.PHONON_REALTIME_RATE)


def limiter_key(endpoint: str, account_client_id: str) -> str:
    """The Redis key of the limit this request counts against (PHONON_RATE_SCOPE)."""
    if settings.PHONON_RATE_SCOPE == "endpoint":
        return f"phonon:ratelimit:{endpoint}"
    return f"phonon:ratelimit:{endpoint}:{account_client_id}"


@lru_cache(maxsize=8)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)


def _script(url: str):
    return _client(url).register_script(ACQUIRE_LUA)


def try_acquire(*, endpoint: str, account_client_id: str, calls: int, rate: Rate | None = None) -> Decision:
    """Take room for `calls` calls now, or say how long until there may be room."""
    rate = rate or rate_for(endpoint)
    window = rate.seconds + settings.PHONON_RATE_MARGIN
    key, grant_id = limiter_key(endpoint, account_client_id), uuid.uuid4().hex
    try:
        granted, wait = _script(settings.REDIS_URL)(keys=[key], args=[rate.calls, window, calls, grant_id])
    except redis.RedisError as error:
        raise LimiterUnavailable(f"The rate limiter's Redis cannot be reached: {error}") from error
    if int(granted) == -1:
        raise ValueError(f"A request of {calls} calls can never fit a limit of {rate.calls}.")
    if not int(granted):
        return Decision(False, float(wait))
    return Decision(True, 0.0, key=key, member=f"{calls}:{grant_id}", granted_at=time.monotonic())


def give_back(decision: Decision) -> None:
    """Return an unused grant (the request did not leave soon enough after it; see dispatch)."""
    try:
        _client(settings.REDIS_URL).zrem(decision.key, decision.member)
    except redis.RedisError:
        pass  # the grant then simply counts as used: never more calls than the limit


def acquire(*, endpoint: str, account_client_id: str, calls: int, max_wait: float,
            on_wait=None, rate: Rate | None = None) -> Decision:
    """Wait up to `max_wait` seconds for a grant. `on_wait()` runs between tries (lease renewal,
    pause checks) and may return False to give up."""
    deadline = time.monotonic() + max_wait
    while True:
        decision = try_acquire(endpoint=endpoint, account_client_id=account_client_id, calls=calls, rate=rate)
        if decision.granted:
            return decision
        remaining = deadline - time.monotonic()
        if decision.wait_seconds > remaining:
            return decision
        time.sleep(min(decision.wait_seconds + 0.002, 1.0))
        if on_wait is not None and on_wait() is False:
            return Decision(False, 0.0)
