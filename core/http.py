"""Glue between domain errors and the HTTP faces."""

from django import forms
from django.contrib import messages

from .errors import DomainError, ValidationFailed


def apply_domain_error(form: forms.BaseForm, exc: DomainError, *, field_map: dict[str, str] | None = None) -> None:
    """Put a service's refusal on the form: next to the field it names, else on the form.

    ``field_map`` translates service field names into form field names."""
    field_map = field_map or {}
    items = exc.errors.items() if isinstance(exc, ValidationFailed) else [(exc.field or "", [exc.message])]
    for name, msgs in items:
        target = field_map.get(name, name)
        if target not in form.fields:
            target = None
        for msg in msgs:
            form.add_error(target, msg)


def flash_domain_error(request, exc: DomainError) -> None:
    if isinstance(exc, ValidationFailed):
        for msgs in exc.errors.values():
            for msg in msgs:
                messages.error(request, msg)
    else:
        messages.error(request, exc.message)
