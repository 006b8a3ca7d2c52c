"""Glue between domain errors and the HTTP faces."""

import re

from django import forms
from django.contrib import messages

from .errors import DomainError, ValidationFailed


def apply_domain_error(
    form: forms.BaseForm, exc: DomainError, *, field_map: dict[str, str] | None = None
) -> None:
    """Put a service's refusal on the form: next to the field it names, else on the form.

    ``field_map`` translates service field names into form field names."""
    field_map = field_map or {}
    items = (
        exc.errors.items()
        if isinstance(exc, ValidationFailed)
        else [(exc.field or "", [exc.message])]
    )
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


_ID = re.compile(r"[0-9]{1,18}")


def id_or_none(raw) -> int | None:
    """A row id sent by a form or a link, or None when it is not one. ASCII digits only
    (``str.isdigit()`` accepts "²", which ``int()`` refuses, and an Arabic-Indic one, which
    ``int()`` reads as 1),
    at most 18 of them, so it fits a bigint."""
    if isinstance(raw, str) and _ID.fullmatch(raw):
        return int(raw)
    return None
