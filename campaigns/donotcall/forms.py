"""Forms for changing a do-not-call list by hand or by file, shared by the pages and admin."""

import re

from django import forms

from campaigns.models import DoNotCallUpload

MAX_TYPED_NUMBERS = 1000


class NumbersField(forms.CharField):
    """Numbers typed or pasted, one a line (commas and semicolons also separate them)."""

    widget = forms.Textarea(attrs={"rows": 4, "inputmode": "tel", "autocomplete": "off"})

    def clean(self, value):
        value = super().clean(value)
        numbers = [part.strip() for part in re.split(r"[\n,;]+", value or "") if part.strip()]
        if self.required and not numbers:
            raise forms.ValidationError("Type at least one number.")
        if len(numbers) > MAX_TYPED_NUMBERS:
            raise forms.ValidationError(
                f"At most {MAX_TYPED_NUMBERS:,} numbers at a time here; upload a file for more."
            )
        return numbers


class AddNumbersForm(forms.Form):
    numbers = NumbersField(label="Numbers", help_text="One a line, with the country code, e.g. 919812345678.")
    reason = forms.CharField(
        max_length=200, required=False, help_text="Why, e.g. “asked not to be called, 3 Dec call”.",
    )
    expires_on = forms.DateField(
        label="Callable again from", required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional; empty keeps the numbers listed until someone removes them.",
    )


class RemoveNumbersForm(forms.Form):
    numbers = NumbersField(label="Numbers to remove", help_text="One a line.")


class FindNumberForm(forms.Form):
    number = forms.CharField(
        label="Is this number listed?", max_length=32, required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off", "placeholder": "919812345678"}),
    )


class UploadNumbersForm(forms.Form):
    file = forms.FileField(
        label="File of numbers", help_text="CSV, TXT or ZIP: one number a line, or a column named number or tel1.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.zip,text/csv,text/plain,application/zip"}),
        error_messages={"required": "Choose a .csv, .txt or .zip file."},
    )
    action = forms.ChoiceField(
        label="What to do", choices=DoNotCallUpload.Action.choices, initial=DoNotCallUpload.Action.ADD,
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(max_length=200, required=False, help_text="Recorded with every number added.")
    expires_on = forms.DateField(
        label="Callable again from", required=False, widget=forms.DateInput(attrs={"type": "date"}),
    )
