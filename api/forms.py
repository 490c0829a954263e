"""Forms of the API key and webhook pages: they parse input; the writes live in the services."""

from django import forms

from events.models import Event
from flows.models import Account


class AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, account):
        return f"{account.name} ({account.client_id})"


class ApiKeyForm(forms.Form):
    account = AccountChoiceField(queryset=Account.objects.none(), empty_label=None)
    name = forms.CharField(max_length=50, help_text="Which system uses the key, e.g. “CRM nightly export”.")

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts


class WebhookForm(forms.Form):
    account = AccountChoiceField(queryset=Account.objects.none(), empty_label=None)
    url = forms.CharField(label="URL", max_length=500, help_text="https:// address that receives the events.")
    events = forms.MultipleChoiceField(
        choices=Event.Type.choices, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked sends every event.",
    )
    description = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts
