"""Small builders for tests that need data without going through an import."""

from collections.abc import Callable

from campaigns.models import Campaign, Contact, ContactList
from dialer.models import Call
from dialer.tallies import calls_recount
from flows.models import Account, Flow


def make_flow(*, flow_id="ZH0RKJvh", security_id="sec-123456", kind="multicast", mode="realtime",
              client_id="C129113", **fields) -> Flow:
    account, _ = Account.objects.get_or_create(client_id=client_id, defaults={"name": f"Account {client_id}"})
    return Flow.objects.create(account=account, flow_id=flow_id, security_id=security_id, kind=kind, mode=mode,
                               **fields)


def phone(index: int) -> str:
    """A distinct valid Indian mobile number per index."""
    return f"9198{index:08d}"


def make_contact_list(flow: Flow, count: int, *, first: int = 0, name="list") -> ContactList:
    contact_list = ContactList.objects.create(
        flow=flow, name=name, status=ContactList.Status.IMPORTED, imported_count=count, rows_done=count
    )
    Contact.objects.bulk_create(
        [
            Contact(contact_list=contact_list, line=i + 2, primary_number=phone(first + i),
                    numbers=[phone(first + i)], variables={"name": f"Customer {first + i}"})
            for i in range(count)
        ],
        batch_size=5000,
    )
    return contact_list


def make_placed_campaign(
    flow: Flow, count: int, *, token: str, uuid: Callable[[int, Contact], str], name: str = "c"
) -> Campaign:
    """A running campaign whose `count` calls the provider placed, each with the uuid `uuid(index,
    contact)` gives, and its tallies counted: what reports are applied against."""
    contact_list = make_contact_list(flow, count)
    campaign = Campaign.objects.create(name=name, contact_list=contact_list, flow=flow, token=token, status="running")
    Call.objects.bulk_create(
        [
            Call(campaign=campaign, contact=contact, client_identifier=f"{token}-{contact.pk}",
                 state=Call.State.PLACED, phonon_uuid=uuid(index, contact))
            for index, contact in enumerate(contact_list.contacts.order_by("id"))
        ]
    )
    calls_recount(campaign_id=campaign.pk)
    return campaign
