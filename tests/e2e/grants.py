"""What the rate limiter let leave, read from its journal (dialer.ratelimit.granted_journal): one entry
per grant used, stamped by Redis's one clock when it was granted.

The end-to-end tests measure the pace, the cap and the shares here rather than at the sandbox: the
sandbox runs in the test process and stamps a request when that busy process gets to it, so on a
loaded machine arrivals that left spread out bunch in its log. The tests also check that the
sandbox received exactly the calls granted, so every request left under a grant of its own."""

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
