"""What the rate limiter let leave, read from its journal (dialer.ratelimit.granted_journal): one entry
per grant used, stamped by Redis's one clock when it was granted.

The end-to-end tests measure the pace, the cap and the shares here rather than at the sandbox: the
sandbox runs in the test process and stamps a request when that busy process gets to it, so on a
loaded machine arrivals that left spread out bunch in its log. The tests also check that the
sandbox received no call that was not granted: every request left under a grant of its own (and the
dispatcher sends a request only within half the margin after its grant, dialer.dispatch)."""

import time

from dialer import ratelimit

# Long enough for any end-to-end test; each test's flow has an account of its own, so its journal
# holds its own grants only.
JOURNAL_SECONDS = 900


def journal_on(settings) -> None:
    settings.PHONON_RATE_JOURNAL_SECONDS = JOURNAL_SECONDS


def grants(flow, campaign=None) -> list[tuple[float, int]]:
    """(time granted, calls) of each grant used on the flow's limit, of one campaign or all, oldest first."""
    journal = ratelimit.granted_journal(endpoint=flow.endpoint, account_client_id=flow.account.client_id)
    return [(at, calls) for at, calls, who in journal if campaign is None or who == str(campaign.pk)]


def calls_granted(flow) -> int:
    return sum(calls for _, calls in grants(flow))


def assert_each_grant_received(sandbox, flow) -> int:
    """Every call the sandbox received was granted (resends included: each goes under a grant of its
    own), once the requests in flight have landed; returns how many were granted. A grant may go
    unused (a worker that failed between its grant and its request): that only errs on the safe side."""
    granted = calls_granted(flow)
    deadline = time.monotonic() + 10
    while _received(sandbox, flow) < granted and time.monotonic() < deadline:
        time.sleep(0.25)
    received = _received(sandbox, flow)
    assert received <= granted, f"the sandbox received {received:,} calls, {received - granted:,} over the grants"
    return granted


def _received(sandbox, flow) -> int:
    return sandbox.provider.stats()[flow.endpoint]["calls_received"]
