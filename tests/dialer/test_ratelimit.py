import threading

import pytest
import redis

from dialer import ratelimit
from dialer.ratelimit import Rate


@pytest.fixture
def account(request):
    # A fresh limiter key per test.
    return f"acct-{request.node.name}"


def test_it_grants_up_to_the_limit_and_then_says_how_long_to_wait(account, settings):
    settings.PHONON_RATE_MARGIN = 0
    rate = Rate(1000, 5)
    assert ratelimit.try_acquire(endpoint="bulk", account_client_id=account, calls=500, rate=rate).granted
    assert ratelimit.try_acquire(endpoint="bulk", account_client_id=account, calls=500, rate=rate).granted
    refused = ratelimit.try_acquire(endpoint="bulk", account_client_id=account, calls=1, rate=rate)
    assert not refused.granted
    assert 4.5 < refused.wait_seconds <= 5.0


def test_it_charges_per_call_not_per_request(account, settings):
    rate = Rate(10, 60)
    for _ in range(10):
        assert ratelimit.try_acquire(endpoint="realtime", account_client_id=account, calls=1, rate=rate).granted
    assert not ratelimit.try_acquire(endpoint="realtime", account_client_id=account, calls=1, rate=rate).granted


def test_endpoints_and_accounts_have_separate_limits(account):
    rate = Rate(5, 60)
    assert ratelimit.try_acquire(endpoint="realtime", account_client_id=account, calls=5, rate=rate).granted
    assert ratelimit.try_acquire(endpoint="bulk", account_client_id=account, calls=5, rate=rate).granted
    assert ratelimit.try_acquire(endpoint="realtime", account_client_id=account + "x", calls=5, rate=rate).granted


def test_a_request_larger_than_the_limit_is_refused_outright(account):
    with pytest.raises(ValueError, match="can never fit"):
        ratelimit.try_acquire(endpoint="bulk", account_client_id=account, calls=501, rate=Rate(500, 60))


def test_concurrent_takers_never_get_more_than_the_limit(account):
    rate = Rate(1000, 60)
    granted = []

    def take():
        for _ in range(50):
            if ratelimit.try_acquire(endpoint="bulk", account_client_id=account, calls=7, rate=rate).granted:
                granted.append(7)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 994  # 142 grants of 7: the most that fit under 1,000


def test_it_fails_closed_when_redis_is_unreachable(account, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    with pytest.raises(ratelimit.LimiterUnavailable):
        ratelimit.try_acquire(endpoint="bulk", account_client_id=account, calls=1, rate=Rate(10, 1))


def test_acquire_waits_for_room_within_its_budget(account, settings):
    settings.PHONON_RATE_MARGIN = 0
    rate = Rate(10, 0.3)
    assert ratelimit.try_acquire(endpoint="bulk", account_client_id=account, calls=10, rate=rate).granted
    decision = ratelimit.acquire(endpoint="bulk", account_client_id=account, calls=10, max_wait=1.0, rate=rate)
    assert decision.granted
    too_long = ratelimit.acquire(endpoint="bulk", account_client_id=account, calls=10, max_wait=0.05, rate=rate)
    assert not too_long.granted and too_long.wait_seconds > 0.05


def test_the_log_uses_redis_time_and_expires(account, redis_url):
    ratelimit.try_acquire(endpoint="bulk", account_client_id=account, calls=3, rate=Rate(10, 2))
    client = redis.Redis.from_url(redis_url)
    key = ratelimit.limiter_key("bulk", account)
    assert client.zcard(key) == 1
    assert 0 < client.pttl(key) <= 2000 + 1000 + 1000


def test_rate_parses_and_refuses_nonsense():
    assert Rate.parse("3000/60") == Rate(3000, 60.0)
    with pytest.raises(ValueError):
        Rate.parse("0/60")


def test_on_endpoint_scope_two_accounts_share_one_limit(account, settings, redis_url):
    # given the endpoint scope, and the endpoint's log empty
    settings.PHONON_RATE_SCOPE = "endpoint"
    redis.Redis.from_url(redis_url).delete(ratelimit.limiter_key("realtime", account))
    rate = Rate(10, 60)

    # when one account takes 6 calls, then another asks for 5
    first = ratelimit.try_acquire(endpoint="realtime", account_client_id=account + "-a", calls=6, rate=rate)
    second = ratelimit.try_acquire(endpoint="realtime", account_client_id=account + "-b", calls=5, rate=rate)
    third = ratelimit.try_acquire(endpoint="realtime", account_client_id=account + "-b", calls=4, rate=rate)

    # then the second does not fit: both count against one limit, and the rest of it is there
    assert first.granted and not second.granted and third.granted
    assert first.key == third.key == "phonon:ratelimit:realtime"


def test_on_account_scope_each_account_has_its_own_limit(account, settings):
    settings.PHONON_RATE_SCOPE = "account"
    rate = Rate(10, 60)

    first = ratelimit.try_acquire(endpoint="realtime", account_client_id=account + "-a", calls=10, rate=rate)
    second = ratelimit.try_acquire(endpoint="realtime", account_client_id=account + "-b", calls=10, rate=rate)

    assert first.granted and second.granted and first.key != second.key
