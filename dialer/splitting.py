"""Bisection: a request refused whole for what one call may cause is sent again in halves.

The provider may answer 205, 210, 400 or 402 for a whole request because of one call in it, and
then places none of them. Such a batch becomes `split`: its calls move into two child batches,
each a new request with its own body (a new checksum: safe, because nothing of the parent was
placed). The children go through the ordinary claim, limiter and write-back, so a child refused
in turn is split again, until each offending call stands alone and is rejected with the code,
while every good call is placed. DISPATCH_SPLIT_MAX_DEPTH caps the halvings.
"""

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from campaigns.models import Campaign
from dialer.claims import claimed
from dialer.models import Batch, Call
from phonon import client

S = Batch.Status


def why_not_split(*, batch: Batch, answer: client.Answer) -> str | None:
    """None when this whole-request refusal may be sent again in halves; otherwise why not, in
    words ("" for a call standing alone: there is nothing left to halve)."""
    if answer.call_details:
        return "The provider's answer named calls, so the request was not sent again in halves."
    if batch.call_count < 2:
        return ""
    if batch.depth >= settings.DISPATCH_SPLIT_MAX_DEPTH:
        return (
            f"Not sent again in halves: it was halved {batch.depth} time{'' if batch.depth == 1 else 's'} already, "
            "the most allowed (DISPATCH_SPLIT_MAX_DEPTH)."
        )
    if batch.an_attempt_went_unanswered():
        # The provider may have placed that send; new bytes made from it could dial someone twice.
        return (
            "Not sent again in halves: an earlier send of it went unanswered and may have been placed, "
            "so only its same bytes may ever be sent."
        )
    return None


def batch_split(*, batch: Batch, token: str, answer: client.Answer, message: str) -> str:
    """Mark the batch split and move its pending calls into two new planned halves."""
    now = timezone.now()
    with transaction.atomic():
        # The campaign row is the lock under which new sequence numbers are taken.
        Campaign.objects.select_for_update().filter(pk=batch.campaign_id).first()
        call_ids = list(
            Call.objects.filter(batch=batch, state=Call.State.PENDING).order_by("id").values_list("pk", flat=True)
        )
        if len(call_ids) < 2:
            return "already-final"  # a late answer from another send settled the calls meanwhile
        halves = [call_ids[: len(call_ids) // 2], call_ids[len(call_ids) // 2 :]]
        if not claimed(batch.pk, token).update(
            status=S.SPLIT, response_code=answer.code, response_message=_split_message(message, halves),
            request_id=answer.request_id or F("request_id"), completed_at=now, claim_token="", lease_until=None,
            updated_at=now,
        ):
            return "lost-claim"
        last = Batch.objects.filter(campaign_id=batch.campaign_id).aggregate(last=Max("sequence"))["last"]
        for offset, ids in enumerate(halves, start=1):
            child = Batch.objects.create(
                campaign_id=batch.campaign_id, parent=batch, depth=batch.depth + 1, sequence=last + offset,
                endpoint=batch.endpoint, call_count=len(ids), status=S.PLANNED,
            )
            Call.objects.filter(pk__in=ids).update(batch=child, updated_at=now)
    return "split"


def _split_message(message: str, halves: list[list[int]]) -> str:
    sizes = " and ".join(str(len(ids)) for ids in halves)
    return f"{message} Nothing was placed; sent again as two requests of {sizes} calls to find the calls refused."
