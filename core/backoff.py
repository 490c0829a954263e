"""The one backoff formula for retries: dispatching a batch again (dialer.writeback) and delivering a
webhook again (api.webhooks.delivery), each with its own base and cap (settings)."""

import random


def backoff_seconds(attempt: int, *, base: float, cap: float) -> float:
    """Capped exponential backoff with equal jitter: the first attempt waits between base/2 and base,
    each later one twice as long, up to cap; the random half keeps retries from bunching up."""
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret
