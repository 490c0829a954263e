"""Admin for API keys (created here too: the key is shown once), webhook endpoints and deliveries."""

from django import forms
from django.contrib import admin, messages
from rest_framework_api_key.models import APIKey

from api.keys import api_key_create
from api.models import AccountAPIKey
from api.webhooks.delivery import delivery_send_again
from api.webhooks.endpoints import webhook_endpoint_create, webhook_endpoint_validate
from api.webhooks.models import Delivery, DeliveryAttempt, WebhookEndpoint
from flows.account_scope import AccountScopedAdmin, only_related

# The library's own key model has no account; ours replaces it, so it stays out of admin.
admin.site.unregister(APIKey)


@admin.register(AccountAPIKey)
class AccountAPIKeyAdmin(AccountScopedAdmin, admin.ModelAdmin):
    list_display = ("name", "prefix", "account", "created", "last_used_at", "revoked")
    list_filter = ("revoked", only_related("account"))
    search_fields = ("name", "prefix", "account__client_id", "account__name")
    fields = ("account", "name", "prefix", "created", "created_by", "last_used_at", "expiry_date", "revoked")

    def get_readonly_fields(self, request, obj=None):
        # An existing key changes only by being revoked (for good) or given an expiry.
        base = ("prefix", "created", "created_by", "last_used_at")
        return base + (("account", "name") if obj else ())

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
            return
        api_key, key = api_key_create(account=obj.account, name=obj.name, created_by=request.user)
        if obj.expiry_date:
            AccountAPIKey.objects.filter(pk=api_key.pk).update(expiry_date=obj.expiry_date)
        obj.pk, obj.prefix = api_key.pk, api_key.prefix
        messages.warning(request, f"The API key for “{api_key.name}” is {key} — copy it now: it is never shown again.")


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ("account", "url", "events", "description", "active")

    def clean(self):
        cleaned = super().clean()
        try:
            cleaned["url"], cleaned["events"] = webhook_endpoint_validate(
                url=cleaned.get("url", ""), events=cleaned.get("events") or []
            )
        except ValueError as error:
            raise forms.ValidationError(str(error)) from error
        return cleaned


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(AccountScopedAdmin, admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "account", "events", "active", "created_at")
    list_filter = ("active", only_related("account"))
    search_fields = ("url", "account__client_id", "account__name")

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
            return
        endpoint, secret = webhook_endpoint_create(
            account=obj.account, url=obj.url, events=obj.events, description=obj.description, created_by=request.user,
        )
        obj.pk = endpoint.pk
        messages.warning(request, f"The signing secret of {endpoint.url} is {secret} — copy it now: it is never "
                                  "shown again.")


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ("number", "started_at", "status_code", "duration_ms", "error", "response_excerpt")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(AccountScopedAdmin, admin.ModelAdmin):
    account_path = "endpoint__account"
    list_display = ("event", "endpoint", "status", "attempts", "last_status_code", "next_attempt_at", "delivered_at")
    list_filter = ("status", only_related("endpoint__account"))
    readonly_fields = (
        "event", "endpoint", "status", "body", "attempts", "next_attempt_at", "give_up_at", "last_status_code",
        "delivered_at", "created_at",
    )
    exclude = ("claim_token", "lease_until")
    inlines = [DeliveryAttemptInline]
    actions = ["send_again"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Send again", permissions=["change"])
    def send_again(self, request, queryset):
        for delivery in queryset:
            delivery_send_again(delivery=delivery)
        self.message_user(request, f"{queryset.count()} deliveries will be sent again.")
