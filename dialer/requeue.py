"""Give a campaign's failed batches another go (an admin action, after the cause is fixed).

A batch fails once its retries ran out on transient errors (500s, timeouts, resets); its calls were
then marked skipped. Re-queueing puts the batch back to `planned` with its attempts counted from
zero and its skipped calls back to `pending`, so the ordinary dispatch sends it again.

The frozen body is kept on purpose: some of those sends may have reached the provider, and only
the same bytes may ever be sent again (the provider drops an identical resend with code 201, so
nobody is dialled twice). `maybe_delivered` is kept for the same reason.
"""

from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign
from dialer import tallies
from dialer.models import Batch, Call


class RequeueRefused(Exception):
    """The campaign cannot take its failed batches back; the message says why."""


def batches_requeue_failed(*, campaign: Campaign) -> int:
    """Re-queue the campaign's FAILED batches; return how many. Raises RequeueRefused when the
    campaign is cancelled (its calls must stay unsent)."""
    now = timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status == Campaign.Status.CANCELLED:
            raise RequeueRefused("A cancelled campaign's batches cannot be sent again.")
        failed_ids = list(
            Batch.objects.filter(campaign=campaign, status=Batch.Status.FAILED).values_list("pk", flat=True)
        )
        if not failed_ids:
            return 0
        Batch.objects.filter(pk__in=failed_ids, status=Batch.Status.FAILED).update(
            status=Batch.Status.PLANNED, attempts=0, next_attempt_at=None, completed_at=None,
            claim_token="", lease_until=None, queued_at=None, updated_at=now,
        )
        requeued = Call.objects.filter(batch_id__in=failed_ids, state=Call.State.SKIPPED).update(
            state=Call.State.PENDING, provider_code=None, provider_message="", updated_at=now
        )
        tallies.calls_moved(campaign_id=campaign.pk, moves={(Call.State.SKIPPED, Call.State.PENDING): requeued})
        if campaign.status == Campaign.Status.COMPLETED:
            # The state machine has no completed -> running edge, deliberately: nothing else may
            # reopen a finished campaign. Re-queueing is the one case where it has work again, so
            # the status is set directly, and only from `completed` (compare-and-set).
            Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.COMPLETED).update(
                status=Campaign.Status.RUNNING, finished_at=None, updated_at=now,
                status_reason=f"Reopened: {len(failed_ids)} failed batch(es) re-queued by an admin.",
            )
    return len(failed_ids)
