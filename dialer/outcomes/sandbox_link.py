"""Development only (SANDBOX_REPORT_URLS): the built-in sandbox learns every flow's report URL, as
the real provider is told by a person, so that `make run` shows real outcomes."""

import json
import logging
import time

import requests
from django.conf import settings

from flows.models import Flow
from flows.services import flow_report_url

log = logging.getLogger(__name__)
# Told again this often even when nothing changed (the sandbox may have restarted).
REFRESH_SECONDS = 60.0
_last = {"urls": None, "at": 0.0}


def report_urls_register() -> bool:
    """POST {flow-id: report URL} to the sandbox when they changed; True when sent."""
    if not settings.SANDBOX_REPORT_URLS:
        return False
    urls = {flow.flow_id: flow_report_url(flow) for flow in Flow.objects.only("flow_id", "report_token")}
    if urls == _last["urls"] and time.monotonic() - _last["at"] < REFRESH_SECONDS:
        return False
    try:
        requests.post(f"{settings.SANDBOX_CONTROL_URL}/_sandbox/report-urls", data=json.dumps(urls), timeout=2)
    except requests.RequestException as error:
        log.info("The sandbox could not be told the report URLs: %s", error)
        return False
    _last.update(urls=urls, at=time.monotonic())
    return True
