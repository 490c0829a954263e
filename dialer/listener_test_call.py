"""One call through the normal path, with api-version TEST: the way a manager checks a flow.

The call is an ordinary one-contact list launched as an ordinary campaign, so it is planned,
rate-limited, sent, recorded and shown exactly like any other; only the api-version differs
(TEST runs the flow's version in testing) and the calling window is lifted. The do-not-call lists
and the dialling cap apply to it as to any call.
"""

from django.conf import settings
from django.db import transaction

from campaigns.importing import NumberNormaliser
from campaigns.models import Campaign, Contact, ContactList
from dialer import eligibility
from dialer.campaign_actions import campaign_launch
from flows.models import Flow


class ListenerNotActivated(ValueError):
    """The flow's listener is not activated yet: the call would probably fail. Ask before sending it."""


def test_call_launch(*, flow: Flow, number: str, variables: dict | None = None, created_by=None,
                     even_if_not_activated: bool = False) -> Campaign:
    """Launch a one-call TEST campaign to `number`. Raises ValueError with a sentence on bad input."""
    normalised = NumberNormaliser(settings.PHONON_DEFAULT_REGION)(number.strip())
    if normalised is None:
        raise ValueError(f'"{number}" is not a valid phone number; write it with its country code, e.g. 919812345678.')
    if flow.activated_at is None and not even_if_not_activated:
        raise ListenerNotActivated(
            "The provider has not activated this flow's listener yet, so the call will probably not go through. "
            "Tick the box to call anyway."
        )
    with transaction.atomic():
        contact_list = ContactList.objects.create(
            flow=flow, name=f"Test call to {normalised}", source=ContactList.Source.TEST_CALL,
            status=ContactList.Status.IMPORTED, rows_done=1, imported_count=1, created_by=created_by,
        )
        contact = Contact.objects.create(
            contact_list=contact_list, line=2, primary_number=normalised, numbers=[normalised],
            variables={name: str(value) for name, value in (variables or {}).items()},
        )
        # Planning would skip it all the same; asked here too so the manager reads why at once
        # (the exception rolls the list back).
        reason = eligibility.contact_skip_reason(contact=contact, account=flow.account)
        if reason:
            raise ValueError(f"{normalised} cannot be called now: it is {reason}.")
        return campaign_launch(
            contact_list=contact_list, name=f"Test call {flow.flow_id} to {normalised}", window="00:00-24:00",
            batch_size=1, api_version=Flow.ApiVersion.TEST, actor=created_by,
        )


test_call_launch.__test__ = False  # a service, not a test, whatever pytest makes of its name
