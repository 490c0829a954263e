"""One backoff formula for the dispatch's retries and the webhooks' retries."""

import random

from api.webhooks import delivery
from core.backoff import backoff_seconds
from dialer import writeback


def test_each_attempt_waits_between_half_and_all_of_a_ceiling_that_doubles_up_to_the_cap():
    random.seed(27)
    for attempt, ceiling in ((1, 2), (2, 4), (3, 8), (6, 60), (30, 60)):
        waits = [backoff_seconds(attempt, base=2, cap=60) for _ in range(200)]
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits), attempt
        assert max(waits) - min(waits) > ceiling / 4  # jittered, not fixed
    assert 1 <= backoff_seconds(0, base=2, cap=60) <= 2  # no attempt yet counts as the first


def test_dispatch_and_webhook_retries_wait_by_the_same_formula_with_their_own_settings(settings):
    settings.DISPATCH_BACKOFF_BASE, settings.DISPATCH_BACKOFF_CAP = 3, 20
    settings.WEBHOOK_BACKOFF_BASE, settings.WEBHOOK_BACKOFF_CAP = 3, 20
    for attempt in (1, 2, 3, 4, 9):
        random.seed(attempt)
        dispatch = writeback.backoff_seconds(attempt)
        random.seed(attempt)
        webhook = delivery.backoff_seconds(attempt)
        random.seed(attempt)
        assert dispatch == webhook == backoff_seconds(attempt, base=3, cap=20)
