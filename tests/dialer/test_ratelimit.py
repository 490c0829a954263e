import threading
import time

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


# --- Pacing: the grants leave spread across the window ----------------------------------------


def take(account, calls, *, rate, campaign="", weight=2, burst=0, endpoint="bulk"):
    return ratelimit.try_acquire(endpoint=endpoint, account_client_id=account, calls=calls, rate=rate,
                                 campaign=campaign, weight=weight, burst=burst)


def test_paced_grants_are_spaced_at_the_even_rate(account, settings):
    # given 1,000 calls per 5 s (an even rate of 200 calls/s) and a burst of one 100-call request
    settings.PHONON_RATE_MARGIN = 0
    rate = Rate(1000, 5)

    # when two requests of 100 calls ask at once
    first = take(account, 100, rate=rate, burst=100)
    second = take(account, 100, rate=rate, burst=100)

    # then the second waits for the first's half second at the even rate
    assert first.granted and not second.granted and second.reason == "rate"
    assert 0.45 < second.wait_seconds <= 0.5
    time.sleep(second.wait_seconds + 0.01)
    assert take(account, 100, rate=rate, burst=100).granted


def test_a_larger_burst_lets_that_many_calls_leave_at_once_and_no_more(account, settings):
    settings.PHONON_RATE_MARGIN = 0
    rate = Rate(1000, 5)
    grants = [take(account, 100, rate=rate, burst=300) for _ in range(4)]
    assert [g.granted for g in grants] == [True, True, True, False]
    assert 0.45 < grants[3].wait_seconds <= 0.5


def test_a_request_larger_than_the_burst_goes_once_the_pace_has_caught_up(account, settings):
    settings.PHONON_RATE_MARGIN = 0
    rate = Rate(1000, 5)
    assert take(account, 50, rate=rate, burst=50).granted
    refused = take(account, 400, rate=rate, burst=50)
    # the 50 calls before it must have left at the even rate (0.25 s); then 400 go at once
    assert not refused.granted and 0.2 < refused.wait_seconds <= 0.25


def test_a_grant_given_back_gives_back_its_place_in_the_pace(account, settings):
    settings.PHONON_RATE_MARGIN = 0
    rate = Rate(1000, 5)
    assert take(account, 100, rate=rate, burst=100).granted
    time.sleep(0.5)
    second = take(account, 100, rate=rate, burst=100)
    assert second.granted
    ratelimit.give_back(second)
    assert take(account, 100, rate=rate, burst=100).granted


def test_a_late_grant_keeps_its_place_in_the_pace_for_up_to_half_the_margin(account, settings):
    # given 1,000 calls per 5 s paced in requests of 100, with a margin of 0.2 s (the window
    # counts 5.2 s: a request's turn comes every 0.52 s; the first, after a quiet spell, counts as
    # 0.1 s late, so the second's turn comes 0.42 s after it)
    settings.PHONON_RATE_MARGIN = 0.2
    rate = Rate(1000, 5)
    assert take(account, 100, rate=rate, burst=100).granted

    # when the next request comes 0.05 s after its turn, and the one after it at once
    time.sleep(0.42 + 0.05)
    late = take(account, 100, rate=rate, burst=100)
    following = take(account, 100, rate=rate, burst=100)

    # then the late one kept its place: the following one's turn is 0.52 s after the late one's
    # turn, not after the moment it came
    assert late.granted and not following.granted
    assert 0.42 < following.wait_seconds <= 0.47


def test_lateness_beyond_half_the_margin_is_lost(account, settings):
    # given the same pace, and a request coming 0.4 s after its turn
    settings.PHONON_RATE_MARGIN = 0.2
    rate = Rate(1000, 5)
    assert take(account, 100, rate=rate, burst=100).granted
    time.sleep(0.42 + 0.4)
    assert take(account, 100, rate=rate, burst=100).granted

    # then only 0.1 s of it is forgiven: the next turn is 0.42 s away, not 0.12 s
    following = take(account, 100, rate=rate, burst=100)
    assert not following.granted and 0.37 < following.wait_seconds <= 0.42


def test_pacing_keeps_the_cap_over_the_window(account, settings):
    # given the cap of 300 calls per 0.6 s, paced with a burst of 100
    settings.PHONON_RATE_MARGIN = 0
    rate = Rate(300, 0.6)
    asked_at, granted_at = [], []
    started = time.monotonic()

    # when a greedy taker asks for 100 calls every 10 ms for 1.8 s
    while time.monotonic() - started < 1.8:
        asked = time.monotonic() - started
        if take(account, 100, rate=rate, burst=100).granted:
            asked_at.append(asked)
            granted_at.append(time.monotonic() - started)
        time.sleep(0.01)

    # then it got about one grant per 0.2 s (the even rate), never four within one window. The limiter
    # grants on Redis's clock, somewhere between the ask and the answer: four grants in one window are
    # proven only when the fourth answer came within 0.6 s of the first ask (comparing answers alone
    # failed on a few milliseconds of round-trip jitter, 0.6 s apart on Redis's clock).
    assert 8 <= len(granted_at) <= 10
    assert all(later - earlier >= 0.19 for earlier, later in zip(granted_at, granted_at[1:], strict=False))
    assert all(granted_at[i + 3] - asked_at[i] >= 0.6 for i in range(len(granted_at) - 3))


def test_the_api_throttle_is_neither_paced_nor_shared(account, redis_url):
    rate = Rate(10, 60)
    assert all(take(account, 1, rate=rate).granted for _ in range(10))
    assert not redis.Redis.from_url(redis_url).exists(ratelimit.limiter_key("bulk", account) + ":asking")


# --- Sharing: running campaigns share the limit by weight -------------------------------------


def test_a_campaign_alone_uses_the_whole_limit_whatever_its_priority(account):
    rate = Rate(1000, 60)
    grants = [take(account, 100, rate=rate, campaign="7", weight=1) for _ in range(11)]
    assert [g.granted for g in grants] == [True] * 10 + [False]
    assert grants[10].reason == "rate"


def take_in_turns(account, turns, *, rate, rounds):
    """Each campaign in `turns` ((campaign, weight, calls)) asks once a round; calls granted each."""
    taken = {campaign: 0 for campaign, _, _ in turns}
    for _ in range(rounds):
        for campaign, weight, calls in turns:
            if take(account, calls, rate=rate, campaign=campaign, weight=weight).granted:
                taken[campaign] += calls
    return taken


def test_two_normal_campaigns_started_apart_split_what_follows_half_and_half(account):
    # given campaign 1 sending alone, then campaign 2 asking too
    rate = Rate(2000, 60)
    assert all(take(account, 100, rate=rate, campaign="1").granted for _ in range(4))

    # when both keep asking, in turns
    taken = take_in_turns(account, [("2", 2, 100), ("1", 2, 100)], rate=rate, rounds=20)

    # then from then on each got half of the limit; the newcomer did not catch up on the past
    assert taken == {"1": 800, "2": 800}


def test_a_campaign_ahead_of_the_other_is_told_to_wait_for_its_share(account):
    rate = Rate(1000, 60)
    assert take(account, 100, rate=rate, campaign="2").granted
    assert take(account, 100, rate=rate, campaign="1").granted
    ahead = take(account, 100, rate=rate, campaign="1")
    assert not ahead.granted and ahead.reason == "share" and 0 < ahead.wait_seconds <= 1.0
    assert take(account, 100, rate=rate, campaign="2").granted


def test_high_against_normal_gets_two_thirds(account):
    rate = Rate(6000, 60)
    taken = take_in_turns(account, [("normal", 2, 50), ("high", 4, 50)], rate=rate, rounds=120)
    assert sum(taken.values()) == 6000
    assert 0.64 <= taken["high"] / 6000 <= 0.70


def test_an_idle_campaigns_share_goes_to_the_others(account, settings):
    # given two campaigns asking, the first then ahead of the second
    settings.PHONON_SHARE_IDLE_SECONDS = 0.3
    rate = Rate(1000, 60)
    assert take(account, 100, rate=rate, campaign="2").granted
    assert take(account, 100, rate=rate, campaign="1").granted
    assert take(account, 100, rate=rate, campaign="1").reason == "share"

    # when the second has not asked for longer than the idle time
    time.sleep(0.4)

    # then the first takes what is left of the limit
    grants = [take(account, 100, rate=rate, campaign="1") for _ in range(9)]
    assert [g.granted for g in grants] == [True] * 8 + [False]
    assert grants[8].reason == "rate"


def test_a_refusal_for_the_share_names_the_campaign_whose_turn_it_is(account):
    # given three campaigns that each sent 100 calls: "2" (normal) is furthest behind, as "3" (high)
    # moved on half as far and joined level with it, and "1" (normal) joined level with it too
    rate = Rate(1000, 60)
    assert take(account, 100, rate=rate, campaign="2").granted
    assert take(account, 100, rate=rate, campaign="3", weight=4).granted
    assert take(account, 100, rate=rate, campaign="1").granted
    # when "1" asks again, then it is told that it is the turn of "2"
    ahead = take(account, 100, rate=rate, campaign="1")
    assert (ahead.reason, ahead.turn_of) == ("share", "2")


def test_a_campaign_told_to_wait_for_its_turn_keeps_it_while_no_worker_asks_for_it(account, settings):
    # given a high and a low campaign that each sent a request, the low one then told to wait
    settings.PHONON_SHARE_IDLE_SECONDS = 0.3
    rate = Rate(1000, 60)
    assert take(account, 100, rate=rate, campaign="high", weight=4).granted
    assert take(account, 100, rate=rate, campaign="low", weight=1).granted
    assert take(account, 100, rate=rate, campaign="low", weight=1).reason == "share"

    # when no worker asks for the low one for longer than the idle time (its batches wait for a
    # worker, each busy with the high one's)
    time.sleep(0.4)

    # then the high one gets its four turns (and a fifth, level with the low one) and is then told
    # that it is the low one's turn: the low one was not dropped from the turns
    grants = [take(account, 100, rate=rate, campaign="high", weight=4) for _ in range(6)]
    assert [g.granted for g in grants] == [True] * 5 + [False]
    assert (grants[5].reason, grants[5].turn_of) == ("share", "low")


def test_a_campaign_marked_as_asking_keeps_its_turn_while_no_worker_asks_for_it(account):
    rate = Rate(1000, 60)
    ratelimit.campaign_asking(endpoint="bulk", account_client_id=account, campaign="2", weight=2, calls=100)
    grants = [take(account, 100, rate=rate, campaign="1") for _ in range(2)]
    assert [g.granted for g in grants] == [True, False]
    assert grants[1].reason == "share"


def test_a_campaign_that_arrives_is_served_at_once_level_with_the_furthest_behind(account):
    # given a high campaign far ahead in the turns of a low one that already sent this window
    rate = Rate(1000, 60)
    take(account, 100, rate=rate, campaign="low", weight=1)
    take(account, 100, rate=rate, campaign="high", weight=4)
    # when a third campaign that has sent nothing yet arrives behind both
    # then it is served at once
    assert take(account, 100, rate=rate, campaign="new", weight=1).granted


def test_usage_reports_calls_per_campaign_and_who_is_asking(account):
    rate = Rate(1000, 60)
    take(account, 100, rate=rate, campaign="1", weight=4)
    take(account, 50, rate=rate, campaign="2", weight=1)
    usage = ratelimit.limiter_usage(endpoint="bulk", account_client_id=account, rate=rate)
    assert usage.by_campaign == {"1": 100, "2": 50} and usage.used == 150
    assert usage.asking == {"1": 4, "2": 1}


@pytest.mark.parametrize("calls", [500, 100])
def test_weights_hold_over_a_few_windows_whatever_the_batch_size(account, settings, calls):
    # given a high (4) and a low (1) campaign both asking all along, at 1,000 calls a window: with
    # 500-call requests only two grants fit in a window, so the low one has nothing in it at each ask
    settings.PHONON_RATE_MARGIN = 0.02
    rate = Rate(1000, 0.3)
    granted = {"high": 0, "low": 0}

    # when they ask in turns until 10,000 calls are granted (ten windows at least)
    while sum(granted.values()) < 10_000:
        refused = 0
        for campaign, weight in (("high", 4), ("low", 1)):
            if take(account, calls, rate=rate, campaign=campaign, weight=weight).granted:
                granted[campaign] += calls
            else:
                refused += 1
        if refused == 2:
            time.sleep(0.01)

    # then the calls went four to one, give or take one request each
    assert 3.0 <= granted["high"] / granted["low"] <= 5.5, granted


def test_a_grant_given_back_gives_back_its_campaigns_turn(account):
    # given two campaigns asking, and one that sent a request and then took three grants it gave back unused
    rate = Rate(10_000, 60)
    for campaign in ("1", "2"):
        ratelimit.campaign_asking(endpoint="bulk", account_client_id=account, campaign=campaign, weight=2, calls=50)
    assert take(account, 50, rate=rate, campaign="1").granted
    assert take(account, 50, rate=rate, campaign="2").granted
    for _ in range(3):
        grant = take(account, 50, rate=rate, campaign="1")
        assert grant.granted
        ratelimit.give_back(grant)

    # when the other takes its turn
    assert take(account, 50, rate=rate, campaign="2").granted

    # then the first is not held back for the grants it never used
    assert take(account, 50, rate=rate, campaign="1").granted


def test_the_journal_keeps_each_grant_used_on_the_limiters_clock(account, settings):
    # given the journal off (the default), then on
    rate = Rate(1000, 60)
    take(account, 10, rate=rate, campaign="1")
    assert ratelimit.granted_journal(endpoint="bulk", account_client_id=account) == []
    settings.PHONON_RATE_JOURNAL_SECONDS = 60

    # when three grants are taken and the second is given back
    grants = [take(account, calls, rate=rate, campaign="1") for calls in (20, 30, 40)]
    ratelimit.give_back(grants[1])

    # then the journal holds the two used, oldest first, at Redis's time
    journal = ratelimit.granted_journal(endpoint="bulk", account_client_id=account)
    assert [(calls, campaign) for _, calls, campaign in journal] == [(20, "1"), (40, "1")]
    assert journal[0][0] <= journal[1][0] and abs(journal[0][0] - time.time()) < 60
