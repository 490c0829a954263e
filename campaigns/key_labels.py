"""What the keys a person pressed mean, as the manager types it in the campaign: `1=confirmed,
2=cancel`. Shown as words on the pages, in the export and the API (dialer.redials.survey)."""

import re

KEY = re.compile(r"[0-9*#]")
MAX_LABEL = 40


def parse_key_labels(text: str) -> dict[str, str]:
    """`1=confirmed, 2=cancel` -> {"1": "confirmed", "2": "cancel"}. Raises ValueError with a sentence."""
    labels: dict[str, str] = {}
    for part in re.split(r"[,;\n]", text or ""):
        part = part.strip()
        if not part:
            continue
        key, equals, label = part.partition("=")
        key, label = key.strip(), label.strip()
        if not equals or not KEY.fullmatch(key) or not label:
            raise ValueError(f"Write each key as key=words, e.g. 1=confirmed, 2=cancel; got {part!r}.")
        if len(label) > MAX_LABEL:
            raise ValueError(f"Keep each key's words to {MAX_LABEL} characters; {key!r} has {len(label)}.")
        if key in labels:
            raise ValueError(f"Key {key} is given twice.")
        labels[key] = label
    return labels


def key_labels_text(labels: dict[str, str]) -> str:
    return ", ".join(f"{key}={label}" for key, label in labels.items())
