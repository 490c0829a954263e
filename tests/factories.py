"""Small builders for tests that need data without going through an import."""

from campaigns.models import Contact, ContactList
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
