"""Manager pages for API keys and webhooks: create (secret shown once), list, revoke or delete, and
each endpoint's delivery log with "send again". Another account's object is a 404."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from api.forms import ApiKeyForm, WebhookForm
from api.keys import api_key_create, api_key_revoke
from api.models import AccountAPIKey
from api.webhooks.delivery import delivery_send_again
from api.webhooks.endpoints import webhook_endpoint_create
from api.webhooks.models import Delivery, WebhookEndpoint
from campaigns.access import accounts_for

DELIVERIES_PER_PAGE = 25


def _render(request, template, context, status=200):
    with timezone.override(settings.PHONON_TIMEZONE):
        return render(request, template, context, status=status)


@login_required
def key_index(request):
    accounts = accounts_for(request.user)
    form = ApiKeyForm(request.POST or None, accounts=accounts)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            api_key, key = api_key_create(
                account=form.cleaned_data["account"], name=form.cleaned_data["name"], created_by=request.user
            )
        except ValueError as error:
            form.add_error("name", str(error))
        else:
            # Rendered, not redirected: the whole key appears in this answer and nowhere else.
            created = {"api_key": api_key, "key": key}
            form = ApiKeyForm(accounts=accounts)
    keys = AccountAPIKey.objects.filter(account__in=accounts).select_related("account").order_by("revoked", "-created")
    status = 400 if request.method == "POST" and not created else 200
    return _render(request, "api/key_index.html", {"form": form, "keys": keys, "created": created}, status)


@login_required
@require_POST
def key_revoke(request, prefix):
    api_key = get_object_or_404(AccountAPIKey, prefix=prefix, account__in=accounts_for(request.user))
    api_key_revoke(api_key=api_key)
    messages.success(request, f"The key “{api_key.name}” ({api_key.prefix}…) is revoked.")
    return redirect("api_key_index")


@login_required
def webhook_index(request):
    accounts = accounts_for(request.user)
    form = WebhookForm(request.POST or None, accounts=accounts)
    created = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            endpoint, secret = webhook_endpoint_create(
                account=data["account"], url=data["url"], events=data["events"], description=data["description"],
                created_by=request.user,
            )
        except ValueError as error:
            form.add_error("url", str(error))
        else:
            created = {"endpoint": endpoint, "secret": secret}
            form = WebhookForm(accounts=accounts)
    endpoints = WebhookEndpoint.objects.filter(account__in=accounts).select_related("account")
    status = 400 if request.method == "POST" and not created else 200
    return _render(request, "api/webhook_index.html", {"form": form, "endpoints": endpoints, "created": created},
                   status)


def _endpoint_or_404(request, pk) -> WebhookEndpoint:
    return get_object_or_404(WebhookEndpoint, pk=pk, account__in=accounts_for(request.user))


@login_required
def webhook_detail(request, pk):
    endpoint = _endpoint_or_404(request, pk)
    deliveries = endpoint.deliveries.select_related("event").prefetch_related("attempt_log")
    page_obj = Paginator(deliveries, DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    return _render(request, "api/webhook_detail.html", {"endpoint": endpoint, "page_obj": page_obj})


@login_required
@require_POST
def webhook_delete(request, pk):
    endpoint = _endpoint_or_404(request, pk)
    endpoint.delete()
    messages.success(request, f"The webhook {endpoint.url} is deleted; nothing more is sent to it.")
    return redirect("webhook_index")


@login_required
@require_POST
def delivery_send_again_view(request, pk):
    delivery = get_object_or_404(Delivery, pk=pk, endpoint__account__in=accounts_for(request.user))
    delivery_send_again(delivery=delivery)
    messages.success(request, f"The {delivery.event.type} event will be sent again in a few seconds.")
    return redirect("webhook_detail", pk=delivery.endpoint_id)
