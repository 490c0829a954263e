"""The best time to call as the pages read it: the last result a worker computed
(dialer.redials.best_time_store), and a fresh computation asked for when it is missing or old.
Never computed inside a page: 46 s on PostgreSQL over a million calls.

Many page views, in any process, ask for one computation: a short Redis key (SET NX) says one was
asked for, and the task removes it once it has stored its result. A page whose Redis is unreachable
shows the sentence saying the best time is being worked out, as before the first result.
"""

import datetime

import redis
from django.utils import timezone
from kombu.exceptions import OperationalError

from dialer.redials.best_time import LOOK_BACK_DAYS, BestTime
from dialer.redials.best_time_store import best_time_key, best_time_stored, known_zone, store_redis
from dialer.redials.tasks import best_time_compute_task

# A result older than this is shown (with its time) while a fresh one is computed.
REFRESH_SECONDS = 600
# One computation asked for at a time per account, zone and days: a task lost on the way is asked
# for again after this (longer than a computation takes at a few million calls).
ASKED_SECONDS = 600


def best_time_last(*, account_id: int, zone: str, days: int = LOOK_BACK_DAYS) -> BestTime | None:
    """The last computed best time (its `computed_at` says up to when), or None while the first is
    worked out. Missing or older than REFRESH_SECONDS: one computation is asked of a worker."""
    zone = known_zone(zone)
    try:
        found = best_time_stored(account_id=account_id, zone=zone, days=days)
    except redis.RedisError:
        return None
    if found is None or timezone.now() - found.computed_at > datetime.timedelta(seconds=REFRESH_SECONDS):
        _ask(account_id=account_id, zone=zone, days=days)
    return found


def _ask(*, account_id: int, zone: str, days: int) -> None:
    asked = f"{best_time_key(account_id, zone, days)}:asked"
    try:
        if not store_redis().set(asked, "1", nx=True, ex=ASKED_SECONDS):
            return  # asked already, by this view or another process's
        best_time_compute_task.delay(account_id, zone, days)
    except OperationalError:
        store_redis().delete(asked)  # the broker is unreachable: the next view asks again
    except redis.RedisError:
        return
