"""Requests per API key, counted in Redis by the same sliding-window limiter that guards the provider."""

import logging

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from dialer import ratelimit

log = logging.getLogger(__name__)


class KeyRateThrottle(BaseThrottle):
    """API_THROTTLE_RATE (calls/seconds) per key across every web process; DRF answers 429 with
    Retry-After from `wait()`."""

    def allow_request(self, request, view):
        self._wait = None
        if request.auth is None:
            return True
        try:
            # Counted per key under a key of its own: PHONON_RATE_SCOPE=endpoint (one provider limit
            # for every account) must not make all tenants share one API budget.
            decision = ratelimit.try_acquire(
                endpoint="api",
                account_client_id=request.auth.prefix,
                calls=1,
                rate=ratelimit.Rate.parse(settings.API_THROTTLE_RATE),
                key=f"phonon:ratelimit:api:{request.auth.prefix}",
            )
        except ratelimit.LimiterUnavailable:
            # The API stays up without Redis; only the provider's limiter must fail closed.
            log.warning("API throttle skipped: Redis cannot be reached.")
            return True
        self._wait = decision.wait_seconds
        return decision.granted

    def wait(self):
        return self._wait
