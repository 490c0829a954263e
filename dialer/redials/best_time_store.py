"""Where the computed best time to call is kept: Redis, read by every web process (the default
local-memory cache of each process recomputed it for each one).

Redis, not a table: the result is derived data that can be recomputed at any moment, the entries of
accounts and zones nobody looks at any more must go away by themselves (a key's expiry), and the
key that makes many page views ask for one computation lives beside it.
"""

import datetime
import json
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import redis
from django.conf import settings

from dialer.redials.best_time import LOOK_BACK_DAYS, Bar, BestTime, best_time_read

# A result nobody recomputed for this long is dropped.
KEEP_SECONDS = 7 * 86400


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def store_redis() -> redis.Redis:
    return _client(settings.REDIS_URL)


def known_zone(zone: str) -> str:
    """A zone not known (as a form may carry) reads as PHONON_TIMEZONE."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return settings.PHONON_TIMEZONE
    return zone


def best_time_key(account_id: int, zone: str, days: int) -> str:
    return f"redials:best-time:{account_id}:{zone}:{days}"


def best_time_stored(*, account_id: int, zone: str, days: int) -> BestTime | None:
    """The last result kept, or None (none yet, or kept by a version that wrote it otherwise).
    Raises redis.RedisError when Redis is unreachable."""
    raw = store_redis().get(best_time_key(account_id, zone, days))
    return _loaded(raw) if raw else None


def best_time_compute(*, account_id: int, zone: str, days: int = LOOK_BACK_DAYS, now=None) -> BestTime:
    """Compute the best time (dialer.redials.best_time) and keep it for the pages; the key that
    said a computation was asked for goes, so a later page view may ask again."""
    zone = known_zone(zone)
    best = best_time_read(account_id=account_id, zone=zone, days=days, now=now)
    key = best_time_key(account_id, zone, days)
    client = store_redis()
    client.set(key, _dumped(best), ex=KEEP_SECONDS)
    client.delete(f"{key}:asked")
    return best


def _dumped(best: BestTime) -> str:
    def bars(items):
        return [[bar.label, bar.calls, bar.answered] for bar in items]

    return json.dumps({
        "zone": best.zone, "days": best.days, "calls": best.calls, "answered": best.answered,
        "hours": bars(best.hours), "weekdays": bars(best.weekdays), "delays": bars(best.delays),
        "computed_at": best.computed_at.isoformat(),
    })


def _loaded(raw: bytes) -> BestTime | None:
    try:
        data = json.loads(raw)
        return BestTime(
            zone=data["zone"], days=data["days"], calls=data["calls"], answered=data["answered"],
            hours=[Bar(*each) for each in data["hours"]], weekdays=[Bar(*each) for each in data["weekdays"]],
            delays=[Bar(*each) for each in data["delays"]],
            computed_at=datetime.datetime.fromisoformat(data["computed_at"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
