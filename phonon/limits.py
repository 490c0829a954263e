"""The provider's documented limits (PHONON_API.md), named once for the whole product."""

import re
from dataclasses import dataclass

MAX_CALLS_PER_REQUEST = 500  # `calls`: 1 to 500 elements per request
MAX_NUMBERS_PER_CALL = 10  # tel1 .. tel10
FLOW_ID_LENGTH = 8  # exactly 8 letters or digits
FLOW_ID_PATTERN = re.compile(r"[A-Za-z0-9]{8}")
API_VERSIONS = ("1.0", "TEST")  # production version, version in testing
MAX_FILE_BYTES = 5 * 1024 * 1024  # a call-list CSV of at most 5 MB
ENDPOINTS = ("realtime", "bulk")
DOCUMENTED_RATES = {"realtime": "3000/60", "bulk": "30000/60"}  # calls per seconds


@dataclass(frozen=True)
class Rate:
    """A limit written calls/seconds, e.g. 3000/60."""

    calls: int
    seconds: float

    @classmethod
    def parse(cls, text: str) -> "Rate":
        calls, _, seconds = text.partition("/")
        rate = cls(int(calls), float(seconds or 60))
        if rate.calls < 1 or rate.seconds <= 0:
            raise ValueError(f"A rate is written calls/seconds, e.g. 3000/60; got {text!r}.")
        return rate

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds

    @property
    def per_minute(self) -> int:
        """The limit as calls a minute, the one figure every page and estimate shows."""
        return round(self.calls * 60 / self.seconds)
