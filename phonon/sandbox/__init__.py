"""The sandbox provider: a real HTTP server that speaks the Phonon Kairos outbound API
(PHONON_API.md) on a loopback port, for the tests, the benchmarks and `make run`.

It imports no Django models and needs no settings, so it also runs on its own:
`python -m phonon.sandbox --port 8765` (or `manage.py run_sandbox`).

Routing. A path prefix names the provider host: `/realtime/...` or `/bulk/...` (no prefix means
real time). Under each, `POST` to `/kairos-apis/outbound/create` (multicast flows),
`/kairos-apis/outbounddialer/create` (dialer flows) and `/kairos-apis/enc/outbounddialer/create`
(dialer flows, encrypted envelope). Provider codes travel with HTTP 200 unless
`http_status_for_codes` says otherwise; HTTP 429 comes only as an injected fault; unknown paths get
HTTP 404, known paths with the wrong method 405.

Validation, in this order (the first failing check answers; nothing is accepted unless noted):

 1. 400 body not JSON, not an object, or a top-level field of the wrong type; encrypted
    endpoint: envelope not an object, values not base64, not decryptable with the sandbox's
    key (wrong public key, tampering), or the plaintext is not a JSON object.
 2. 210 `api-version`, `security-id`, `flow-id` or `calls` missing (or an empty string);
    encrypted endpoint: the envelope's `flow-id` differs from the plaintext's.
 3. 201 the same body was accepted before (SHA-256 of the raw bytes; for the encrypted
    endpoint, of the raw envelope or of the decrypted plaintext). Only bodies whose calls were
    accepted (200/209) are remembered, so a 201 always means "accepted earlier", and a resend
    after a 500, a 429 or a reset before acceptance is processed afresh.
 4. 203 `api-version` is neither "1.0" nor "TEST".
 5. 301 `flow-id` is not exactly 8 ASCII letters/digits; or, when any flow is registered, the
    flow is unknown or its kind does not match the endpoint (multicast flow on a dialer path or
    the other way round; the encrypted endpoint is a dialer endpoint).
    With an empty registry the sandbox is open: any well-formed flow-id and security-id pass,
    and checks 6-10 and 14-15 do not apply.
 6. 202 wrong `security-id`.
 7. 401 the flow has `allowed_ips` and the client's address is not among them.
 8. 304 the flow has no version for the `api-version` sent.
 9. 207 the flow was registered with an empty DID list (`dids=None`, the default, means "mapped").
10. 211 the flow is expired.
11. 302 `calls` is empty; 303 it holds more than 500 calls.
12. 400 a call is not an object, or its `start-time` is not ISO-8601 with an offset
    (`YYYY-MM-DDTHH:MM:SS[.ffffff]+HH:MM` or `Z`); 210 a start-time on a date already past in
    its own offset. A start-time is optional; a past time on today's date is fine.
13. Per call, a problem drops only that call: no `client-identifier` (a non-empty string) or no
    `contact-numbers` -> 210-kind; `contact-numbers` not a list of 1 to 10 strings of 8-15 ASCII
    digits (country code, no "+") -> 205-kind; `keys` (optional) not a list of
    `{"name": "$flow.key.<letters, digits, _>", "value": "<string>"}` -> 210-kind; a
    client-identifier repeated in the request (the first one stays) or already in the ledger
    for the flow -> 210-kind. If no call survives: 205 when every drop was a bad number, else 210.
14. 402 api-version "TEST", the flow has `whitelisted_phones`, and a surviving call holds a
    number outside it (the whole request is refused).
15. 212 the flow has a `balance` smaller than the number of surviving calls; on acceptance the
    balance goes down by that number.
16. 200 with `request-id` and `call-details` (client-identifier, phonon-uuid) in request order,
    or 209 with the same for the surviving calls only.

204, 206, 208 and 213 are never produced by validation; `force_code` produces them (and any other
documented code but 200). With `force_code` 209 the answer has a request-id and no call-details.

Faults (per request, decided from one seeded random draw; shares add up to at most 1):
`error_500` answers code 500 without accepting; `http_429` answers HTTP 429 without accepting;
`reset` closes the connection with an RST and no answer, after accepting the calls with the
share `reset_after_accept` (default 0.5) and before otherwise; `slow` accepts (validation runs as
usual), then sleeps `slow_seconds` before answering. `force_code` wins over all of them.

What the real provider may do that our reading of its pages does not say (switches beside the
faults, off by default, set with the faults through `POST /_sandbox/faults`):
`http_status_for_codes` ({"202": 401, "500": 503, ...}) answers those codes, body unchanged, with
that HTTP status; `retry_after` (seconds, an HTTP-date, or null; default 1) is sent as Retry-After
with every HTTP 429 and 503; `drop_details` leaves calls out of a 200's call-details while still
accepting them into the ledger (an integer: that many, from the end; a number below 1: that share,
rounded up); `refuse_whole_for_bad_call` makes one call dropped at step 13 refuse the whole request
(205 when every dropped call had a bad number, else 210) with nothing accepted.
The rate-limit scope (per account or per endpoint) is ours to choose (PHONON_RATE_SCOPE), not the
sandbox's: it counts per endpoint in its statistics either way.

Statistics: each API request is recorded with its arrival time (the moment its handler started),
the number of calls it carried and the number accepted. `max_calls_in_window` is the largest
number of accepted calls in any window [t, t + window) and `max_calls_received_in_window` the
same over every call that arrived (refused, repeated and faulted requests included).
"""

from phonon.sandbox.contract import error_body, route
from phonon.sandbox.provider import SandboxProvider, load_or_create_private_key, load_private_key, max_in_window
from phonon.sandbox.server import RunningSandbox, serve, start_sandbox_thread

__all__ = [
    "RunningSandbox",
    "SandboxProvider",
    "error_body",
    "load_or_create_private_key",
    "load_private_key",
    "max_in_window",
    "route",
    "serve",
    "start_sandbox_thread",
]
