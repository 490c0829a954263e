"""The launch form's redial rules and key words (campaigns.redial_rules, campaigns.key_labels): a
base of CampaignForm, so that the launch, the duplicate and the edit all carry them."""

from django import forms

from campaigns.key_labels import key_labels_text, parse_key_labels
from campaigns.redial_rules import (
    DEFAULT_AFTER_SECONDS,
    MAX_ATTEMPTS,
    REDIALABLE,
    RedialRules,
    duration_text,
    redial_rules,
)
from phonon.causes import OUTCOME_WORDS

REDIAL_CHOICES = [(outcome.value, OUTCOME_WORDS[outcome]) for outcome in REDIALABLE]


class RedialFields(forms.Form):
    max_attempts = forms.IntegerField(
        label="Attempts per contact",
        min_value=1,
        max_value=MAX_ATTEMPTS,
        initial=1,
        required=False,
        help_text=f"Calls in all, the first included: 1 calls once; up to {MAX_ATTEMPTS}.",
        error_messages={
            "required": f"Write how many attempts each contact gets, 1 to {MAX_ATTEMPTS}.",
            "invalid": f"Write the attempts as a whole number, 1 to {MAX_ATTEMPTS}.",
            "min_value": "Each contact gets at least 1 attempt.",
            "max_value": f"At most {MAX_ATTEMPTS} attempts per contact.",
        },
    )
    redial_outcomes = forms.MultipleChoiceField(
        label="Call again when the call was",
        choices=REDIAL_CHOICES,
        required=False,
        initial=["busy", "no_answer"],
        widget=forms.CheckboxSelectMultiple,
        help_text="Answered calls are never called again; unreachable and declined ones only if ticked.",
        error_messages={"invalid_choice": "Choose outcomes from the list."},
    )
    redial_after = forms.CharField(
        label="Call again after",
        max_length=20,
        initial=duration_text(DEFAULT_AFTER_SECONDS),
        required=False,
        help_text="How long after the call: 90s, 30m, 2h or 1d. Redials go only inside the calling window.",
        error_messages={"required": "Write how long to wait before calling again, e.g. 2h."},
    )
    key_labels = forms.CharField(
        label="Keys in words",
        max_length=500,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "1=confirmed, 2=cancel", "autocomplete": "off"}),
        help_text="Optional: what the keys people press mean, shown as words on the results.",
    )

    def clean_key_labels(self):
        text = self.cleaned_data.get("key_labels", "")
        try:
            return key_labels_text(parse_key_labels(text))
        except ValueError as error:
            raise forms.ValidationError(str(error)) from error

    def clean(self):
        cleaned = super().clean()
        if "max_attempts" in self.errors or "redial_after" in self.errors:
            return cleaned
        attempts = cleaned.get("max_attempts") or 1  # left empty: one attempt, as before redials
        if attempts > 1 and not cleaned.get("redial_outcomes"):
            self.add_error("redial_outcomes", "Tick at least one outcome to call again, or set 1 attempt.")
            return cleaned
        try:
            cleaned["redials"] = redial_rules(
                outcomes=cleaned.get("redial_outcomes") if attempts > 1 else None,
                after=cleaned.get("redial_after") if attempts > 1 else None,
                max_attempts=attempts if attempts > 1 else None,
            )
        except ValueError as error:
            self.add_error("max_attempts" if "Max attempts" in str(error) else "redial_after", str(error))
        return cleaned

    @staticmethod
    def redial_initial(rules: RedialRules, key_labels: str) -> dict:
        return {
            "max_attempts": rules.max_attempts,
            "redial_outcomes": list(rules.outcomes) or ["busy", "no_answer"],
            "redial_after": duration_text(rules.after_seconds or DEFAULT_AFTER_SECONDS),
            "key_labels": key_labels,
        }


class PressedForm(forms.Form):
    """The calls table's "pressed" filter: calls whose person pressed a key (to one question, or any)."""

    pressed = forms.RegexField(
        regex=r"^[0-9*#]$",
        required=False,
        label="Pressed",
        error_messages={"invalid": "Choose one key: 0-9, * or #."},
    )
    question = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=10,
        label="To question",
        error_messages={
            "invalid": "A question is a number, 1 to 10.",
            "min_value": "Questions count from 1.",
            "max_value": "At most 10 questions.",
        },
    )
