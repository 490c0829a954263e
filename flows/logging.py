"""A logging filter that keeps secrets out of every log line."""

import logging
import re

# `security-id` in JSON bodies, form posts, reprs and key=value pairs.
SECRET_PATTERN = re.compile(
    r"""(?P<key>["']?(?:security[-_]id|password|private[-_]key|requestDigitalSignatureValue)["']?\s*[:=]\s*["']?)"""
    r"""(?P<value>[^"',\s}&]+)""",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    return SECRET_PATTERN.sub(lambda m: m.group("key") + "***", text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
