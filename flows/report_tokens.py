"""A flow by the secret of its report URL, remembered a moment: the receiver asks for every report
the provider pushes (a thousand a second), and the answer changes only when the secret is rotated.

Only secrets that name a flow are remembered, for OUTCOME_REPORT_URL_CACHE_SECONDS: a rotated
secret stops working at once in the process that rotated it and within that many seconds in every
other web process; a new flow's URL works at once (an unknown secret is always asked again).
"""

import time

from django.conf import settings

from flows.models import Flow

# secret -> (when it was read, monotonic; the flow, with its id and flow_id only)
_remembered: dict[str, tuple[float, Flow]] = {}


def flow_for_report_token(token: str) -> Flow | None:
    if not token or len(token) > 64:
        return None
    now = time.monotonic()
    seen = _remembered.get(token)
    if seen is not None and now - seen[0] < settings.OUTCOME_REPORT_URL_CACHE_SECONDS:
        return seen[1]
    flow = Flow.objects.filter(report_token=token).only("id", "flow_id").first()
    if flow is None:
        _remembered.pop(token, None)
    else:
        if len(_remembered) > 10_000:  # secrets of deleted flows: start afresh rather than grow
            _remembered.clear()
        _remembered[token] = (now, flow)
    return flow


def report_tokens_forget() -> None:
    """After a rotation: this process asks the database again for every secret."""
    _remembered.clear()
