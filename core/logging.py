"""Logging that keeps secrets out of every line, and an optional JSON line format.

`RedactSecretsFilter` sits on the handlers in settings.LOGGING: it rewrites the message, the
exception traceback and the stack text of every record before any formatter sees them.
`JsonFormatter` (LOG_FORMAT=json) writes one JSON object a line, with the campaign and batch ids
as fields of their own.
"""

import datetime
import json
import logging
import re

# `security-id` (and other secrets: passwords, `secret`, `api_key`, the `Authorization` header's credentials
# after its scheme, `Api-Key <prefix>.<secret>` included) in JSON bodies, form posts, reprs, headers and
# key=value pairs.
# A quoted value is redacted whole, up to its closing quote (a value may hold spaces or commas);
# an unquoted one up to the first separator.
SECRET_PATTERN = re.compile(
    r"""(?P<key>(?:\\?["'])?(?:security[-_ ]?id|password|passwd|private[-_]?key|secret(?:[-_]?key)?|api[-_]?key"""
    r"""|field[-_]encryption[-_]keys|metrics[-_]token|requestDigitalSignatureValue|authorization)"""
    r"""(?:\\?["'])?\s*[:=]\s*(?:(?:bearer|basic|api-key|token)\s+)?\[?\s*(?P<quote>\\?["'])?)"""
    r"""(?P<value>(?(quote)(?:(?!(?P=quote))(?:\\.|.))+|[^"',\s}&\\]+))""",
    re.IGNORECASE,
)
# A PEM block (private key, certificate ...), with real or escaped line breaks; one cut short by a
# truncated log line is redacted to its end.
PEM_PATTERN = re.compile(
    r"(?P<key>-----BEGIN [A-Z0-9 ]+-----)(?P<value>.*?(?=-----END [A-Z0-9 ]+-----)|.*)", re.DOTALL
)
# The password in a URL: postgres://user:password@host, redis://:password@host.
URL_PASSWORD_PATTERN = re.compile(r"(?P<key>\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<value>[^@/\s]+)(?=@)", re.IGNORECASE)
# A webhook signing secret wherever it stands (api/webhooks/endpoints.py: whsec_<random>).
WEBHOOK_SECRET_PATTERN = re.compile(r"(?P<key>\bwhsec_)(?P<value>[A-Za-z0-9_+/=-]+)")
REDACTED = "***"


def redact(text: str) -> str:
    text = PEM_PATTERN.sub(lambda m: m.group("key") + REDACTED, text)
    text = SECRET_PATTERN.sub(lambda m: m.group("key") + REDACTED, text)
    text = WEBHOOK_SECRET_PATTERN.sub(lambda m: m.group("key") + REDACTED, text)
    return URL_PASSWORD_PATTERN.sub(lambda m: m.group("key") + REDACTED, text)


class RedactSecretsFilter(logging.Filter):
    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        # Formatters reuse record.exc_text when it is set, so the traceback is rendered here
        # once and redacted: an exception's message may carry a request body.
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


IDS_IN_MESSAGE = re.compile(r"\b(campaign|batch|contact_list|list)[_ ]?(?:id)?=(\d+)\b")
EXTRA_FIELDS = ("campaign_id", "batch_id", "contact_list_id", "flow_id", "task_id")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, ids, exception."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            "process": record.process,
        }
        for name, value in IDS_IN_MESSAGE.findall(message):
            key = "contact_list_id" if name in ("contact_list", "list") else f"{name}_id"
            line.setdefault(key, int(value))
        for name in EXTRA_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, default=str, ensure_ascii=False)
