"""Durations written as settings and options are: `90s`, `30m`, `2h`, `1d`, or plain seconds."""

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds_of(text: str) -> float:
    """`10m` -> 600.0; ValueError with a sentence for anything else."""
    value = str(text).strip().lower()
    unit = UNITS.get(value[-1:]) if value else None
    number = value[:-1] if unit else value
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        raise ValueError(f"A duration is written like 90s, 30m, 2h or 1d; got {text!r}.") from None
    if seconds < 0:
        raise ValueError(f"A duration cannot be negative; got {text!r}.")
    return seconds
