"""The report URL served straight from WSGI: the provider's pushes skip Django's middleware.

A push needs none of it: no session, no login, no CSRF token, no messages, no page headers, and
the stack costs more than storing the report does. config/wsgi.py sends a request here only when
Django would have done nothing but call the view (api.reports.outcome_report): a POST to
/reports/<secret>/, on an allowed host, over HTTPS when SECURE_SSL_REDIRECT asks for it. Any
other request, a redirect or a refusal of the host included, goes to Django as before.

What is answered is dialer.outcomes.receiving.report_take's, the view's own. Only the connection
handling is ours: no health-check query before each request (a connection found broken is
replaced and the report stored on the new one), and the connection's age limit kept after it.

Each gunicorn thread stores its report with its own statement and commit; PostgreSQL flushes the
commits that arrive together at once. Grouping the threads' reports into one statement in the
process first (a leader thread storing every report waiting) was measured 3x slower on a busy
machine: while the leader waits for the CPU, every thread in its group waits with it.
"""

import json
import logging
from http import HTTPStatus

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections, reset_queries
from django.http.request import split_domain_port, validate_host

from core.client_address import address_of
from dialer.outcomes import receiving

log = logging.getLogger(__name__)

PREFIX = "/reports/"
HEADERS = [("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store")]
UNSTORED = "The report could not be stored just now; send it again."


def handles(environ) -> bool:
    """A POST to a report URL that Django's middleware would only pass to the view."""
    path = environ.get("PATH_INFO", "")
    if environ.get("REQUEST_METHOD") != "POST" or not path.startswith(PREFIX) or not path.endswith("/"):
        return False
    token = path[len(PREFIX) : -1]
    if not token or "/" in token:
        return False
    if settings.SECURE_SSL_REDIRECT and not _secure(environ):
        return False  # SecurityMiddleware redirects it
    return _host_allowed(environ)


def report_application(environ, start_response):
    token = environ["PATH_INFO"][len(PREFIX) : -1]
    body = _body(environ)
    remote_addr = address_of(environ)
    try:
        answer = _take(token, body, remote_addr)
    except (OperationalError, InterfaceError):
        log.exception("A delivery report could not be stored (the database is not answering): 503")
        answer = receiving.Answer(503, {"error": UNSTORED})
    finally:
        _connections_tidy()
    if answer.status in (404, 403):
        log.warning("Delivery report refused (%s) from %s: %s", answer.status, remote_addr, answer.payload["error"])
    content = json.dumps(answer.payload).encode()
    headers = [*HEADERS, ("Content-Length", str(len(content)))]
    start_response(f"{answer.status} {HTTPStatus(answer.status).phrase}", headers)
    return [content]


def _take(token: str, body: bytes, remote_addr: str | None) -> receiving.Answer:
    try:
        return receiving.report_take(token=token, body=body, remote_addr=remote_addr)
    except (OperationalError, InterfaceError):
        # A connection kept from an earlier request may have died (a database restart): storing is
        # one statement in autocommit, so nothing was half done; once more on a new connection.
        # (Should the lost answer have been to a commit that happened, the report is stored twice:
        # the applier takes each cdrId once.)
        connections["default"].close()
        return receiving.report_take(token=token, body=body, remote_addr=remote_addr)


def _body(environ) -> bytes:
    """At most the limit and one byte, as the view reads (Django reads no body without a length,
    unless the server says the stream ends by itself, as gunicorn does for a chunked body)."""
    limit = receiving.body_read_limit()
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return environ["wsgi.input"].read(limit) if environ.get("wsgi.input_terminated") else b""
    return environ["wsgi.input"].read(min(length, limit))


def _connections_tidy() -> None:
    """What Django does around a request, less the health check: a connection past CONN_MAX_AGE,
    or left in a bad state, is closed; a kept one is trusted until a statement fails (see _take)."""
    reset_queries()
    for connection in connections.all(initialized_only=True):
        connection.close_if_unusable_or_obsolete()
        if connection.connection is not None:
            connection.health_check_done = True


def _secure(environ) -> bool:
    header = settings.SECURE_PROXY_SSL_HEADER
    if header:
        name, value = header
        return environ.get(name, "").split(",")[0].strip() == value
    return environ.get("wsgi.url_scheme") == "https"


def _host_allowed(environ) -> bool:
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    if settings.USE_X_FORWARDED_HOST and environ.get("HTTP_X_FORWARDED_HOST"):
        host = environ["HTTP_X_FORWARDED_HOST"].split(",")[-1].strip()
    domain, _port = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(domain) and validate_host(domain, allowed)
