"""The delivery-report receiver: the per-flow secret URL the provider pushes outcomes to.

A thin view over dialer.outcomes.receiving: it answers as soon as the body is stored (any 2xx
means stored) and leaves the applying to a worker. No login and no CSRF token: the provider
sends neither; the secret in the URL and the checks on the body are the protection.
"""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from dialer.outcomes import receiving, tasks


@csrf_exempt
@login_not_required
@require_POST
def outcome_report(request, token):
    flow = receiving.flow_for_token(token)
    if flow is None:
        return JsonResponse({"error": "No flow has this report URL (it may have been rotated)."}, status=404)
    remote_addr = request.META.get("REMOTE_ADDR")
    if not receiving.sender_allowed(remote_addr):
        return JsonResponse({"error": "This sender's address is not on the report allow-list."}, status=403)
    # One byte past the limit tells an oversized body; the rest is never read.
    body = request.read(settings.OUTCOME_REPORT_MAX_BYTES + 1)
    received = receiving.report_receive(flow=flow, body=body, remote_addr=remote_addr)
    if received.stored_for_applying:
        tasks.apply_soon()
        return JsonResponse({"status": "stored", "report": received.report_id}, status=received.http_status)
    return JsonResponse({"error": received.message, "report": received.report_id}, status=received.http_status)
