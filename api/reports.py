"""The delivery-report receiver: the per-flow secret URL the provider pushes outcomes to.

A thin view over dialer.outcomes.receiving.report_take: it answers as soon as the body is stored
(any 2xx means stored) and leaves the applying to a worker. No login and no CSRF token: the
provider sends neither; the secret in the URL and the checks on the body are the protection.
Under gunicorn a POST to this URL is answered by api.report_wsgi instead, past the middleware
(config/wsgi.py); this view answers it anywhere else (runserver, tests' live server).
"""

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.client_address import client_address
from dialer.outcomes import receiving


@csrf_exempt
@login_not_required
@require_POST
def outcome_report(request, token):
    body = request.read(receiving.body_read_limit())
    answer = receiving.report_take(token=token, body=body, remote_addr=client_address(request))
    return JsonResponse(answer.payload, status=answer.status)
