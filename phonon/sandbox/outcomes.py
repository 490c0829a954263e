"""The sandbox's after-the-call side (PHONON_API.md, "After the call"): each accepted call gets an
outcome drawn from configurable odds, its delivery report is pushed to the flow's report URL
after a delay, and the Pull API v2 answers for it once the call has "ended".

Settings (`POST /_sandbox/outcomes`; whatever is not given goes back to its default):
`odds` shares of answered, busy, no_answer, rejected, unreachable, failed (normalised);
`talk_seconds` [low, high]; `keys` the menu a person presses from, `key_odds` the share of
answered calls that press a key; `second_number_odds` the share of calls with several numbers
whose first number does not answer before the next is tried; `delay_seconds` from acceptance to
the report; `report_urls` {flow-id: URL} (the app registers them); `enabled`.
Faults (shares of reports, decided per report from one seeded random draw): `duplicate` pushes
the same report twice; `out_of_order` pushes, after the full report, an older partial copy (its
first leg only, without the connect); `never_push` only makes it pullable; `foreign` also pushes
a report for a uuid the sandbox never gave. For the Pull API: `pull_slow_seconds` before each
answer, `pull_fail` the share answered HTTP 503, `pull_max_uuids` its size limit.
"""

from __future__ import annotations

import datetime
import heapq
import json
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field

KINDS = ("answered", "busy", "no_answer", "rejected", "unreachable", "failed")
CAUSES = {"answered": "16", "busy": "17", "no_answer": "19", "rejected": "21", "unreachable": "1", "failed": "41"}
DEFAULTS = {
    "enabled": True,
    "odds": {"answered": 0.6, "busy": 0.15, "no_answer": 0.15, "unreachable": 0.1},
    "talk_seconds": [5, 90],
    "keys": ["1", "2", "9"],
    "key_odds": 0.7,
    "second_number_odds": 0.3,
    "delay_seconds": 1.0,
    "report_urls": {},
    "duplicate": 0.0,
    "out_of_order": 0.0,
    "never_push": 0.0,
    "foreign": 0.0,
    "pull_slow_seconds": 0.0,
    "pull_fail": 0.0,
    "pull_max_uuids": 200,
    "seed": None,
}
SHARES = ("key_odds", "second_number_odds", "duplicate", "out_of_order", "never_push", "foreign", "pull_fail")
ZONE = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
# A push to an address that does not answer is tried again this often, this many times.
PUSH_RETRY_SECONDS = 2.0
PUSH_ATTEMPTS = 30


@dataclass(order=True)
class _Push:
    due: float
    sequence: int
    flow_id: str = field(compare=False)
    body: bytes = field(compare=False)
    attempts: int = field(default=0, compare=False)


class SandboxOutcomes:
    """Outcomes of the calls a SandboxProvider accepted: drawn, pushed, pullable."""

    def __init__(self, settings: dict | None = None):
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._queue: list[_Push] = []
        self._sequence = 0
        self._reports: dict[str, tuple[float, str, dict]] = {}  # uuid -> (ready at, flow-id, body entry)
        self._stats = {
            "reports": 0,
            "pushed": 0,
            "push_refused": 0,
            "push_failed": 0,
            "pull_requests": 0,
            "pulled_uuids": 0,
            "foreign": 0,
            "by_outcome": {},
        }
        self._pushed_status: dict[int, int] = {}
        self._stopping = threading.Event()
        self.configure(settings)
        self._thread = threading.Thread(target=self._push_forever, name="sandbox-outcomes", daemon=True)
        self._thread.start()

    # --- configuration --------------------------------------------------------------------

    def configure(self, settings: dict | None = None, **more) -> dict:
        merged = {**DEFAULTS, **(settings or {}), **more}
        unknown = set(merged) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"Unknown outcome settings: {', '.join(sorted(unknown))}.")
        odds = merged["odds"]
        if not isinstance(odds, dict) or not odds or set(odds) - set(KINDS):
            raise ValueError(f"odds maps some of {', '.join(KINDS)} to shares.")
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 for v in odds.values()):
            raise ValueError("Each of the odds is a share (a number of 0 or more).")
        if sum(odds.values()) <= 0:
            raise ValueError("The odds add up to nothing.")
        for name in SHARES:
            value = merged[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a share between 0 and 1.")
        if not isinstance(merged["report_urls"], dict):
            raise ValueError("report_urls maps flow-ids to URLs.")
        low, high = merged["talk_seconds"]
        if not 0 <= low <= high:
            raise ValueError("talk_seconds is [low, high] with 0 <= low <= high.")
        with self._lock:
            self._settings = merged
            self._random = random.Random(merged["seed"])
        return self.settings()

    def settings(self) -> dict:
        with self._lock:
            return json.loads(json.dumps(self._settings))

    def set_report_urls(self, urls: dict[str, str]) -> dict:
        with self._lock:
            self._settings["report_urls"] = {**self._settings["report_urls"], **urls}
            return dict(self._settings["report_urls"])

    def stats(self) -> dict:
        with self._lock:
            stats = json.loads(json.dumps(self._stats))
            stats["queued"] = len(self._queue)
            stats["push_statuses"] = {str(k): v for k, v in sorted(self._pushed_status.items())}
            return stats

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._reports.clear()
            for name in (
                "reports",
                "pushed",
                "push_refused",
                "push_failed",
                "pull_requests",
                "pulled_uuids",
                "foreign",
            ):
                self._stats[name] = 0
            self._stats["by_outcome"] = {}
            self._pushed_status.clear()
        self.configure(None)

    def stop(self) -> None:
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()

    # --- calls accepted ---------------------------------------------------------------------

    def calls_accepted(self, entries: list[dict], *, now: float | None = None) -> None:
        """Draw each accepted call's outcome and queue its report (ledger entries)."""
        now = time.time() if now is None else now
        with self._wake:
            settings = self._settings
            if not settings["enabled"]:
                return
            for entry in entries:
                body, kind = self._draw(entry, now)
                ready = now + settings["delay_seconds"]
                self._reports[entry["phonon-uuid"]] = (ready, entry["flow-id"], body)
                self._stats["reports"] += 1
                self._stats["by_outcome"][kind] = self._stats["by_outcome"].get(kind, 0) + 1
                draw = self._random.random
                if draw() < settings["never_push"]:
                    continue
                self._queue_push(ready, entry["flow-id"], body)
                if draw() < settings["duplicate"]:
                    self._queue_push(ready + 0.05, entry["flow-id"], body)
                if draw() < settings["out_of_order"]:
                    self._queue_push(ready + 0.1, entry["flow-id"], _older_copy(body))
                if draw() < settings["foreign"]:
                    stranger = {**body, "phonon-uuid": str(uuid.uuid4())}
                    self._stats["foreign"] += 1
                    self._queue_push(ready, entry["flow-id"], stranger)
            self._wake.notify_all()

    def _queue_push(self, due: float, flow_id: str, body: dict) -> None:
        self._sequence += 1
        payload = json.dumps({"body": body}, separators=(",", ":")).encode()
        heapq.heappush(self._queue, _Push(due, self._sequence, flow_id, payload))

    def _draw(self, entry: dict, now: float) -> tuple[dict, str]:
        settings, draw = self._settings, self._random
        kinds = [kind for kind in KINDS if settings["odds"].get(kind)]
        kind = draw.choices(kinds, weights=[settings["odds"][k] for k in kinds])[0]
        numbers = entry.get("contact-numbers") or ["910000000000"]
        start = datetime.datetime.fromtimestamp(now, ZONE)
        legs = []
        if len(numbers) > 1 and draw.random() < settings["second_number_odds"]:
            legs.append(_leg(entry, 0, numbers[0], "no_answer", start, draw, settings))
            start += datetime.timedelta(seconds=40)
        legs.append(_leg(entry, len(legs), numbers[len(legs)], kind, start, draw, settings))
        body = {"phonon-uuid": entry["phonon-uuid"], "request-id": entry.get("request-id", ""), "callDetails": legs}
        if kind == "answered":
            body["smsDetails"] = [
                {
                    "id": f"sms-{entry['phonon-uuid']}",
                    "text": "Thank you for your time.",
                    "to": legs[-1]["calleeNumber"],
                    "from": "Phonon",
                    "sendTime": legs[-1]["endTime"],
                    "deliveryStatus": "SENT_TO_QUEUE",
                }
            ]
        return body, kind

    # --- pushing ----------------------------------------------------------------------------

    def _push_forever(self) -> None:
        while not self._stopping.is_set():
            with self._wake:
                while not self._stopping.is_set() and (not self._queue or self._queue[0].due > time.time()):
                    timeout = None if not self._queue else max(self._queue[0].due - time.time(), 0.001)
                    self._wake.wait(timeout if timeout is not None else 1.0)
                if self._stopping.is_set():
                    return
                push = heapq.heappop(self._queue)
                url = self._settings["report_urls"].get(push.flow_id)
            if not url:
                self._retry_later(push)
                continue
            status = _post(url, push.body)
            with self._lock:
                self._pushed_status[status] = self._pushed_status.get(status, 0) + 1
                if 200 <= status < 300:
                    self._stats["pushed"] += 1
                elif 400 <= status < 500:
                    self._stats["push_refused"] += 1  # the receiver said no: not sent again
            if status == 0 or status >= 500:
                self._retry_later(push)

    def _retry_later(self, push: _Push) -> None:
        with self._lock:
            push.attempts += 1
            if push.attempts >= PUSH_ATTEMPTS:
                self._stats["push_failed"] += 1
                return
            push.due = time.time() + PUSH_RETRY_SECONDS
            heapq.heappush(self._queue, push)

    # --- the Pull API v2 --------------------------------------------------------------------

    def pull(self, request: dict, *, check_flow) -> tuple[int, dict, float]:
        """(HTTP status, body, seconds to wait before answering) for one Pull API request.
        `check_flow(flow_id, security_id)` returns a provider code refusing the flow, or None."""
        with self._lock:
            settings = dict(self._settings)
            self._stats["pull_requests"] += 1
            failing = self._random.random() < settings["pull_fail"]
        delay = settings["pull_slow_seconds"]
        if failing:
            return 503, {"error": "The Pull API is failing (sandbox fault)."}, delay
        uuids = request.get("phonon-uuids")
        if (
            not isinstance(request.get("flow-id"), str)
            or not isinstance(uuids, list)
            or not all(isinstance(u, str) for u in uuids)
        ):
            return 200, _answer(210, "Invalid Mandatory Parameters"), delay
        refused = check_flow(request["flow-id"], request.get("security-id"))
        if refused is not None:
            return 200, _answer(int(refused[0]), refused[1]), delay
        if len(uuids) > settings["pull_max_uuids"]:
            return 200, _answer(303, "Max Data List Size Exceeded"), delay
        now = time.time()
        with self._lock:
            data = []
            for phonon_uuid in uuids:
                held = self._reports.get(phonon_uuid)
                if held and held[0] <= now and held[1] == request["flow-id"]:
                    data.append(json.loads(json.dumps(held[2])))
            self._stats["pulled_uuids"] += len(data)
        if not data:
            return 200, _answer(213, "No Data Available"), delay
        return 200, {**_answer(200, "Success"), "data": data}, delay


def _answer(code: int, message: str) -> dict:
    return {"api-response-code": code, "api-response-message": message, "data": []}


def _leg(entry, index, number, kind, start, draw, settings) -> dict:
    def at(seconds: float) -> str:
        return (start + datetime.timedelta(seconds=seconds)).isoformat(timespec="milliseconds")

    leg = {
        "cdrId": f"{entry['phonon-uuid']}##leg-{index}",
        "calleeNumber": number,
        "didNumber": "912243692987",
        "startTime": at(0),
        "hangupCause": CAUSES[kind],
        "remoteHangup": kind != "answered",
        "dtmfPressesd": [],
        "incoming": False,
        "calleeType": "VISITOR",
        "foreignCallIds": [],
    }
    if kind in ("answered", "no_answer", "rejected"):
        leg["is_ringing"] = "true"
        leg["ringingStartTime"] = at(1.5)
    end = 30.0
    if kind == "answered":
        talk = draw.uniform(*settings["talk_seconds"])
        leg["connectTime"] = at(8)
        end = 8 + talk
        leg["duration"] = str(int(talk * 1000))
        leg["remoteHangup"] = True
        if settings["keys"] and draw.random() < settings["key_odds"]:
            leg["dtmfPressesd"] = [{"key": str(draw.choice(settings["keys"])), "eventTime": at(12), "label": ""}]
    leg["endTime"] = at(end)
    return leg


def _older_copy(body: dict) -> dict:
    """What an earlier, partial report of the same call looked like: its first leg, not connected."""
    first = {key: value for key, value in body["callDetails"][0].items() if key not in ("connectTime", "duration")}
    first["hangupCause"] = "19"
    first["dtmfPressesd"] = []
    return {"phonon-uuid": body["phonon-uuid"], "request-id": body.get("request-id", ""), "callDetails": [first]}


def _post(url: str, body: bytes) -> int:
    """POST the report; the HTTP status, or 0 when nothing answered."""
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return 0
