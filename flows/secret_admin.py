"""Secrets in admin for staff who may only view: each secret field is shown masked (`••••1234`),
never as the decrypted value that Django's read-only rendering would print."""

from django.contrib import admin

from flows.encrypted_fields import mask_secret


def _masked(field_name: str, label: str):
    @admin.display(description=label)
    def show(obj):
        return mask_secret(getattr(obj, field_name, "") or "") or "(none stored)"

    return show


class MaskedSecretsAdmin(admin.ModelAdmin):
    secret_fields: tuple[str, ...] = ()

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        for name in self.secret_fields:
            label = str(model._meta.get_field(name).verbose_name)
            setattr(self, f"masked_{name}", _masked(name, label))

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
