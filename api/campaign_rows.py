"""Contacts added to a campaign while it runs (Amazon Connect's PutDialRequestBatch): rows checked
by the importer's own header and row rules, stored as further lines of the campaign's list, and
planned by the campaign's planner, so each is dialled, or skipped, under the same rules as the rest
(do-not-call, the dialling cap, contacts recently called, the window). Every row gets its answer.
"""

import datetime
import json
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from api.rows import check_rows_fit
from campaigns.importing import FileRefused, Limits, parse_header
from campaigns.importing.checking import Rejected, RowChecker, raw_json
from campaigns.importing.writing import contact_rows
from campaigns.models import Campaign, Contact, ContactList, RejectedRow
from dialer.campaign_actions import ActionRefused, campaign_plan_soon

ADDABLE = (Campaign.Status.SCHEDULED, Campaign.Status.RUNNING, Campaign.Status.PAUSED)


@dataclass(frozen=True)
class RowAnswer:
    row: int  # index in the request
    accepted: bool
    line: int  # the row's line in the list (its rejected-row report, the calls' `line`)
    contact_id: int | None = None
    column: str = ""
    reason: str = ""


def _cells(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    header: dict[str, None] = {}
    for row in rows:
        header.update(dict.fromkeys(row))
    names = list(header)
    return names, [["" if row.get(name) is None else str(row[name]) for name in names] for row in rows]


def campaign_contacts_add(*, campaign: Campaign, rows: list[dict]) -> list[RowAnswer]:
    """Add rows to a scheduled, running or paused campaign. Raises ActionRefused (its state, or its
    list shared with another unfinished campaign) or ValueError (rows no list could hold) in words."""
    limits = Limits.from_settings(from_rows=True)
    check_rows_fit(rows, limits)
    names, cells = _cells(rows)
    try:
        header = parse_header(names, limits)
    except FileRefused as refusal:
        raise ValueError(refusal.message.replace("The header", "The rows' keys")) from refusal
    zone = ZoneInfo(settings.PHONON_TIMEZONE)
    with transaction.atomic():
        # The campaign's row, held to the commit: its planner and its completion wait for these rows.
        locked = Campaign.objects.select_for_update().filter(pk=campaign.pk).values_list("status", flat=True).first()
        if locked not in ADDABLE:
            raise ActionRefused(
                f"Contacts are added to a scheduled, running or paused campaign; this one is {locked}."
            )
        sharing = (
            Campaign.objects.filter(contact_list_id=campaign.contact_list_id)
            .exclude(pk=campaign.pk)
            .exclude(status__in=Campaign.FINAL_STATUSES)
            .values_list("pk", flat=True)
            .first()
        )
        if sharing is not None:
            raise ActionRefused(
                f"Campaign {sharing} calls the same list and has not finished; contacts added here would be "
                "called by both. Add them once it ends, or launch them as a new list."
            )
        answers = _store(campaign, header, cells, zone, limits)
        if any(answer.accepted for answer in answers):
            # Planned again from the last contact it planned: the new lines come after every old one.
            Campaign.objects.filter(pk=campaign.pk).update(planned_at=None, updated_at=timezone.now())
            campaign_plan_soon(campaign_id=campaign.pk)
    return answers


def _store(campaign, header, cells, zone, limits) -> list[RowAnswer]:
    contact_list = campaign.contact_list
    last_line = max(
        Contact.objects.filter(contact_list=contact_list).aggregate(last=Max("line"))["last"] or 1,
        RejectedRow.objects.filter(contact_list=contact_list).aggregate(last=Max("line"))["last"] or 1,
    )
    if contact_list.imported_count + len(cells) > limits.max_rows:
        raise ValueError(
            f"A list holds at most {limits.max_rows:,} rows; this one has {contact_list.imported_count:,}."
        )
    today = timezone.now().astimezone(zone).date()
    checker = RowChecker(
        header, None, settings.PHONON_DEFAULT_REGION, zone, today, datetime.datetime.isoformat, contact_list.pk
    )
    checked = checker.check([(last_line + 1 + index, row) for index, row in enumerate(cells)])
    # Contacts come back as lines of COPY text; contact_rows reads them as a COPY would.
    kept = {int(row[1]): row for row in contact_rows(checked.contacts)}
    refused = {reject.line: reject for reject in checked.rejects}
    first_lines = dict(
        # Latest first, so that the dict keeps each number's first line.
        Contact.objects.filter(contact_list=contact_list, primary_number__in=[row[2] for row in kept.values()])
        .order_by("-line")
        .values_list("primary_number", "line")
    )
    contacts, rejects, answers = [], [], []
    for index in range(len(cells)):
        line = last_line + 1 + index
        row = kept.get(line)
        if row is not None:
            primary = row[2]
            if primary not in first_lines:
                first_lines[primary] = line
                contact = Contact(
                    contact_list=contact_list,
                    line=line,
                    primary_number=primary,
                    numbers=json.loads(row[3]),
                    variables=json.loads(row[4]),
                    start_at=row[5] and datetime.datetime.fromisoformat(row[5]),
                    external_id=row[6],
                )
                contacts.append((index, contact))
                continue
            reason = f"{primary} is already in this list at line {first_lines[primary]}."
            reject = Rejected(contact_list.pk, line, "tel1", primary, reason, raw_json(cells[index]))
        else:
            reject = refused[line]
        rejects.append(
            RejectedRow(
                contact_list=contact_list,
                line=line,
                column=reject.column,
                value=reject.value,
                reason=reject.reason,
                raw=reject.raw,
            )
        )
        answers.append(RowAnswer(row=index, accepted=False, line=line, column=reject.column, reason=reject.reason))
    Contact.objects.bulk_create([contact for _, contact in contacts])
    RejectedRow.objects.bulk_create(rejects)
    created = Contact.objects.filter(contact_list=contact_list, line__gt=last_line).values_list("line", "pk")
    ids = dict(created)
    answers += [
        RowAnswer(row=index, accepted=True, line=contact.line, contact_id=ids[contact.line])
        for index, contact in contacts
    ]
    ContactList.objects.filter(pk=contact_list.pk).update(
        imported_count=F("imported_count") + len(contacts), rejected_count=F("rejected_count") + len(rejects)
    )
    return sorted(answers, key=lambda answer: answer.row)
