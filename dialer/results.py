"""Campaign results as CSV, safe to open in Excel (cells escaped by campaigns.reports.excel_safe)."""

import csv
import tempfile
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Min
from django.utils.text import slugify

from campaigns.models import Contact
from campaigns.reports import excel_safe
from dialer.models import BatchAttempt, Call
from dialer.outcomes.columns import OUTCOME_COLUMNS, OUTCOME_FIELDS, outcome_cells
from dialer.progress import outcome_words
from dialer.redials.history import last_calls
from dialer.redials.survey import key_labels_of, keys_in_words

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
    # For managers: which campaign, when the call's request was first sent (in the campaign's zone),
    # the request's result in words, then what happened to the call (dialer.outcomes: the outcome's
    # machine value, the Q.850 cause and its words, the number that answered, talk time in decimal
    # seconds, the keys pressed in order, the connect time in the campaign's zone), the line of the
    # uploaded file, then the contact's flow variables.
    "campaign",
    "sent_at",
    "result",
    *OUTCOME_COLUMNS,
    "line",
    # How many calls the contact had (redials, dialer.redials): the row describes the last of them.
    # The attempts export (one row per call) names it `attempt`: which of them the row is.
    "attempts",
    # The keys pressed in the manager's words (Campaign.key_labels: 1=confirmed, 2=cancel), in order.
    "keys_in_words",
]


def results_filename(campaign) -> str:
    """`march-reminders_2026-12-02_results.csv`: the campaign's name and the day it started."""
    day = (campaign.started_at or campaign.created_at).astimezone(ZoneInfo(campaign.timezone)).date()
    return f"{slugify(campaign.name)[:80] or 'campaign'}_{day:%Y-%m-%d}_results.csv"


def variable_names(contact_list_id: int) -> list[str]:
    """Every variable name the list's contacts carry, in one query (the JSON keys, not the rows)."""
    table = Contact._meta.db_table
    if connection.vendor == "postgresql":
        sql = f"SELECT DISTINCT jsonb_object_keys(variables) FROM {table} WHERE contact_list_id = %s"
    else:
        sql = f"SELECT DISTINCT j.key FROM {table}, json_each({table}.variables) j WHERE contact_list_id = %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [contact_list_id])
        names = {row[0] for row in cursor.fetchall()}
    first = Contact.objects.filter(contact_list_id=contact_list_id).order_by("id").values_list(
        "variables", flat=True
    ).first() or {}
    # The file's own order where the first contact shows it, then any others alphabetically.
    return [name for name in first if name in names] + sorted(names - set(first))


def export_results_csv(campaign, out, *, every_attempt: bool = False) -> int:
    """Write one row per contact of the campaign (its last call) to the text stream `out`, or with
    `every_attempt` one row per call (each redial too); return the number of rows."""
    zone = ZoneInfo(campaign.timezone)
    names = variable_names(campaign.contact_list_id)
    sent = dict(
        BatchAttempt.objects.filter(batch__campaign=campaign).values("batch_id").annotate(first=Min("created_at"))
        .values_list("batch_id", "first")
    )
    writer = csv.writer(out)
    columns = [*RESULT_COLUMNS[:-2], "attempt", RESULT_COLUMNS[-1]] if every_attempt else RESULT_COLUMNS
    labels = key_labels_of(campaign)
    writer.writerow(columns + [f"$flow.key.{name}" for name in names])
    calls = Call.objects.filter(campaign=campaign)
    calls = (
        (calls if every_attempt else last_calls(campaign, calls))
        .select_related("contact", "batch")
        .order_by("contact_id", "attempt")  # the list's order, read along the (campaign, contact, attempt) key
        .only(
            "client_identifier",
            "state",
            "phonon_uuid",
            "provider_code",
            "provider_message",
            "batch_id",
            "attempt",
            "contact__numbers",
            "contact__primary_number",
            "contact__external_id",
            "contact__line",
            "contact__variables",
            "batch__request_id",
            *OUTCOME_FIELDS,
        )
    )
    count = 0
    for call in calls.iterator(chunk_size=2000):
        contact = call.contact
        sent_at = sent.get(call.batch_id)
        variables = contact.variables or {}
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
                excel_safe(campaign.name),
                sent_at.astimezone(zone).replace(microsecond=0).isoformat() if sent_at else "",
                excel_safe(outcome_words(call.state)),
                *[excel_safe(cell) for cell in outcome_cells(call, zone)],
                contact.line,
                call.attempt,
                excel_safe(keys_in_words(call.keys, labels)),
                *[excel_safe(variables.get(name, "")) for name in names],
            ]
        )
        count += 1
    return count


EXPORT_CHUNK = 64 * 1024


def attempts_filename(campaign) -> str:
    return results_filename(campaign).removesuffix("_results.csv") + "_attempts.csv"


def results_csv_chunks(campaign, *, every_attempt: bool = False):
    """The results CSV as byte chunks for a streaming response. It is written first, inside the
    request where the database connection is ours, to a spooled file (memory up to 4 MB, disk beyond)."""
    spooled = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024, mode="w+", encoding="utf-8", newline="")
    export_results_csv(campaign, spooled, every_attempt=every_attempt)

    def chunks():
        try:
            spooled.seek(0)
            while chunk := spooled.read(EXPORT_CHUNK):
                yield chunk.encode()
        finally:
            spooled.close()

    return chunks()
