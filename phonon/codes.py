"""Every response code of the provider (PHONON_API.md), and what dispatch does with each.

This is the one place that knows the codes, and what an answer without a readable code means.
"""

import enum

# Where the production notes say which address the provider must allow (code 401).
ALLOW_LIST_NOTE = "docs/operations.md, “The provider's IP allow-list”"


class Handling(enum.Enum):
    SUCCESS = "success"
    PARTIAL = "partial"  # 209: calls missing from call-details were not placed
    REPEATED = "repeated"  # 201: the same body was received before
    PAUSE = "pause"  # the flow or account is misconfigured: pause the campaign, tell the manager
    REJECT = "reject"  # this request's calls were refused: record the code on each call
    # The whole request was refused for what one call alone may cause, and nothing was placed:
    # send its calls again in halves (new requests) until the offending calls stand alone.
    SPLIT = "split"
    RETRY = "retry"  # transient: resend the same bytes later


class ResponseCode(enum.IntEnum):
    def __new__(cls, value, message, handling, explanation):
        member = int.__new__(cls, value)
        member._value_ = value
        member.message = message
        member.handling = handling
        member.explanation = explanation
        return member

    SUCCESS = 200, "Success", Handling.SUCCESS, "The provider accepted every call."
    CHECKSUM_REPEATED = (
        201,
        "Checksum Repeated",
        Handling.REPEATED,
        "The provider had already received this exact request; "
        "the calls were accepted earlier and their UUIDs are unknown.",
    )
    INVALID_SECURITY_ID = (
        202,
        "Invalid Security ID",
        Handling.PAUSE,
        "The flow's security-id is wrong. Copy it again from the flow's Edit Flow page at the provider.",
    )
    INVALID_API_VERSION = (
        203,
        "API Version not Supported",
        Handling.PAUSE,
        "The provider does not support the api-version sent.",
    )
    INVALID_GATEWAY_ID = (
        204,
        "Invalid SMS Gateway",
        Handling.PAUSE,
        "The flow's SMS gateway is not valid at the provider.",
    )
    INVALID_CONTACT_NUMBER = 205, "Invalid Contact Number", Handling.SPLIT, "The provider refused a contact number."
    FAILURE_FROM_GATEWAY = (
        206,
        "Failure from Gateway",
        Handling.RETRY,
        "The provider's gateway failed; it will be retried.",
    )
    DID_NOT_MAPPED = (
        207,
        "DID Not Mapped",
        Handling.PAUSE,
        "No DID is mapped to the flow. Attach DIDs and ask the provider to activate the listener.",
    )
    NO_MASK_AVAILABLE = (
        208,
        "No Mask Available",
        Handling.PAUSE,
        "The provider has no caller mask available for the flow.",
    )
    PARTIAL_SUCCESS = (
        209,
        "Partial Success",
        Handling.PARTIAL,
        "Some calls were placed; those missing from the answer were not.",
    )
    INVALID_MANDATORY_PARAMETERS = (
        210,
        "Invalid Mandatory Parameters",
        Handling.SPLIT,
        "A mandatory field of the request was missing or invalid.",
    )
    VALIDITY_EXPIRED = 211, "Validity Expired", Handling.PAUSE, "The account's validity at the provider has expired."
    INSUFFICIENT_BALANCE = (
        212,
        "Insufficient Balance",
        Handling.PAUSE,
        "The account's balance at the provider is too low.",
    )
    NO_DATA_AVAILABLE = 213, "No Data Available", Handling.REJECT, "The provider had no data for the request."
    INVALID_FLOW_ID = 301, "Invalid Flow ID", Handling.PAUSE, "The provider does not know this flow-id."
    EMPTY_CALL_LIST = 302, "Empty Call List", Handling.REJECT, "The request carried no calls."
    MAX_DATA_LIST_SIZE_EXCEEDED = (
        303,
        "Max Data List Size Exceeded",
        Handling.REJECT,
        "The request carried more calls than the provider takes.",
    )
    INVALID_FLOW_VERSION = (
        304,
        "Invalid Flow Version",
        Handling.PAUSE,
        "The flow has no version for the api-version sent (TEST needs a version in testing, 1.0 a published one).",
    )
    INVALID_FORMAT = 400, "Invalid Format", Handling.SPLIT, "The provider could not read the request."
    IP_NOT_WHITELISTED = (
        401,
        "IP Not Whitelisted",
        Handling.PAUSE,
        "Our server's IP address is not whitelisted in the provider's console: the egress address of every "
        f"worker machine must be on it ({ALLOW_LIST_NOTE}).",
    )
    PHONE_NOT_WHITELISTED = (
        402,
        "Phone Not Whitelisted",
        Handling.SPLIT,
        "A number is not whitelisted for the flow's test version.",
    )
    FAILURE = 500, "Failure", Handling.RETRY, "The provider reported a failure; it will be retried."

    @classmethod
    def lookup(cls, code: int | None) -> "ResponseCode | None":
        try:
            return cls(code)
        except ValueError:
            return None


# HTTP statuses that say "not now" rather than "not this": the request may be sent again as it is.
TRANSIENT_HTTP_STATUSES = frozenset({408, 425, 429})


def handling_of(*, code: int | None, http_status: int | None) -> Handling:
    """What an answer means for its batch. The code in the body counts, whatever the HTTP status
    (PHONON_API.md); only an answer without a readable code is judged by its HTTP status."""
    if code is not None:
        known = ResponseCode.lookup(code)
        # An undocumented code says nothing about the calls: treat it as a failure and retry.
        return known.handling if known else Handling.RETRY
    if http_status is not None and 400 <= http_status < 500 and http_status not in TRANSIENT_HTTP_STATUSES:
        # A 4xx without a provider code comes from a wrong address or a proxy in between, and
        # will not change by itself: stop and tell the manager rather than retry for minutes.
        return Handling.PAUSE
    return Handling.RETRY  # 5xx, 429, timeouts, connection errors, unreadable 2xx


def describe_http(http_status: int) -> str:
    """An answer without a provider code, in words."""
    if http_status in (401, 403):
        return (
            f"HTTP {http_status} without a provider code: something in front of the provider refused us; "
            f"check that our egress address is on its allow-list ({ALLOW_LIST_NOTE})."
        )
    if 400 <= http_status < 500 and http_status not in TRANSIENT_HTTP_STATUSES:
        return (
            f"HTTP {http_status} without a provider code: check the provider's address "
            "(PHONON_REALTIME_BASE_URL, PHONON_BULK_BASE_URL) and any proxy in between."
        )
    return f"HTTP {http_status} from the provider, without a provider code."


def describe(code: int | None, message: str = "") -> str:
    """The code in words, for the manager: `202 Invalid Security ID: <what to do>`."""
    known = ResponseCode.lookup(code)
    if known is None:
        return f"Unknown provider code {code}: {message}".strip().rstrip(":")
    return f"{known.value} {known.message}: {known.explanation}"
