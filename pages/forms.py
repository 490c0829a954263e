"""Forms of the campaign manager's pages: they parse input; the writes live in the services."""

import datetime
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django import forms
from django.conf import settings
from django.utils.timezone import make_naive

from campaigns.models import Campaign
from campaigns.windows import WEEKDAY_NAMES, parse_window
from flows.models import Flow
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
        queryset=Flow.objects.none(), empty_label=None, help_text="The flow that will call this list."
    )
    file = forms.FileField(
        label="Call list", help_text="A .csv file, or a .zip of .csv files; each CSV at most 5 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.zip,text/csv,application/zip"}),
    )
    name = forms.CharField(max_length=200, required=False, help_text="Optional; the file name is used otherwise.")
    encoding = forms.ChoiceField(choices=ENCODING_CHOICES, required=False, initial="")
    start_now = forms.BooleanField(
        label="Start now", required=False,
        help_text="If the file's name gives a start time (upload_ddMMyyyyHHmmss) that has passed, call at once "
        "instead of refusing the file.",
    )

    def __init__(self, *args, flows, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["flow"].queryset = flows
        self.fields["file"].error_messages["required"] = "Choose a .csv or .zip file to upload."


class PreviewForm(forms.Form):
    file = forms.FileField()
    encoding = forms.ChoiceField(choices=ENCODING_CHOICES, required=False)


class WindowTimeField(forms.CharField):
    """HH:MM; the window's end may also be 24:00 (midnight at the end of the day)."""

    def __init__(self, *, allow_midnight_end=False, **kwargs):
        self.allow_midnight_end = allow_midnight_end
        kwargs.setdefault("max_length", 5)
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


class CampaignForm(forms.Form):
    name = forms.CharField(
        max_length=200, required=False, help_text="Optional; the list's name and the time otherwise."
    )
    start_at = forms.DateTimeField(
        label="Start time", required=False, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="In the campaign's time zone. Leave empty to start at once (inside the calling window).",
    )
    timezone = forms.ChoiceField(label="Time zone", choices=())
    window_start = WindowTimeField(label="Calling window from", initial="09:00")
    window_end = WindowTimeField(
        label="Calling window until", initial="21:00", allow_midnight_end=True,
        help_text="24:00 means until midnight; 00:00 to 24:00 calls around the clock.",
    )
    window_days = forms.TypedMultipleChoiceField(
        label="Weekdays", coerce=int, choices=list(enumerate(WEEKDAY_NAMES)), initial=list(range(7)),
        widget=forms.CheckboxSelectMultiple, error_messages={"required": "Choose at least one weekday."},
    )
    batch_size = forms.IntegerField(
        label="Calls per request", min_value=1, max_value=MAX_CALLS_PER_REQUEST,
        help_text=f"1 to {MAX_CALLS_PER_REQUEST} (the provider's maximum per request).",
    )
    api_version = forms.ChoiceField(
        label="Flow version", choices=Flow.ApiVersion.choices, widget=forms.RadioSelect,
    )
    priority = forms.ChoiceField(
        label="Priority", choices=Campaign.Priority.choices, initial=Campaign.Priority.NORMAL, required=False,
        help_text="The account's running campaigns share its limit: high 4 parts, normal 2, low 1.",
    )

    def __init__(self, *args, flow: Flow, **kwargs):
        super().__init__(*args, **kwargs)
        zones = sorted({settings.PHONON_TIMEZONE, "UTC", *_common_zones()})
        self.fields["timezone"].choices = [(zone, zone) for zone in zones]
        self.fields["timezone"].initial = settings.PHONON_TIMEZONE
        self.fields["batch_size"].initial = settings.PHONON_BATCH_SIZE
        self.fields["api_version"].initial = flow.api_version
        self.listener_warning = flow.listener_warning
        if self.listener_warning:
            # Launching on a flow whose listener is not activated needs the manager's say-so.
            self.fields["confirm_listener"] = forms.BooleanField(
                label="Launch anyway: I know calls may not connect until the provider activates the listener.",
                error_messages={
                    "required": f"{self.listener_warning} Tick the box to launch anyway, or mark the listener "
                    "as activated on the flow's page once the provider has confirmed it."
                },
            )

    def clean_timezone(self):
        try:
            ZoneInfo(self.cleaned_data["timezone"])
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise forms.ValidationError("Choose a time zone from the list.") from error
        return self.cleaned_data["timezone"]

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


def _common_zones() -> list[str]:
    wanted = ("Asia/", "Europe/London", "Europe/Berlin", "America/New_York", "Africa/Nairobi", "Australia/Sydney")
    return [zone for zone in available_timezones() if zone.startswith(wanted)]


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
    )
    variables = forms.CharField(
        label="Flow variables", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional, one a line as name=value (without $flow.key.).",
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
        label="Find a contact by number", max_length=32, required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "placeholder": "e.g. 9812345678", "autocomplete": "off"}),
    )

    def clean_number(self):
        digits = "".join(ch for ch in self.cleaned_data["number"] if ch.isdigit())
        if self.cleaned_data["number"].strip() and len(digits) < 4:
            raise forms.ValidationError("Type at least 4 digits of the number.")
        return digits
