"""Forms of the campaign manager's pages: they parse input; the writes live in the services."""

import datetime
import re
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.utils.timezone import make_naive

from campaigns.clock import zone_names
from campaigns.importing.header import MAPPING_TARGETS
from campaigns.models import Campaign
from campaigns.windows import WEEKDAY_NAMES, parse_window
from dialer.campaign_actions import MAX_LOOK_BACK_DAYS, campaign_duplicate
from dialer.models import CallOutcome
from dialer.recent_calls import DEFAULT_LOOK_BACK_DAYS
from flows.models import Flow
from pages.redial_forms import RedialFields
from phonon.limits import MAX_CALLS_PER_REQUEST

ENCODING_CHOICES = [
    ("", "Detect (UTF-8, or UTF-16 with a byte-order mark)"),
    ("utf-8", "UTF-8"),
    ("utf-16", "UTF-16"),
    ("cp1252", "Windows-1252 (older Excel on Windows)"),
]
TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class FlowChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, flow):
        name = f" – {flow.name}" if flow.name else ""
        return f"{flow.flow_id}{name} ({flow.account.name})"


class UploadForm(forms.Form):
    flow = FlowChoiceField(
        queryset=Flow.objects.none(), empty_label=None, help_text="The flow that will call this list.",
        error_messages={"required": "Choose the flow that will call this list.",
                        "invalid_choice": "Choose one of your flows from the list."},
    )
    file = forms.FileField(
        label="Call list", help_text="A .csv file, or a .zip of .csv files; each CSV at most 5 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.zip,text/csv,application/zip"}),
    )
    name = forms.CharField(max_length=200, required=False, help_text="Optional; the file name is used otherwise.",
                           error_messages={"max_length": "Keep the name to 200 characters or fewer."})
    encoding = forms.ChoiceField(choices=ENCODING_CHOICES, required=False, initial="")
    start_now = forms.BooleanField(
        label="Start now", required=False,
        help_text="If the file's name gives a start time (upload_ddMMyyyyHHmmss) that has passed, call at once "
        "instead of refusing the file.",
    )

    def __init__(self, *args, flows, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["flow"].queryset = flows
        self.fields["file"].error_messages.update({
            "required": "Choose a .csv or .zip file to upload.",
            "empty": "The file is empty; choose the call list itself.",
            "invalid": "Choose a .csv or .zip file to upload.",
        })

    def clean(self):
        cleaned = super().clean()
        cleaned["column_map"] = posted_column_mapping(self.data)
        return cleaned


def posted_column_mapping(data) -> dict[str, str] | None:
    """The preview's column mapping as posted with the upload: `map-N` (what column N is: tel1..tel10,
    starttime, client-identifier, $flow.key.NAME, "ignore", or "auto" for as written) beside
    `mapcell-N` (its header cell as written). None when no mapping was posted at all (no preview)."""
    if not any(key.startswith("map-") for key in data):
        return None
    mapping = {}
    for key in data:
        if not key.startswith("map-") or not key[4:].isdigit():
            continue
        target, cell = data.get(key, "auto").strip(), data.get(f"mapcell-{key[4:]}", "").strip()
        if not cell or target == "auto":
            continue
        if target == "ignore":
            mapping[cell[:200]] = ""
        elif target in MAPPING_TARGETS or (target.startswith("$flow.key.") and len(target) > len("$flow.key.")):
            mapping[cell[:200]] = target[:200]
    return dict(list(mapping.items())[:50])


class PreviewForm(forms.Form):
    file = forms.FileField()
    encoding = forms.ChoiceField(choices=ENCODING_CHOICES, required=False)


class WindowTimeField(forms.CharField):
    """HH:MM; the window's end may also be 24:00 (midnight at the end of the day)."""

    def __init__(self, *, allow_midnight_end=False, **kwargs):
        self.allow_midnight_end = allow_midnight_end
        kwargs.setdefault("max_length", 5)
        message = "Write the time as HH:MM on a 24-hour clock, e.g. 09:00 or 21:30."
        kwargs["error_messages"] = {"max_length": message, "required": message, **kwargs.get("error_messages", {})}
        super().__init__(**kwargs)
        pattern = r"([01][0-9]|2[0-3]):[0-5][0-9]" + ("|24:00" if allow_midnight_end else "")
        self.widget.attrs.update(
            {"pattern": pattern, "inputmode": "numeric", "placeholder": "HH:MM", "size": 5, "autocomplete": "off"}
        )

    def clean(self, value):
        value = super().clean(value).strip()
        if self.allow_midnight_end and value == "24:00":
            return value
        if not TIME_RE.match(value):
            raise forms.ValidationError("Write the time as HH:MM on a 24-hour clock, e.g. 09:00 or 21:30.")
        return value


API_VERSION_CHOICES = [
    (Flow.ApiVersion.PRODUCTION, "The published version (1.0)"),
    (Flow.ApiVersion.TEST, "The version in testing (TEST): only numbers whitelisted for testing are called"),
]


class CampaignForm(RedialFields):  # redial rules and key words: pages.redial_forms
    name = forms.CharField(
        max_length=200, required=False, help_text="Optional; the list's name and the time otherwise.",
        error_messages={"max_length": "Keep the name to 200 characters or fewer."},
    )
    start_at = forms.DateTimeField(
        label="Start time", required=False, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="In the campaign's time zone. Leave empty to start at once (inside the calling window).",
        error_messages={"invalid": "Write the start as a date and a time, e.g. 2026-12-02 14:30."},
    )
    timezone = forms.CharField(
        # The zone names are a <datalist> beside it (pages/_campaign_form.html): the browser
        # filters them as the manager types, with no script.
        label="Time zone", max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "list": "zone-names"}),
        help_text="Type to search, e.g. Kolkata, London or New_York.",
        error_messages={"required": "Choose the campaign's time zone, e.g. Asia/Kolkata."},
    )
    window_start = WindowTimeField(label="Calling window from", initial="09:00",
                                   error_messages={"required": "Write when calling may start, e.g. 09:00."})
    window_end = WindowTimeField(
        label="Calling window until", initial="21:00", allow_midnight_end=True,
        help_text="24:00 means until midnight; 00:00 to 24:00 calls around the clock.",
        error_messages={"required": "Write when calling must stop, e.g. 21:00."},
    )
    window_days = forms.TypedMultipleChoiceField(
        label="Weekdays", coerce=int, choices=list(enumerate(WEEKDAY_NAMES)), initial=list(range(7)),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one weekday.", "invalid_choice": "Choose weekdays from the list."},
    )
    batch_size = forms.IntegerField(
        label="Batch size", min_value=1, max_value=MAX_CALLS_PER_REQUEST,
        help_text=f"How many calls go to the provider in one request, 1 to {MAX_CALLS_PER_REQUEST}. "
                  f"Keep {MAX_CALLS_PER_REQUEST} unless the provider's support asks for fewer.",
        error_messages={
            "required": f"Write a batch size from 1 to {MAX_CALLS_PER_REQUEST}.",
            "invalid": f"Write a batch size from 1 to {MAX_CALLS_PER_REQUEST}, as a whole number.",
            "min_value": f"A batch holds at least 1 call; write 1 to {MAX_CALLS_PER_REQUEST}.",
            "max_value": f"The provider takes at most {MAX_CALLS_PER_REQUEST} calls in one request; "
                         f"write 1 to {MAX_CALLS_PER_REQUEST}.",
        },
    )
    api_version = forms.ChoiceField(
        label="Version of the flow to run", choices=API_VERSION_CHOICES, widget=forms.RadioSelect,
        error_messages={"required": "Choose the version of the flow to run.",
                        "invalid_choice": "Choose the published version or the version in testing."},
    )
    priority = forms.ChoiceField(
        label="Priority", choices=Campaign.Priority.choices, initial=Campaign.Priority.NORMAL, required=False,
        help_text="The account's running campaigns share its limit: high 4 parts, normal 2, low 1.",
    )

    def __init__(self, *args, flow: Flow, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["timezone"].initial = settings.PHONON_TIMEZONE
        self.fields["batch_size"].initial = settings.PHONON_BATCH_SIZE
        self.fields["api_version"].initial = flow.api_version
        # Shown beside the settings; the review asks to confirm it (dialer.review.launch_confirmations).
        self.listener_warning = flow.listener_warning

    def clean_timezone(self):
        zone = self.cleaned_data["timezone"].strip()
        if zone not in zone_names():
            raise forms.ValidationError(
                f"“{zone}” is not a time zone we know; type part of a city and pick from the list, e.g. Asia/Kolkata."
            )
        return zone

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("window_start"), cleaned.get("window_end")
        if start and end:
            try:
                parse_window(f"{start}-{end}")
            except ValueError as error:
                self.add_error("window_end", str(error))
            else:
                cleaned["window"] = f"{start}-{end}"
        zone = cleaned.get("timezone")
        start_at = cleaned.get("start_at")
        if start_at and zone:
            # The browser sends a wall-clock time; it means that time in the campaign's zone.
            cleaned["start_at"] = make_naive(start_at).replace(tzinfo=ZoneInfo(zone))
            if cleaned["start_at"] < datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1):
                self.add_error("start_at", "The start time is in the past; leave it empty to start at once.")
        return cleaned

    @property
    def zone_names(self) -> tuple[str, ...]:
        return zone_names()

    @classmethod
    def initial_from(cls, campaign) -> dict:
        """The settings of an earlier campaign, for a duplicate or a retry."""
        copied = campaign_duplicate(campaign=campaign)
        window_start, window_end = copied["window"].split("-")
        return {
            "timezone": copied["timezone_name"], "window_start": window_start, "window_end": window_end,
            "window_days": copied["window_days"], "batch_size": copied["batch_size"],
            "api_version": copied["api_version"],
            **RedialFields.redial_initial(copied["redials"], copied["key_labels"]),
        }


class CampaignEditForm(CampaignForm):
    """What may change once launched: the name, start and calling window (not the list or the flow)."""

    def __init__(self, *args, campaign, **kwargs):
        if (not args or args[0] is None) and "initial" not in kwargs:
            start = campaign.start_at.astimezone(ZoneInfo(campaign.timezone)) if campaign.start_at else None
            kwargs["initial"] = {**self.initial_from(campaign), "name": campaign.name,
                                 "start_at": start.replace(tzinfo=None) if start else None}
        super().__init__(*args, flow=campaign.flow, **kwargs)
        del self.fields["batch_size"], self.fields["api_version"]
        self.fields["name"].required = True
        self.fields["name"].error_messages["required"] = "Give the campaign a name."
        self.fields["start_at"].help_text = "In the campaign's time zone. Empty: send when the window opens."


class DuplicateForm(forms.Form):
    contact_list = forms.ModelChoiceField(
        label="Call list", queryset=None, empty_label=None,
        help_text="The campaign's window, days, zone and advanced settings are copied; you review before launching.",
        error_messages={"required": "Choose the list to launch.",
                        "invalid_choice": "Choose one of the imported lists shown."},
    )

    def __init__(self, *args, contact_lists, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact_list"].queryset = contact_lists
        self.fields["contact_list"].label_from_instance = (
            lambda item: f"{item.name} ({item.imported_count:,} contact{'s' if item.imported_count != 1 else ''}, "
                         f"flow {item.flow.flow_id})"
        )


class ReviewForm(forms.Form):
    """The review step's choices: skip the contacts already called (by default), and how far back."""

    skip_called = forms.BooleanField(
        label="Skip the contacts already called", required=False, initial=True,
    )
    look_back_days = forms.IntegerField(
        label="Already called means: within the last … days", min_value=1, max_value=MAX_LOOK_BACK_DAYS,
        initial=DEFAULT_LOOK_BACK_DAYS,
        error_messages={
            "required": f"Write how many days to look back, 1 to {MAX_LOOK_BACK_DAYS}.",
            "invalid": f"Write how many days to look back as a whole number, 1 to {MAX_LOOK_BACK_DAYS}.",
            "min_value": f"Look back at least 1 day (up to {MAX_LOOK_BACK_DAYS}).",
            "max_value": f"Look back at most {MAX_LOOK_BACK_DAYS} days.",
        },
    )

    outside_window = forms.ChoiceField(
        label="Rows whose own start time is outside the calling window", choices=Campaign.OutsideWindow.choices,
        initial=Campaign.OutsideWindow.MOVE, widget=forms.RadioSelect, required=False,
    )

    def __init__(self, *args, confirmations=(), **kwargs):
        super().__init__(*args, **kwargs)
        # Things the manager must tick before this launch (e.g. a listener not activated yet).
        for confirmation in confirmations:
            self.fields[f"confirm_{confirmation.name}"] = forms.BooleanField(
                label=confirmation.label, error_messages={"required": "Tick this box to launch anyway."},
            )


class PriorityForm(forms.Form):
    priority = forms.ChoiceField(label="Priority", choices=Campaign.Priority.choices)


class CancelForm(forms.Form):
    confirm = forms.BooleanField(
        label="Yes, cancel this campaign: calls not yet sent will never be sent.",
        error_messages={"required": "Tick the box to confirm the cancellation."},
    )


class TestCallForm(forms.Form):
    number = forms.CharField(
        label="Number to call", max_length=32, help_text="With country code, e.g. 919812345678.",
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
        error_messages={"required": "Write the number to call, with its country code, e.g. 919812345678.",
                        "max_length": "A phone number has at most 15 digits; check the number."},
    )
    variables = forms.CharField(
        label="Flow variables", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional, one a line as name=value (without $flow.key.).",
    )
    confirm_not_activated = forms.BooleanField(
        label="Call anyway: I know the provider has not activated this flow's listener yet", required=False,
    )

    def clean_variables(self):
        variables = {}
        for number, line in enumerate(self.cleaned_data["variables"].splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, value = line.partition("=")
            name = name.strip().removeprefix("$flow.key.")
            if not sep or not re.fullmatch(r"[A-Za-z0-9_]+", name):
                raise forms.ValidationError(f"Line {number} is not name=value with a name of letters, digits or _.")
            variables[name] = value.strip()
        return variables


class ContactSearchForm(forms.Form):
    number = forms.CharField(
        label="Find a contact by number or name", max_length=64, required=False,
        error_messages={"max_length": "Type at most 64 characters: part of a number or of a name."},
        widget=forms.TextInput(attrs={"placeholder": "e.g. 9812345678 or Asha", "autocomplete": "off"}),
    )

    outcome = forms.ChoiceField(
        label="Outcome", required=False, choices=[("", "Any outcome"), *CallOutcome.choices],
    )

    def clean_number(self):
        """Digits (at least 4) find a number's end; anything with a letter finds a name."""
        text = self.cleaned_data["number"].strip()
        if any(ch.isalpha() for ch in text):
            if len(text) < 2:
                raise forms.ValidationError("Type at least 2 letters of the name.")
            return text
        digits = "".join(ch for ch in self.cleaned_data["number"] if ch.isdigit())
        if self.cleaned_data["number"].strip() and len(digits) < 4:
            raise forms.ValidationError("Type at least 4 digits of the number.")
        return digits


class PlainChoiceIterator(forms.models.ModelChoiceIterator):
    """The choices read in one plain query. ModelChoiceIterator reads them with iterator(), which on
    PostgreSQL opens a server-side cursor (DECLARE, FETCH, CLOSE: three round trips) for a few rows."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset.all():
            yield self.choice(obj)


class TableFilterChoiceField(forms.ModelChoiceField):
    iterator = PlainChoiceIterator


class TableFilterForm(forms.Form):
    """Search, filters and sort of the lists and campaigns tables (all optional, read from the query)."""

    q = forms.CharField(label="Search by name", required=False, max_length=100,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name"}))
    flow = TableFilterChoiceField(label="Flow", queryset=None, required=False, empty_label="All flows")
    status = forms.ChoiceField(label="Status", required=False)
    since = forms.DateField(
        label="Created since", required=False, widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Write the date as YYYY-MM-DD, e.g. 2026-12-01."},
    )
    sort = forms.ChoiceField(label="Sort by", required=False)

    SORTS = {"newest": "Newest first", "oldest": "Oldest first", "name": "Name A–Z"}

    def __init__(self, *args, flows, statuses, sorts=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["flow"].queryset = flows
        self.fields["flow"].label_from_instance = lambda flow: flow.flow_id + (f" – {flow.name}" if flow.name else "")
        self.fields["status"].choices = [("", "Any status"), *statuses]
        self.fields["sort"].choices = list((sorts or self.SORTS).items())

    def filtered(self, queryset, *, orderings):
        """The queryset narrowed and ordered by the valid parts of the query."""
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("q"):
            queryset = queryset.filter(name__icontains=data["q"])
        if data.get("flow"):
            queryset = queryset.filter(flow=data["flow"])
        if data.get("status"):
            queryset = queryset.filter(status=data["status"])
        if data.get("since"):
            queryset = queryset.filter(created_at__date__gte=data["since"])
        return queryset.order_by(*orderings[data.get("sort") or "newest"])

    @property
    def active(self) -> bool:
        return self.is_valid() and any(self.cleaned_data.get(name) for name in ("q", "flow", "status", "since"))
