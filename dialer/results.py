"""Campaign results as CSV, safe to open in Excel (cells escaped by campaigns.reports.excel_safe)."""

import csv

from campaigns.reports import excel_safe
from dialer.models import Call

RESULT_COLUMNS = [
    "client_identifier",
    "numbers",
    "request_id",
    "phonon_uuid",
    "state",
    "provider_code",
    "provider_message",
    # Beyond the seven documented columns (scripts read those by position): the number as digits
    # only, in its own column, and the client-identifier given in the uploaded file.
    "primary_number",
    "external_id",
]


def export_results_csv(campaign, out) -> int:
    """Write one row per call of the campaign to the text stream `out`; return the number of rows."""
    writer = csv.writer(out)
    writer.writerow(RESULT_COLUMNS)
    calls = (
        Call.objects.filter(campaign=campaign)
        .select_related("contact", "batch")
        .order_by("id")
        .only(
            "client_identifier",
            "state",
            "phonon_uuid",
            "provider_code",
            "provider_message",
            "contact__numbers",
            "contact__primary_number",
            "contact__external_id",
            "batch__request_id",
        )
    )
    count = 0
    for call in calls.iterator(chunk_size=2000):
        contact = call.contact
        writer.writerow(
            [
                excel_safe(call.client_identifier),
                excel_safe(";".join(contact.numbers or [])),
                excel_safe(call.batch.request_id if call.batch else ""),
                excel_safe(call.phonon_uuid),
                excel_safe(call.state),
                excel_safe(call.provider_code),
                excel_safe(call.provider_message),
                "".join(ch for ch in contact.primary_number if ch.isdigit()),
                excel_safe(contact.external_id),
            ]
        )
        count += 1
    return count
