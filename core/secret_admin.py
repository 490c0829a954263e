"""Secrets in admin for staff who may only view: each secret field is shown masked (`••••1234`, or only
"stored" where even the last characters are not to be shown, as for passwords), never as the decrypted
value that Django's read-only rendering would print. The flow's mail intake token is masked the same way."""

import re

from django.contrib import admin

from core.encrypted_fields import mask_secret

STORED = "stored"


def _masked(field_name: str, label: str, last_four: bool):
    @admin.display(description=label)
    def show(obj):
        value = getattr(obj, field_name, "") or ""
        if not value:
            return "(none stored)"
        return mask_secret(value) if last_four else STORED

    return show


# `<flow-id>.<token>@`: the token of an intake address (MAIL_INTAKE_PATTERN).
INTAKE_TOKEN_RE = re.compile(r"(?<=[A-Za-z0-9]{8}\.)[A-Za-z0-9]+(?=@)")


def mask_intake_tokens(text: str) -> str:
    """`text` (an intake address, or addresses) with every intake token replaced by `••••`."""
    return INTAKE_TOKEN_RE.sub("••••", text or "")


class MaskedSecretsAdmin(admin.ModelAdmin):
    secret_fields: tuple[str, ...] = ()
    show_last_four = True  # False: a view-only page says only that a secret is stored

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        for name in self.secret_fields:
            label = str(model._meta.get_field(name).verbose_name)
            setattr(self, f"masked_{name}", _masked(name, label, self.show_last_four))

    def _view_only(self, request, obj) -> bool:
        return obj is not None and not self.has_change_permission(request, obj)

    def _swap(self, names):
        return [f"masked_{name}" if name in self.secret_fields else name for name in names]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not self._view_only(request, obj):
            return fieldsets
        return [(title, {**options, "fields": self._swap(options["fields"])}) for title, options in fieldsets]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if self._view_only(request, obj):
            readonly += [f"masked_{name}" for name in self.secret_fields]
        return readonly
