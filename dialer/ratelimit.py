"""The provider's rate limit, shared by every worker on every machine: one limiter in Redis that
caps, paces and shares.

One limiter per provider endpoint and account, or per endpoint alone (PHONON_RATE_SCOPE), made of
three Redis keys that one Lua script reads and writes at once, on Redis's own clock (`TIME`), so
that worker clocks, worker counts and machine counts never matter:

- **the cap** (`<key>`): a sliding-window log. Each grant is a sorted-set member
  `<calls>:<campaign>:<id>` scored by the time it was granted. A grant of n calls is given only if
  the calls granted in the last `window + margin` seconds plus n stay within the limit: over every
  window of the configured length, the calls sent never exceed it.
- **the pace** (`<key>:pace`): a GCRA-style schedule, the time at which the calls granted so far
  would have left at the even rate (`limit / (window + margin)`). A request may leave only while
  that backlog, its own calls included, is at most the burst (PHONON_RATE_BURST calls, never less
  than the request itself). So in any second at most the even rate plus one burst leaves, and the
  window's quota is spread across the window instead of leaving in its first half second. A
  grant that comes late (the worker woke, or reached Redis, after its turn) keeps its place in
  the schedule for up to half the margin, the lateness the dispatcher tolerates between a grant
  and its request: otherwise every request's few milliseconds of lateness would be lost from the
  limit for good (about 3% at 30,000 calls/min on a busy machine).
- **the share** (`<key>:asking`): the campaigns that want to send now, each with its weight
  (priority: high 4, normal 2, low 1) and its place in a stride schedule (`pass`: every grant
  moves it on by calls / weight). A campaign ahead of the furthest behind of the others is told
  to wait (`share`), so over any few requests the calls go in proportion to the weights, and no
  campaign leads by more than one request: the weights hold over any span of a few windows,
  whatever the batch size (with two requests a window, a low campaign beside a high one sends one
  request in five, so it may send nothing for two windows). A campaign that has not asked for
  PHONON_SHARE_IDLE_SECONDS drops out, and one that (re)joins starts level with the furthest
  behind, so an idle campaign's share goes to the others at once and alone a campaign uses the
  whole limit. Workers ask with
  every request; the dispatch tick also marks campaigns whose batches wait for a worker.

A refusal says how long to wait and why: `rate` (the cap or the pace: everyone waits), or `share`
(this campaign has had its turn), naming the campaign whose turn it is: the worker hands its batch
back and sends one of that campaign's instead (dispatch.batch_dispatch_in_turn), so no worker waits
on a campaign whose turn is not due while another's batch could go, and the campaign whose turn it
is gets it even while its batches wait behind other work for a worker. A campaign told to wait stays
in the turns until its turn is due, asked for or not. The share is said before the pace's wait, so
that the worker turns in time.
"""

import time
import uuid
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings

from phonon.limits import Rate

# Who is asking: campaign -> "weight cost last-asked pass". `pass` is the campaign's place in a
# stride schedule: every grant moves it on by calls / weight, and the campaign furthest behind is
# served first, so weights decide the shares over any stretch of a few requests. A campaign quiet
# for `idle` seconds is out of the turns; one that joins starts level with the furthest behind.
# A quiet one's place is remembered for ten times `idle`: it had not stopped (it stops through
# campaign_gone), its batches waited for a busy worker, so when it asks again it keeps the turns it
# is owed, up to one request's worth; reset to the others' level, it lost them (a low campaign then
# got every other grant beside a high one whose batches queued behind the low one's).
ASKING_LUA = """
local function asking_update(key, campaign, weight, cost, now, idle)
  local asking = redis.call('HGETALL', key)
  local claims, lowest, lowest_id, quiet = {}, nil, nil, nil
  for i = 1, #asking, 2 do
    local w, c, at, pass = string.match(asking[i + 1], '^(%S+) (%S+) (%S+) (%S+)$')
    if w == nil or tonumber(at) < now - 10 * idle then
      redis.call('HDEL', key, asking[i])
    elseif tonumber(at) < now - idle then
      if asking[i] == campaign then quiet = tonumber(pass) end
    else
      claims[asking[i]] = {tonumber(w), tonumber(c), tonumber(pass), tonumber(at)}
      if asking[i] ~= campaign and (lowest == nil or tonumber(pass) < lowest) then
        lowest, lowest_id = tonumber(pass), asking[i]
      end
    end
  end
  local mine = claims[campaign]
  local pass, at = lowest or 0, now
  if mine then
    pass, at = mine[3], math.max(mine[4], now)
  elseif quiet ~= nil then
    pass = lowest and math.max(quiet, lowest - cost) or quiet
  end
  claims[campaign] = {weight, cost, pass, at}
  redis.call('HSET', key, campaign, weight .. ' ' .. cost .. ' ' .. string.format('%.6f', at) .. ' ' ..
             string.format('%.6f', pass))
  redis.call('PEXPIRE', key, math.ceil(10 * idle * 1000) + 1000)
  return claims, lowest, lowest_id
end
"""

# KEYS: the log, the pace, the asking campaigns, the journal.
# ARGV: limit, window seconds (margin included), cost, grant id, campaign, weight, burst calls
# (0: not paced), idle seconds, seconds of lateness a grant is forgiven, seconds the journal keeps
# grants (0: no journal).
# Returns {1, "0", "granted"}, {0, "<seconds to wait>", "rate"}, {0, "<seconds to wait>", "share", "<the
# campaign whose turn it is>"}, or {-1, "0", "never"}.
ACQUIRE_LUA = ASKING_LUA + """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local campaign = ARGV[5]
local weight = tonumber(ARGV[6])
local burst = tonumber(ARGV[7])
local idle = tonumber(ARGV[8])
local forgiven = tonumber(ARGV[9])
if cost > limit then return {-1, '0', 'never'} end
local keep_ms = math.ceil(window * 1000) + 1000
-- No campaign (the API's throttle): the cap alone.
local claims, lowest, lowest_id = {}, nil, nil
if campaign ~= '' then claims, lowest, lowest_id = asking_update(KEYS[3], campaign, weight, cost, now, idle) end

-- The cap: what was granted in the window.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.6f', now - window))
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local used = 0
for i = 1, #entries, 2 do
  used = used + tonumber(string.match(entries[i], '^(%d+):'))
end
local wait = 0
if used + cost > limit then
  wait = window
  local freed = 0
  for i = 1, #entries, 2 do
    freed = freed + tonumber(string.match(entries[i], '^(%d+):'))
    if used - freed + cost <= limit then
      wait = tonumber(entries[i + 1]) + window - now
      break
    end
  end
end

-- The pace: the backlog at the even rate, this request included, stays within the burst.
local interval = window / limit
local tat = tonumber(redis.call('GET', KEYS[2]) or '0')
local start = math.max(tat, now - forgiven)
if burst > 0 then
  local pace_wait = start + cost * interval - math.min(math.max(burst, cost), limit) * interval - now
  if pace_wait > wait then wait = pace_wait end
end

-- The share: a campaign ahead of the furthest behind of the others waits for them (so none
-- leads by more than one request), even with nothing of its own in the window: where a window
-- holds only a few requests, serving such a campaign at once gave a low one every other grant.
-- Said before the cap's or the pace's wait, with the campaign whose turn it is, so that the worker
-- turns to one of that campaign's batches in time for the next grant. The campaign told to wait
-- stays in the turns until its turn is due (the others' places reach its own at the full limit,
-- then `idle` more), asked for or not: its batches wait for a worker meanwhile, and dropped, it would
-- leave the others every grant until a worker asked for it again, and then take its turns in a row.
local pass = campaign ~= '' and claims[campaign][3] or 0
local step = cost / weight
if lowest ~= nil and pass > lowest + 1e-6 then
  local others = 0
  for who, claim in pairs(claims) do
    if who ~= campaign then others = others + claim[1] end
  end
  local due = math.max(claims[campaign][4], now + (pass - lowest) * others * window / limit)
  redis.call('HSET', KEYS[3], campaign, weight .. ' ' .. cost .. ' ' .. string.format('%.6f', due) .. ' ' ..
             string.format('%.6f', pass))
  return {0, string.format('%.6f', math.min(math.max(wait, cost * interval, 0.05), 1.0)), 'share', lowest_id}
end
if wait > 0 then return {0, string.format('%.6f', wait), 'rate'} end

redis.call('ZADD', KEYS[1], now, cost .. ':' .. campaign .. ':' .. ARGV[4])
redis.call('PEXPIRE', KEYS[1], keep_ms)
if tonumber(ARGV[10]) > 0 then
  redis.call('HSET', KEYS[4], ARGV[4], string.format('%.6f', now) .. ' ' .. cost .. ' ' .. campaign)
  redis.call('PEXPIRE', KEYS[4], math.ceil(tonumber(ARGV[10]) * 1000))
end
if burst > 0 then
  redis.call('SET', KEYS[2], string.format('%.6f', start + cost * interval), 'PX', keep_ms)
end
if campaign ~= '' then
  redis.call('HSET', KEYS[3], campaign, weight .. ' ' .. cost .. ' ' .. string.format('%.6f', claims[campaign][4]) ..
             ' ' .. string.format('%.6f', pass + step))
end
return {1, '0', 'granted'}
"""

# KEYS: the log, the pace, the asking campaigns, the journal. ARGV: member, seconds to take off the
# pace (0: none), campaign, its step in the turns (calls / weight), grant id.
# A grant given back never left: its calls leave the window, its place in the pace, and the turn it
# moved its campaign on by (else every grant a slow worker gives back costs its campaign a turn); it
# leaves the journal even when it is too old to leave the window (then it still counts there).
GIVE_BACK_LUA = """
redis.call('HDEL', KEYS[4], ARGV[5])
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  if tonumber(ARGV[2]) > 0 then
    local tat = tonumber(redis.call('GET', KEYS[2]) or '0')
    if tat > 0 then
      redis.call('SET', KEYS[2], string.format('%.6f', tat - tonumber(ARGV[2])), 'KEEPTTL')
    end
  end
  local mine = ARGV[3] ~= '' and redis.call('HGET', KEYS[3], ARGV[3])
  if mine then
    local w, c, at, pass = string.match(mine, '^(%S+) (%S+) (%S+) (%S+)$')
    if w ~= nil then
      redis.call('HSET', KEYS[3], ARGV[3], w .. ' ' .. c .. ' ' .. at .. ' ' ..
                 string.format('%.6f', tonumber(pass) - tonumber(ARGV[4])))
    end
  end
end
return 1
"""

# KEYS: the asking campaigns. ARGV: campaign, weight, cost, idle seconds.
HEARTBEAT_LUA = ASKING_LUA + """
local t = redis.call('TIME')
asking_update(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(t[1]) + tonumber(t[2]) / 1000000,
              tonumber(ARGV[4]))
return 1
"""


class LimiterUnavailable(Exception):
    """Redis cannot be reached: nothing may be sent (the limiter fails closed)."""


@dataclass(frozen=True)
class Decision:
    granted: bool
    wait_seconds: float = 0.0
    key: str = ""
    member: str = ""
    granted_at: float = 0.0  # time.monotonic() of the grant, on this worker
    reason: str = ""  # why not: "rate" (everyone waits) or "share" (this campaign has had its part)
    paced_seconds: float = 0.0  # the grant's place in the pace, taken back with it
    campaign: str = ""
    step: float = 0.0  # how far the grant moved its campaign on in the turns, taken back with it
    turn_of: str = ""  # refused for the share: the campaign whose turn it is

    def age(self) -> float:
        return time.monotonic() - self.granted_at


@dataclass(frozen=True)
class Usage:
    """What the limiter knows now: calls granted in the window, per campaign, and who is asking."""

    limit: int
    window: float
    used: int
    by_campaign: dict[str, int]
    asking: dict[str, int]  # campaign -> weight


def rate_for(endpoint: str) -> Rate:
    return Rate.parse(settings.PHONON_BULK_RATE if endpoint == "bulk" else settings.PHONON_REALTIME_RATE)


def limiter_key(endpoint: str, account_client_id: str) -> str:
    """The Redis key of the limit this request counts against (PHONON_RATE_SCOPE)."""
    if settings.PHONON_RATE_SCOPE == "endpoint":
        return f"phonon:ratelimit:{endpoint}"
    return f"phonon:ratelimit:{endpoint}:{account_client_id}"


def _keys(key: str) -> list[str]:
    return [key, f"{key}:pace", f"{key}:asking", f"{key}:granted"]


@lru_cache(maxsize=8)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)


def _script(url: str, source: str):
    return _client(url).register_script(source)


def _window(rate: Rate) -> float:
    return rate.seconds + settings.PHONON_RATE_MARGIN


def try_acquire(*, endpoint: str, account_client_id: str, calls: int, rate: Rate | None = None,
                campaign: str = "", weight: int = 2, burst: int = 0, key: str = "") -> Decision:
    """Take room for `calls` calls now, or say how long until there may be room. `burst` > 0 paces
    the grants (the provider's endpoints); `campaign` and `weight` share the limit. `key`: a limit of
    our own (the API's per key), counted apart from the provider's whatever PHONON_RATE_SCOPE says."""
    rate = rate or rate_for(endpoint)
    window = _window(rate)
    key, grant_id = key or limiter_key(endpoint, account_client_id), uuid.uuid4().hex
    try:
        granted, wait, reason, *turn_of = _script(settings.REDIS_URL, ACQUIRE_LUA)(
            keys=_keys(key),
            args=[rate.calls, window, calls, grant_id, campaign, weight, burst, settings.PHONON_SHARE_IDLE_SECONDS,
                  settings.PHONON_RATE_MARGIN / 2, settings.PHONON_RATE_JOURNAL_SECONDS],
        )
    except redis.RedisError as error:
        raise LimiterUnavailable(f"The rate limiter's Redis cannot be reached: {error}") from error
    if int(granted) == -1:
        raise ValueError(f"A request of {calls} calls can never fit a limit of {rate.calls}.")
    if not int(granted):
        return Decision(False, float(wait), reason=_text(reason), turn_of=_text(turn_of[0]) if turn_of else "")
    return Decision(
        True, 0.0, key=key, member=f"{calls}:{campaign}:{grant_id}", granted_at=time.monotonic(),
        paced_seconds=calls * window / rate.calls if burst else 0.0, campaign=campaign,
        step=calls / weight if campaign else 0.0,
    )


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def give_back(decision: Decision) -> None:
    """Return an unused grant (the request did not leave soon enough after it; see dispatch)."""
    try:
        _script(settings.REDIS_URL, GIVE_BACK_LUA)(
            keys=_keys(decision.key),
            args=[decision.member, decision.paced_seconds, decision.campaign, decision.step,
                  decision.member.rpartition(":")[2]],
        )
    except redis.RedisError:
        pass  # the grant then simply counts as used: never more calls than the limit


def acquire(*, endpoint: str, account_client_id: str, calls: int, max_wait: float,
            on_wait=None, rate: Rate | None = None, campaign: str = "", weight: int = 2, burst: int = 0) -> Decision:
    """Wait up to `max_wait` seconds for a grant. `on_wait()` runs before each sleep (lease
    renewal, pause checks) and may return False to give up: its database round trips then overlap
    the sleep instead of delaying the next try past its turn. A refusal for the campaign's share
    returns at once: the worker is better used on another campaign's batch meanwhile."""
    deadline = time.monotonic() + max_wait
    while True:
        decision = try_acquire(endpoint=endpoint, account_client_id=account_client_id, calls=calls, rate=rate,
                               campaign=campaign, weight=weight, burst=burst)
        if decision.granted or decision.reason == "share":
            return decision
        remaining = deadline - time.monotonic()
        if decision.wait_seconds > remaining:
            return decision
        wake = time.monotonic() + min(decision.wait_seconds + 0.002, 1.0)
        if on_wait is not None and on_wait() is False:
            return Decision(False, 0.0)
        time.sleep(max(wake - time.monotonic(), 0.0))


def campaign_asking(*, endpoint: str, account_client_id: str, campaign: str, weight: int, calls: int) -> None:
    """Say that a campaign wants to send (the dispatch tick, for campaigns with batches due or in
    flight), so that its share is kept for it even while no worker is asking on its behalf."""
    key = limiter_key(endpoint, account_client_id)
    try:
        _script(settings.REDIS_URL, HEARTBEAT_LUA)(
            keys=[_keys(key)[2]],
            args=[campaign, weight, calls, settings.PHONON_SHARE_IDLE_SECONDS],
        )
    except redis.RedisError:
        pass  # the workers' own requests say it again; the cap never depends on this


def campaign_gone(*, endpoint: str, account_client_id: str, campaign: str) -> None:
    """A campaign stopped (paused, cancelled, outside its window): its share goes to the others now."""
    try:
        _client(settings.REDIS_URL).hdel(_keys(limiter_key(endpoint, account_client_id))[2], campaign)
    except redis.RedisError:
        pass  # it drops out by itself after PHONON_SHARE_IDLE_SECONDS


def granted_journal(*, endpoint: str, account_client_id: str) -> list[tuple[float, int, str]]:
    """Every grant kept (not given back) over the last PHONON_RATE_JOURNAL_SECONDS, oldest first: (the
    time it was granted, on Redis's clock; calls; campaign). What the limiter let leave, on its one clock,
    for the tests and an audit; empty when the journal is off (the default)."""
    journal = _keys(limiter_key(endpoint, account_client_id))[3]
    try:
        entries = _client(settings.REDIS_URL).hvals(journal)
    except redis.RedisError as error:
        raise LimiterUnavailable(f"The rate limiter's Redis cannot be reached: {error}") from error
    grants = []
    for entry in entries:
        at, calls, campaign = (entry.decode().split(" ") + [""])[:3]
        grants.append((float(at), int(calls), campaign))
    return sorted(grants)


def limiter_usage(*, endpoint: str, account_client_id: str, rate: Rate | None = None) -> Usage:
    """Calls granted in the window per campaign, and the campaigns asking now (for the pages)."""
    rate = rate or rate_for(endpoint)
    window = _window(rate)
    log, _, asking_key, _ = _keys(limiter_key(endpoint, account_client_id))
    client = _client(settings.REDIS_URL)
    try:
        seconds, micros = client.time()
        now = seconds + micros / 1_000_000
        entries = client.zrangebyscore(log, now - window, "+inf")
        asking = client.hgetall(asking_key)
    except redis.RedisError as error:
        raise LimiterUnavailable(f"The rate limiter's Redis cannot be reached: {error}") from error
    by_campaign: dict[str, int] = {}
    for member in entries:
        calls, _, rest = member.decode().partition(":")
        who = rest.partition(":")[0] if rest.count(":") else ""
        by_campaign[who] = by_campaign.get(who, 0) + int(calls)
    weights = {}
    for who, value in asking.items():
        weight, _, at, _ = value.decode().split(" ")
        if float(at) >= now - settings.PHONON_SHARE_IDLE_SECONDS:
            weights[who.decode()] = int(float(weight))
    return Usage(rate.calls, window, sum(by_campaign.values()), by_campaign, weights)
