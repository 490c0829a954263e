"""No security-id reaches a log line: the configured console handler (settings.LOGGING) redacts
request bodies, form posts, reprs and exception tracebacks; LOG_FORMAT=json does too."""

import io
import json
import logging
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from core.logging import JsonFormatter, RedactSecretsFilter

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Zq81-secret-7f3d9c"
REQUEST_BODY = json.dumps(
    {
        "api-version": "1.0",
        "security-id": SECRET,
        "flow-id": "ZH0RKJvh",
        "calls": [{"client-identifier": "c1a2-1", "contact-numbers": ["919800000001"], "keys": []}],
    },
    separators=(",", ":"),
)


@contextmanager
def console_output():
    """The text that the configured console handler writes, through its filter and formatter."""
    (handler,) = [h for h in logging.getLogger().handlers if any(isinstance(f, RedactSecretsFilter) for f in h.filters)]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


def emit_every_kind_of_secret(log: logging.Logger) -> None:
    log.info("POST %s body=%s", "https://central.phonon.io/multicast", REQUEST_BODY)
    log.info("raw body %r", REQUEST_BODY.encode())
    log.warning("form post: %s", f"flow_id=ZH0RKJvh&security_id={SECRET}&kind=multicast")
    log.info("flow fields %r", {"flow_id": "ZH0RKJvh", "security_id": SECRET})
    log.info("query %s", f"<QueryDict: {{'security_id': ['{SECRET}']}}>")
    log.error("%s", {"security-id": SECRET})
    try:
        raise ValueError(f"provider refused {REQUEST_BODY}")
    except ValueError:
        log.exception("batch failed campaign=%s batch=%s", 7, 12)
    log.info("stack", stack_info=True, extra={"note": SECRET})


def test_the_configured_console_handler_redacts_every_security_id():
    # given the logging that settings.LOGGING configured
    log = logging.getLogger("phonon.client")

    # when lines carrying a request body, a form post, reprs and a traceback are logged
    with console_output() as output:
        emit_every_kind_of_secret(log)
    text = output.getvalue()

    # then every line was written, the secret never
    assert "flow-id" in text and "ValueError: provider refused" in text and "Traceback" in text
    assert text.count("***") >= 7
    assert SECRET not in text


def test_a_traceback_formatted_elsewhere_first_is_redacted_too():
    # given a record whose traceback text another handler already rendered in clear
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, None)
    record.exc_text = f'Traceback ...\nValueError: {{"security-id":"{SECRET}"}}'

    # when it passes the filter
    RedactSecretsFilter().filter(record)

    # then the cached text is clean
    assert SECRET not in logging.Formatter().format(record)


def test_passwords_in_urls_and_bearer_tokens_are_redacted():
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "cannot reach %s or %s (Authorization: Bearer %s)",
        ("postgres://phonon:pg-pass-123@postgres:5432/phonon", "redis://:rd-pass-456@redis:6379/0", "tok-789"), None,
    )
    RedactSecretsFilter().filter(record)
    text = record.getMessage()
    assert "postgres://phonon:***@postgres:5432" in text
    assert not any(secret in text for secret in ("pg-pass-123", "rd-pass-456", "tok-789"))


def test_json_lines_carry_the_campaign_and_batch_ids():
    record = logging.LogRecord(
        "dialer.dispatch", logging.INFO, __file__, 1, "batch sent campaign=%s batch=%s outcome=%s", (7, 12, "placed"),
        None,
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["campaign_id"] == 7 and line["batch_id"] == 12
    assert line["level"] == "INFO" and line["logger"] == "dialer.dispatch"
    assert line["message"] == "batch sent campaign=7 batch=12 outcome=placed"


def test_log_format_json_redacts_and_writes_one_object_a_line():
    # given a process configured with LOG_FORMAT=json
    script = (
        "import django, logging; django.setup();"
        "from tests.flows.test_logging import emit_every_kind_of_secret;"
        "emit_every_kind_of_secret(logging.getLogger('dialer.dispatch'))"
    )
    env = {**os.environ, "DEBUG": "1", "LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "config.settings"}

    # when it logs every kind of secret
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)

    # then each line is a JSON object, the failed batch has its ids, and the secret is nowhere
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert len(lines) == 8
    failed = next(line for line in lines if line["message"].startswith("batch failed"))
    assert failed["campaign_id"] == 7 and failed["batch_id"] == 12 and "ValueError" in failed["exception"]
    assert SECRET not in result.stderr


PEM_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAq1Zq81pemsecret\nb3BlbnNzaC1rZXktdjEAAAAA\n"
    "-----END RSA PRIVATE KEY-----"
)


def test_pem_blocks_and_quoted_values_with_spaces_are_redacted_whole():
    # given lines carrying a private key (plain, JSON-escaped, cut short) and passphrases with spaces
    lines = [
        ("sftp key %s", (PEM_KEY,)),
        ("form %r", ({"private_key": PEM_KEY},)),
        ("cut short %s", (PEM_KEY[:60],)),
        ('login password="%s" user=alice', ("correct horse battery staple",)),
        ("intake %r", ({"password": "correct horse, battery staple"},)),
        ("body %s", (json.dumps({"security-id": "Zq81 secret with spaces", "flow-id": "ZH0RKJvh"}),)),
    ]
    cleaned = []
    for message, args in lines:
        record = logging.LogRecord("x", logging.WARNING, __file__, 1, message, args, None)

        # when each passes the filter
        RedactSecretsFilter().filter(record)
        cleaned.append(record.getMessage())
    text = "\n".join(cleaned)

    # then no part of a key or of a passphrase is left, and the rest of each line is
    for fragment in ("MIIEowIBAAKCAQEAq1Zq81pemsecret", "b3BlbnNzaC1rZXkt", "horse", "battery", "staple", "Zq81"):
        assert fragment not in text
    assert "-----BEGIN RSA PRIVATE KEY-----***-----END RSA PRIVATE KEY-----" in text
    assert 'user=alice' in text and '"flow-id": "ZH0RKJvh"' in text


def test_every_handler_django_configures_redacts_with_debug_on():
    # given a process with DEBUG=1, where Django adds its own console, runserver and mail handlers
    script = (
        "import django, logging; django.setup();"
        "handlers = {h for name in ['', *logging.Logger.manager.loggerDict]"
        "            for h in getattr(logging.getLogger(name), 'handlers', [])"
        "            if not isinstance(h, logging.NullHandler)};"
        "from core.logging import RedactSecretsFilter;"
        "redacting = lambda h: any(isinstance(f, RedactSecretsFilter) for f in h.filters);"
        "assert handlers and all(redacting(h) for h in handlers), handlers;"
        f"logging.getLogger('django.request').error('Internal Server Error: %s', 'security_id={SECRET}');"
        f"logging.getLogger('django.server').info('\"POST /flows/ HTTP/1.1\" 500 %s', 'password=\"{SECRET} x\"')"
    )
    env = {**os.environ, "DEBUG": "1", "LOG_FORMAT": "plain", "DJANGO_SETTINGS_MODULE": "config.settings"}

    # when Django's own loggers write a secret
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)

    # then every handler carries the filter, each line is written once, and the secret never
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Internal Server Error") == 1 and result.stderr.count("POST /flows/") == 1
    assert SECRET not in result.stderr
