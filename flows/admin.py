"""Admin for accounts, flows and DIDs.

The security-id never leaves the server in clear: lists and pages show its last 4 characters
(mask_secret), and the change form's field starts empty; leaving it empty keeps the stored value.
"""

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.utils import timezone

from core.encrypted_fields import mask_secret
from core.secret_admin import MaskedSecretsAdmin, mask_intake_tokens
from flows import services
from flows.account_scope import AccountScopedAdmin, only_related
from flows.models import DID, Account, Flow
from flows.services import flow_intake_address, flow_report_token_rotate, flow_report_url

KEEP_SECRET_HELP = "Leave blank to keep the current one; type a new one to replace it."


class FlowAdminForm(forms.ModelForm):
    security_id = forms.CharField(
        label="security-id", required=False, strip=True,
        # render_value=False: neither the stored secret nor a typed one is ever sent back to the browser.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password", "size": 40}),
    )

    class Meta:
        model = Flow
        fields = (
            "account", "flow_id", "name", "kind", "mode", "api_version", "security_id", "encrypted",
            "encryption_profile", "public_key_pem", "activation_requested_at", "activated_at", "intake_address",
            "allowed_senders", "auto_launch",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["security_id"]
        self.initial.pop("security_id", None)
        if self.instance.pk:
            field.label = "new security-id"
            field.help_text = f"Current: {mask_secret(self.instance.security_id)}. {KEEP_SECRET_HELP}"
        else:
            field.required = True
            field.help_text = "From the flow's Edit Flow page at the provider."

    def clean_security_id(self):
        typed = self.cleaned_data.get("security_id", "")
        if not typed and self.instance.pk:
            # Blank means "keep": the instance still holds the value loaded from the database.
            return Flow.objects.only("security_id").get(pk=self.instance.pk).security_id
        return typed


class DIDInline(admin.TabularInline):
    model = DID
    extra = 1
    fields = ("number", "created_at")
    readonly_fields = ("created_at",)


@admin.register(Account)
class AccountAdmin(AccountScopedAdmin, admin.ModelAdmin):
    account_path = "pk"
    list_display = ("name", "client_id", "holder_email", "flow_count", "manager_names", "dialling_cap", "created_at")
    search_fields = ("name", "client_id", "holder_email", "managers__username")
    filter_horizontal = ("managers",)
    readonly_fields = ("created_at",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_flows=Count("flows", distinct=True)).prefetch_related(
            "managers"
        )

    @admin.display(description="flows", ordering="n_flows")
    def flow_count(self, account):
        return account.n_flows

    @admin.display(description="managers")
    def manager_names(self, account):
        return ", ".join(user.get_username() for user in account.managers.all()) or "–"

    @admin.display(description="dialling cap")
    def dialling_cap(self, account):
        return f"{account.calls_per_number} per {account.cap_days} day{'s' if account.cap_days != 1 else ''}"


@admin.register(Flow)
class FlowAdmin(AccountScopedAdmin, MaskedSecretsAdmin):
    form = FlowAdminForm
    secret_fields = ("security_id",)
    inlines = [DIDInline]
    list_display = (
        "flow_id", "name", "account", "kind", "mode", "api_version", "encrypted", "masked_security_id",
        "did_count", "listener",
    )
    list_filter = (
        "kind", "mode", "api_version", "encrypted", only_related("account"),
        ("activated_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("flow_id", "name", "account__name", "account__client_id", "dids__number")
    list_select_related = ("account",)
    readonly_fields = ("created_at", "updated_at", "intake_address_now", "report_url_now")
    actions = ["mark_activation_requested", "mark_activated", "rotate_intake_address", "rotate_report_url"]
    fieldsets = (
        (None, {"fields": ("account", "flow_id", "name", "kind", "mode", "api_version")}),
        ("Secret", {"fields": ("security_id",)}),
        ("Encrypted endpoint", {"fields": ("encrypted", "encryption_profile", "public_key_pem")}),
        ("Listener", {"fields": ("activation_requested_at", "activated_at")}),
        ("Intake", {"fields": ("intake_address", "intake_address_now", "allowed_senders", "auto_launch")}),
        ("Delivery reports", {"fields": ("report_url_now",)}),
        ("Times", {"fields": ("created_at", "updated_at")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_dids=Count("dids", distinct=True))

    @admin.display(description="security-id")
    def masked_security_id(self, flow):
        return mask_secret(flow.security_id) or "–"

    @admin.display(description="DIDs", ordering="n_dids")
    def did_count(self, flow):
        return flow.n_dids

    @admin.display(description="listener")
    def listener(self, flow):
        if flow.activated_at:
            return f"activated {timezone.localtime(flow.activated_at):%Y-%m-%d}"
        if flow.activation_requested_at:
            return f"requested {timezone.localtime(flow.activation_requested_at):%Y-%m-%d}"
        return "not requested"

    @admin.display(description="mail intake address")
    def intake_address_now(self, flow):
        return flow_intake_address(flow) if flow.pk else "–"

    @admin.display(description="mail intake address")
    def intake_address_masked(self, flow):
        return mask_intake_tokens(flow_intake_address(flow)) if flow.pk else "–"

    def get_fieldsets(self, request, obj=None):
        # Without the right to change the flow, its intake token (who knows it may mail lists) is masked.
        fieldsets = super().get_fieldsets(request, obj)
        if not self._view_only(request, obj):
            return fieldsets
        swap = {"intake_address_now": "intake_address_masked"}
        return [
            (title, {**options, "fields": [swap.get(name, name) for name in options["fields"]]})
            for title, options in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return readonly + ["intake_address_masked"] if self._view_only(request, obj) else readonly

    @admin.action(description="Rotate the mail intake address (the old one stops working)", permissions=["change"])
    def rotate_intake_address(self, request, queryset):
        for flow in queryset:
            services.flow_intake_token_rotate(flow=flow)
        self.message_user(
            request, f"{queryset.count()} flow(s) have a new mail intake address; tell the senders.", messages.SUCCESS
        )

    @admin.display(description="delivery report URL")
    def report_url_now(self, flow):
        return flow_report_url(flow) if flow.pk else "–"

    @admin.action(description="Rotate the delivery report URL (the old one is refused)", permissions=["change"])
    def rotate_report_url(self, request, queryset):
        for flow in queryset:
            flow_report_token_rotate(flow=flow)
        self.message_user(
            request, f"{queryset.count()} flow(s) have a new delivery report URL; give it to the provider.",
            messages.SUCCESS,
        )

    @admin.action(description="Mark activation as requested", permissions=["change"])
    def mark_activation_requested(self, request, queryset):
        for flow in queryset:
            services.flow_mark_activation_requested(flow=flow)
        self.message_user(request, f"{queryset.count()} flow(s) marked as requested.", messages.SUCCESS)

    @admin.action(description="Mark listener as activated", permissions=["change"])
    def mark_activated(self, request, queryset):
        for flow in queryset:
            services.flow_mark_activated(flow=flow)
        self.message_user(request, f"{queryset.count()} flow(s) marked as activated.", messages.SUCCESS)


@admin.register(DID)
class DIDAdmin(AccountScopedAdmin, admin.ModelAdmin):
    account_path = "flow__account"
    list_display = ("number", "flow", "created_at")
    search_fields = ("number", "flow__flow_id", "flow__name")
    list_filter = (only_related("flow__account"),)
    list_select_related = ("flow",)
    autocomplete_fields = ("flow",)


# django-axes' lockout records: its one action deletes records, so it needs the delete permission (the
# library declares none, and a view-only user was offered it).
admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class LoginAttemptAdmin(AccessAttemptAdmin):
    @admin.action(description="Clean up expired attempts", permissions=["delete"])
    def cleanup_expired_attempts(self, request, queryset):
        super().cleanup_expired_attempts(request, queryset)
