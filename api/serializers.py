"""What the API reads and writes: representations of flows, lists, campaigns and calls, and the
parsing of requests. Rules stay in the services; these only check types and shapes."""

import re
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.redials import RedialRulesInSerializer, RedialsField, validated_key_labels
from campaigns.models import Campaign, ContactList
from dialer.campaign_actions import MAX_LOOK_BACK_DAYS
from dialer.models import Batch, Call, CallOutcome
from dialer.outcomes.tallies import summary_of as outcome_summary_of
from dialer.progress import campaign_progress
from dialer.read_model import campaign_reading
from dialer.recent_calls import DEFAULT_LOOK_BACK_DAYS
from flows.models import Flow
from phonon.limits import FLOW_ID_PATTERN

# The patterns the schema states and the fields check: a flow-id, a calling window.
FLOW_ID_REGEX = rf"^{FLOW_ID_PATTERN.pattern}$"
WINDOW_REGEX = r"^([01][0-9]|2[0-3]):[0-5][0-9]-(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
TIME_ZONES = sorted(available_timezones())
LIST_STATUSES = ["open", *ContactList.Status.values]
ENCODINGS = ["", "utf-8", "utf-16", "utf-16-le", "utf-16-be", "cp1252", "iso8859-1"]


class FlowSerializer(serializers.ModelSerializer):
    activated = serializers.SerializerMethodField()

    class Meta:
        model = Flow
        fields = ["flow_id", "name", "kind", "mode", "api_version", "encrypted", "activated", "created_at"]

    def get_activated(self, flow) -> bool:
        return flow.activated_at is not None


def list_status(contact_list: ContactList) -> str:
    open_list = getattr(contact_list, "open_list", None)
    if open_list is not None and open_list.closed_at is None:
        return "open"
    return contact_list.status


class ContactListSerializer(serializers.ModelSerializer):
    flow = serializers.SlugRelatedField(slug_field="flow_id", read_only=True)
    status = serializers.SerializerMethodField()
    rows_received = serializers.SerializerMethodField()
    imported = serializers.IntegerField(source="imported_count", read_only=True)
    rejected = serializers.IntegerField(source="rejected_count", read_only=True)
    rows_per_second = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = ContactList
        fields = [
            "id", "name", "flow", "source", "status", "error", "original_filename", "rows_received", "rows_done",
            "imported", "rejected", "rows_per_second", "created_at", "started_at", "finished_at",
        ]

    @extend_schema_field(serializers.ChoiceField(choices=LIST_STATUSES))
    def get_status(self, contact_list) -> str:
        return list_status(contact_list)

    def get_rows_received(self, contact_list) -> int | None:
        """Rows appended as JSON so far (lists filled with JSON rows only)."""
        open_list = getattr(contact_list, "open_list", None)
        return open_list.rows_received if open_list is not None else None


class ListUploadSerializer(serializers.Serializer):
    """multipart/form-data: a CSV or ZIP file, as in the upload page."""

    flow = serializers.RegexField(FLOW_ID_REGEX, help_text="The flow-id that will call this list.")
    # An empty file is the importer's to refuse (422, in its words), as on the upload page.
    file = serializers.FileField(help_text="A .csv file, or a .zip of .csv files.", allow_empty_file=True)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    encoding = serializers.ChoiceField(choices=ENCODINGS, required=False, default="")


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "object", "additionalProperties": {
            "oneOf": [{"type": "string"}, {"type": "number"}], "nullable": True,
        }},
        "description": "Rows as objects keyed like a CSV header: tel1..tel10, starttime, client-identifier; "
        "any other key is a flow variable.",
    }
)
class RowsField(serializers.Field):
    """Objects of strings, numbers or nulls; checked in one quick loop (10,000 rows a request)."""

    def to_internal_value(self, data):
        if not isinstance(data, list):
            raise serializers.ValidationError("rows is a list of objects, one a contact.")
        limit = settings.API_ROWS_PER_REQUEST
        if len(data) > limit:
            raise serializers.ValidationError(f"At most {limit:,} rows a request; send the rest in further requests.")
        errors = {}
        for index, row in enumerate(data):
            if not isinstance(row, dict):
                errors[index] = ["Each row is an object such as {\"tel1\": \"919812345678\", \"name\": \"Asha\"}."]
                continue
            bad = [
                key for key, value in row.items()
                if not (value is None or isinstance(value, str | int | float) and not isinstance(value, bool))
            ]
            if bad:
                errors[index] = {key: ["A value is a string, a number or null."] for key in bad}
            if len(errors) >= 20:
                break
        if errors:
            raise serializers.ValidationError([errors.get(index, {}) for index in range(max(errors) + 1)])
        return data

    def to_representation(self, value):
        return value


class ListRowsCreateSerializer(serializers.Serializer):
    """application/json: a list filled with rows, now and in later requests, until it is closed."""

    flow = serializers.RegexField(FLOW_ID_REGEX, help_text="The flow-id that will call this list.")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    rows = RowsField(required=False, default=list)
    close = serializers.BooleanField(
        default=False, help_text="Close the list with these rows: its import starts at once."
    )


class ListRowsAppendSerializer(serializers.Serializer):
    rows = RowsField()
    close = serializers.BooleanField(default=False)


class CountsSerializer(serializers.Serializer):
    contacts = serializers.IntegerField()
    pending = serializers.IntegerField()
    placed = serializers.IntegerField()
    accepted_unknown = serializers.IntegerField()
    rejected = serializers.IntegerField()
    skipped = serializers.IntegerField()
    maybe_placed = serializers.IntegerField(help_text="Cancelled after an unanswered send: may have been placed.")


class ShareWithSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    priority = serializers.ChoiceField(choices=Campaign.Priority.choices)


class ShareSerializer(serializers.Serializer):
    """The running campaign's share of its account's limit, as the limiter gives it now."""

    calls_per_minute = serializers.IntegerField()
    fraction = serializers.CharField(help_text="Of the account's limit on this endpoint, e.g. 2/3.")
    limit_per_minute = serializers.IntegerField()
    shared_with = ShareWithSerializer(many=True, help_text="This account's other campaigns sending now.")
    estimated_finish = serializers.DateTimeField(allow_null=True)
    in_words = serializers.CharField()


class OutcomeSummarySerializer(serializers.Serializer):
    """What happened to the calls the provider took (dialer.outcomes tallies)."""

    answered = serializers.IntegerField()
    busy = serializers.IntegerField()
    no_answer = serializers.IntegerField()
    rejected = serializers.IntegerField()
    unreachable = serializers.IntegerField()
    failed = serializers.IntegerField()
    unknown = serializers.IntegerField(help_text="Taken by the provider, no report (pending or given up).")
    pending = serializers.IntegerField(help_text="Unknown and still expected (pushed or pulled).")
    given_up = serializers.IntegerField(help_text="Unknown after PHONON_PULL_GIVE_UP: no report came.")
    average_talk_seconds = serializers.FloatField(allow_null=True)
    keys = serializers.DictField(child=serializers.IntegerField(), help_text="Key: calls that pressed it.")


class CampaignSerializer(serializers.ModelSerializer):
    list = serializers.PrimaryKeyRelatedField(source="contact_list", read_only=True)
    flow = serializers.SlugRelatedField(slug_field="flow_id", read_only=True)
    window = serializers.SerializerMethodField()
    provider_code = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField()
    batches = serializers.SerializerMethodField()
    share = serializers.SerializerMethodField()
    outcomes = serializers.SerializerMethodField()
    redial = RedialsField()  # api.redials

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "list",
            "flow",
            "status",
            "status_reason",
            "provider_code",
            "api_version",
            "batch_size",
            "start_at",
            "timezone",
            "window",
            "window_days",
            "skip_called_days",
            "counts",
            "batches",
            "created_at",
            "started_at",
            "finished_at",
            "priority",
            "share",
            "outcomes",
            "redial",
            "key_labels",
        ]

    def get_window(self, campaign) -> str:
        end = campaign.window_end.strftime("%H:%M") if campaign.window_end else "24:00"
        return f"{campaign.window_start:%H:%M}-{end}"

    def get_provider_code(self, campaign) -> int | None:
        """The provider's code that paused the campaign (while it is paused by the provider's answer)."""
        if campaign.status != Campaign.Status.PAUSED:
            return None
        held = campaign.batches.filter(status=Batch.Status.HELD).order_by("-updated_at")
        return held.values_list("response_code", flat=True).first()

    @extend_schema_field(CountsSerializer)
    def get_counts(self, campaign) -> dict:
        progress = campaign_progress(campaign)
        return {"contacts": progress.total, **progress.counts}

    def get_batches(self, campaign) -> int:
        return campaign.batches.count()

    @extend_schema_field(OutcomeSummarySerializer)
    def get_outcomes(self, campaign) -> dict:
        return outcome_summary_of(campaign.pk).as_dict()

    @extend_schema_field(ShareSerializer(allow_null=True))
    def get_share(self, campaign) -> dict | None:
        reading = campaign_reading(campaign)
        share, finish = reading.share, reading.finish_at
        if share is None:
            return None
        return {
            "calls_per_minute": share.calls_per_minute, "fraction": str(share.fraction),
            "limit_per_minute": share.limit_per_minute,
            "shared_with": [
                {"id": pk, "name": name, "priority": priority} for pk, name, priority in share.sharing_with
            ],
            "estimated_finish": finish, "in_words": share.in_words(),
        }


@extend_schema_field({"type": "string", "pattern": WINDOW_REGEX})
class WindowField(serializers.CharField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not re.match(WINDOW_REGEX, value):
            raise serializers.ValidationError(
                f"A calling window is written HH:MM-HH:MM, e.g. 09:00-21:00; got {value!r}."
            )
        return value


class CampaignCreateSerializer(serializers.Serializer):
    """The launch form's options. A start time without an offset is read in `timezone`."""

    list = serializers.IntegerField(help_text="The id of an imported call list.")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    start_at = serializers.DateTimeField(required=False, allow_null=True, default=None, default_timezone=None)
    timezone = serializers.ChoiceField(
        choices=TIME_ZONES, required=False, allow_blank=True, default="",
        help_text="An IANA time zone name; PHONON_TIMEZONE when empty.",
        error_messages={"invalid_choice": "{input!r} is not a time zone name such as Asia/Kolkata."},
    )
    window = WindowField(
        required=False, default="09:00-21:00",
        help_text="HH:MM-HH:MM; 00:00-24:00 calls around the clock; a window that starts as it ends is a 422.",
    )
    window_days = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), required=False, default=None, allow_null=True,
        min_length=1, help_text="Weekdays, Monday = 0; all by default.",
    )
    batch_size = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=500, help_text="Calls per request."
    )
    api_version = serializers.ChoiceField(
        choices=Flow.ApiVersion.choices, required=False, allow_null=True, default=None
    )
    skip_called_days = serializers.IntegerField(
        required=False, default=DEFAULT_LOOK_BACK_DAYS, min_value=1, max_value=MAX_LOOK_BACK_DAYS,
        help_text="Contacts the account called within this many days are skipped (the launch review's rule).",
    )
    include_called = serializers.BooleanField(
        required=False, default=False, help_text="Call the contacts already called within the look-back too.",
    )
    priority = serializers.ChoiceField(
        choices=Campaign.Priority.choices, required=False, default=Campaign.Priority.NORMAL,
        help_text="Share of the account's limit beside its other running campaigns: high 4, normal 2, low 1.",
    )
    redial = RedialRulesInSerializer(required=False, help_text="Call again who was not reached (api.redials).")
    key_labels = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=500, help_text="Keys in words: 1=confirmed, 2=cancel."
    )

    def validate_key_labels(self, value):
        return validated_key_labels(value)

    def validate_timezone(self, value):
        return value or settings.PHONON_TIMEZONE

    def validate(self, data):
        start_at = data.get("start_at")
        if start_at is not None and start_at.tzinfo is None:
            data["start_at"] = start_at.replace(tzinfo=ZoneInfo(data["timezone"]))
        return data


class CampaignPrioritySerializer(serializers.Serializer):
    priority = serializers.ChoiceField(choices=Campaign.Priority.choices)


class CampaignPauseSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class CallSerializer(serializers.ModelSerializer):
    numbers = serializers.ListField(source="contact.numbers", child=serializers.CharField(), read_only=True)
    primary_number = serializers.CharField(source="contact.primary_number", read_only=True)
    external_id = serializers.CharField(source="contact.external_id", read_only=True)
    variables = serializers.DictField(source="contact.variables", read_only=True)
    line = serializers.IntegerField(source="contact.line", read_only=True)
    request_id = serializers.SerializerMethodField()
    talk_seconds = serializers.FloatField(read_only=True, allow_null=True)
    hangup_cause_words = serializers.CharField(source="hangup_words", read_only=True)

    class Meta:
        model = Call
        fields = [
            "id",
            "client_identifier",
            "state",
            "numbers",
            "primary_number",
            "external_id",
            "variables",
            "line",
            "phonon_uuid",
            "request_id",
            "provider_code",
            "provider_message",
            "updated_at",
            # What happened after the provider took the call (delivery reports; unknown until one comes).
            "outcome",
            "outcome_note",
            "hangup_cause",
            "hangup_cause_words",
            "answered_number",
            "talk_seconds",
            "keys",
            "connected_at",
            "attempt",
        ]

    def get_request_id(self, call) -> str:
        return call.batch.request_id if call.batch_id else ""


class CallFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=Call.State.values, required=False)
    outcome = serializers.ChoiceField(choices=CallOutcome.values, required=False)
    pressed = serializers.RegexField(r"^[0-9*#]$", required=False, help_text="Calls whose person pressed this key.")
    question = serializers.IntegerField(required=False, min_value=1, max_value=10,
                                        help_text="With pressed: as the answer to question N (the N-th key).")
    number = serializers.RegexField(
        r"^(?:[^\u0000\d]*\d){4}[^\u0000]*$", required=False,
        help_text="At least 4 digits; matches the end of tel1.",
        error_messages={"invalid": "Type at least 4 digits of the number."},
    )
    external_id = serializers.CharField(
        required=False, max_length=100, trim_whitespace=False,
        help_text="The row's client-identifier, exactly as it was imported.",
    )
    updated_after = serializers.DateTimeField(
        required=False, help_text="Calls changed at or after this time (ISO 8601): sync what changed since."
    )
    updated_before = serializers.DateTimeField(required=False, help_text="Calls changed before this time.")

    def validate_number(self, value):
        digits = "".join(ch for ch in value if ch.isdigit())
        if len(digits) < 4:
            raise serializers.ValidationError("Type at least 4 digits of the number.")
        return digits



class CampaignContactsSerializer(serializers.Serializer):
    """Rows keyed like a list's JSON rows, added to the campaign's list and planned with its rules."""

    rows = RowsField()


class RowAnswerSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="The row's index in the request.")
    accepted = serializers.BooleanField()
    line = serializers.IntegerField(help_text="Its line in the list: the calls' `line`, the rejected-row report's.")
    contact_id = serializers.IntegerField(allow_null=True)
    column = serializers.CharField(help_text="The column at fault (rejected rows).")
    reason = serializers.CharField(help_text="Why it was rejected, as the import report says it.")


class CampaignContactsAnswerSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    rows = RowAnswerSerializer(many=True)
