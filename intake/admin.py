"""Admin for the intake channels. Secrets are write-only: a form shows whether one is stored, never its
value, and leaving the field empty keeps it; staff who may only view see them masked. "Test connection"
needs its own permission (intake.test_connection), since it logs in with the stored secrets."""

from django import forms
from django.contrib import admin, messages

from core.readonly_admin import ReadOnlyAdmin
from core.secret_admin import MaskedSecretsAdmin, mask_intake_tokens
from flows.account_scope import AccountScopedAdmin
from intake.connections import file_intake_check, mail_intake_check
from intake.models import IntakeFile, MailIntake, ProcessedMail, SeenRemoteFile, SftpIntake


class SecretFieldsForm(forms.ModelForm):
    """Secret fields rendered empty; an empty submission keeps the stored value."""

    secret_fields: tuple[str, ...] = ()
    multiline_secrets: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.secret_fields:
            if name not in self.fields:
                continue
            field = self.fields[name]
            stored = getattr(self.instance, name, "") if self.instance.pk else ""
            widget = (
                forms.Textarea(attrs={"rows": 4, "autocomplete": "off"})
                if name in self.multiline_secrets
                else forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
            )
            self.fields[name] = forms.CharField(
                label=field.label, required=field.required and not stored, widget=widget, strip=False,
                help_text="Stored; leave empty to keep it." if stored else field.help_text,
            )
            self.initial[name] = ""

    def clean(self):
        cleaned = super().clean()
        for name in self.secret_fields:
            if name in cleaned and not cleaned[name] and self.instance.pk:
                cleaned[name] = getattr(type(self.instance).objects.get(pk=self.instance.pk), name)
        return cleaned


class MailIntakeForm(SecretFieldsForm):
    secret_fields = ("password", "smtp_password")

    class Meta:
        model = MailIntake
        fields = [
            "name", "enabled", "imap_host", "imap_port", "imap_security", "username", "password", "folder",
            "processed_folder", "smtp_host", "smtp_port", "smtp_security", "smtp_username", "smtp_password",
            "from_address",
        ]


class SftpIntakeForm(SecretFieldsForm):
    secret_fields = ("password", "private_key", "private_key_passphrase")
    multiline_secrets = ("private_key",)

    class Meta:
        model = SftpIntake
        fields = [
            "name", "account", "enabled", "mode", "base_folder", "notify_via", "host", "port", "username",
            "password", "private_key", "private_key_passphrase", "host_key",
        ]


def _report(modeladmin, request, checks):
    for ok, sentence in checks:
        modeladmin.message_user(request, sentence, messages.SUCCESS if ok else messages.ERROR)


class ConnectionTestAdmin(MaskedSecretsAdmin):
    show_last_four = False  # a password's last characters are not shown, even masked
    def has_test_connection_permission(self, request):
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.test_connection_{opts.model_name}")


@admin.register(MailIntake)
class MailIntakeAdmin(ConnectionTestAdmin):
    form = MailIntakeForm
    secret_fields = ("password", "smtp_password")
    list_display = ("name", "username", "imap_host", "folder", "enabled", "last_polled_at", "last_error")
    list_filter = ("enabled",)
    readonly_fields = ("last_polled_at", "last_error", "created_at")
    actions = ["test_connection"]
    fieldsets = (
        (None, {"fields": ("name", "enabled")}),
        ("Reading (IMAP)", {"fields": ("imap_host", "imap_port", "imap_security", "username", "password", "folder",
                                       "processed_folder")}),
        ("Replying (SMTP)", {"fields": ("smtp_host", "smtp_port", "smtp_security", "smtp_username", "smtp_password",
                                        "from_address")}),
        ("State", {"fields": ("last_polled_at", "last_error", "created_at")}),
    )

    @admin.action(description="Test connection (IMAP login and folder, SMTP login)", permissions=["test_connection"])
    def test_connection(self, request, queryset):
        for mailbox in queryset:
            _report(self, request, [(ok, f"{mailbox}: {sentence}") for ok, sentence in mail_intake_check(mailbox)])


@admin.register(SftpIntake)
class SftpIntakeAdmin(AccountScopedAdmin, ConnectionTestAdmin):
    form = SftpIntakeForm
    secret_fields = ("password", "private_key", "private_key_passphrase")
    list_display = ("name", "account", "mode", "host", "base_folder", "enabled", "last_polled_at", "last_error")
    list_filter = ("enabled", "mode")
    readonly_fields = ("last_polled_at", "last_error", "created_at")
    actions = ["test_connection"]
    fieldsets = (
        (None, {"fields": ("name", "account", "enabled", "mode", "base_folder", "notify_via")}),
        ("SFTP server", {"fields": ("host", "port", "username", "password", "private_key", "private_key_passphrase",
                                    "host_key")}),
        ("State", {"fields": ("last_polled_at", "last_error", "created_at")}),
    )

    @admin.action(description="Test connection (host key, login, list Upload)", permissions=["test_connection"])
    def test_connection(self, request, queryset):
        for intake in queryset:
            _report(self, request, [(ok, f"{intake}: {sentence}") for ok, sentence in file_intake_check(intake)])


@admin.register(ProcessedMail)
class ProcessedMailAdmin(AccountScopedAdmin, ReadOnlyAdmin):
    account_path = "flow__account"  # a mail routed to no flow is no account's: only supervisors see it
    list_display = (
        "created_at", "mailbox", "sender", "authenticated", "subject", "flow", "status", "reply_status", "refusal"
    )
    list_filter = ("authenticated", "status", "reply_status", "mailbox")
    search_fields = ("sender", "subject", "message_id")

    def get_fields(self, request, obj=None):
        # The address a mail was delivered to holds the flow's intake token: masked without the right to
        # change flows (who knows the token may mail lists to the flow).
        fields = [name for name in super().get_fields(request, obj) if name != "recipients_masked"]
        if request.user.has_perm("flows.change_flow"):
            return fields
        return ["recipients_masked" if name == "recipients" else name for name in fields]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "recipients_masked"]

    @admin.display(description="recipients")
    def recipients_masked(self, processed):
        return mask_intake_tokens(processed.recipients)


@admin.register(IntakeFile)
class IntakeFileAdmin(AccountScopedAdmin, ReadOnlyAdmin):
    account_path = ("flow__account", "file_intake__account")
    list_display = ("created_at", "channel", "filename", "flow", "contact_list", "outcome_folder", "campaign",
                    "refusal")
    list_filter = ("channel", "outcome_folder")
    search_fields = ("filename",)


@admin.register(SeenRemoteFile)
class SeenRemoteFileAdmin(AccountScopedAdmin, ReadOnlyAdmin):
    account_path = "file_intake__account"
    list_display = ("name", "file_intake", "size", "status", "looked_at", "claimed_at")
    list_filter = ("status",)

