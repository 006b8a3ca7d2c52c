"""The back office (Django admin): corrections by managers.

Every app's admin builds on :class:`BackOfficeAdmin`:

- Managers (the ``manager`` role; they also need ``is_staff`` to enter /admin/) may use
  every model here without holding Django model permissions; superusers may too.
- Status fields and stock counters are read-only. Corrections go through admin actions
  that call the domain services, report per object, and never half-save.
- An action may ask for input first (a reason, a warehouse and a quantity) on an
  intermediate page: see :func:`form_action`.
- Actions listed in ``object_actions`` are also offered as buttons on the change page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from core import roles
from core.errors import DomainError, ValidationFailed
from core.money import format_money
from core.templatetags.orderline import STATUS_TONES

from .models import Sequence

ACTION_FORM_TEMPLATE = "admin/orderline/action_form.html"


def is_manager(user) -> bool:
    return roles.has_role(user, (roles.MANAGER,))


def domain_error_text(exc: DomainError) -> str:
    if isinstance(exc, ValidationFailed):
        return " ".join(m for msgs in exc.errors.values() for m in msgs)
    return exc.message


def short_time(value) -> str:
    """A compact local date and time for dense lists: 28 Nov 2026 14:05."""
    if value is None:
        return "-"
    local = timezone.localtime(value)
    return format_html(
        '<span class="ol-nowrap" title="{}">{}</span>',
        local.isoformat(),
        local.strftime("%d %b %Y %H:%M"),
    )


def time_column(field: str, description: str):
    """A sortable list column showing ``field`` as :func:`short_time`."""

    @admin.display(description=description, ordering=field)
    def column(self, obj):
        return short_time(getattr(obj, field))

    column.__name__ = f"{field}_short"
    return column


def admin_link(obj, text: str | None = None) -> str:
    """A link to ``obj``'s page in the back office ("-" for nothing)."""
    if obj is None:
        return "-"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text if text is not None else str(obj))


def link_column(field: str, description: str, *, text: str | None = None):
    """A sortable list column linking to the related object ``field``; ``text`` names the
    attribute to show instead of the object's string (e.g. a product's SKU)."""

    @admin.display(description=description, ordering=f"{field}__{text}" if text else field)
    def column(self, obj):
        target = getattr(obj, field)
        return admin_link(target, getattr(target, text) if text and target is not None else None)

    column.__name__ = f"{field}_link"
    return column


def path_column(path: str, description: str):
    """A sortable list column showing a related value, e.g. ``warehouse__code``."""

    @admin.display(description=description, ordering=path)
    def column(self, obj):
        value = obj
        for part in path.split("__"):
            value = getattr(value, part, None) if value is not None else None
        return "-" if value in (None, "") else value

    column.__name__ = path.replace("__", "_")
    return column


def money(amount, currency: str) -> str:
    return "" if amount is None else format_money(amount, currency)


def badge(value: str, label: str) -> str:
    """A status as a small coloured label, coloured as in the staff screens."""
    tone = STATUS_TONES.get(value or "", "neutral")
    return format_html(
        '<span class="ol-badge ol-badge-{}" data-status="{}">{}</span>', tone, value, label
    )


class BackOfficeAdmin(admin.ModelAdmin):
    """Managers may use the back office; ``view_only`` models are never edited here."""

    view_only = False  # no add, change or delete: the model changes only through services
    allow_add = True
    allow_delete = True
    object_actions: tuple[str, ...] = ()  # actions also offered as buttons on the change page
    change_form_template = "admin/orderline/change_form.html"
    list_per_page = 50

    class Media:
        css = {"all": ["css/admin-orderline.css"]}

    def _manager_or(self, request, permitted: bool) -> bool:
        return permitted or is_manager(request.user)

    def has_module_permission(self, request):
        return self._manager_or(request, super().has_module_permission(request))

    def has_view_permission(self, request, obj=None):
        return self._manager_or(request, super().has_view_permission(request, obj))

    def has_add_permission(self, request):
        if self.view_only or not self.allow_add:
            return False
        return self._manager_or(request, super().has_add_permission(request))

    def has_change_permission(self, request, obj=None):
        if self.view_only:
            return False
        return self._manager_or(request, super().has_change_permission(request, obj))

    def has_delete_permission(self, request, obj=None):
        if self.view_only or not self.allow_delete:
            return False
        return self._manager_or(request, super().has_delete_permission(request, obj))

    def has_corrections_permission(self, request) -> bool:
        """Admin actions (which call services) are for managers."""
        return is_manager(request.user)

    # -- actions as buttons on the change page ------------------------------------------

    def object_action_available(self, obj, name: str) -> bool:
        """Override to offer a button only where it applies (e.g. "Release hold" when held)."""
        return True

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/do/<str:name>/",
                self.admin_site.admin_view(self.object_action_view),
                name="{}_{}_object_action".format(*info),
            ),
            *super().get_urls(),
        ]

    def object_action_view(self, request, object_id, name):
        if request.method != "POST":
            return HttpResponseRedirect(self._change_url(object_id))
        if name not in self.object_actions:
            raise Http404("No such action.")
        actions = self.get_actions(request)
        if name not in actions:
            raise PermissionDenied
        func = actions[name][0]
        queryset = self.get_queryset(request).filter(pk=object_id)
        if not queryset.exists():
            raise Http404("No such object.")
        request.orderline_object_action = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_object_action",
            args=[object_id, name],
        )
        response = func(self, request, queryset)
        return response or HttpResponseRedirect(self._change_url(object_id))

    def _change_url(self, object_id) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[object_id]
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        obj = self.get_object(request, object_id)
        buttons = []
        if obj is not None and self.object_actions:
            actions = self.get_actions(request)
            info = self.opts.app_label, self.opts.model_name
            for name in self.object_actions:
                if name in actions and self.object_action_available(obj, name):
                    buttons.append(
                        {
                            "label": getattr(actions[name][0], "button_label", actions[name][2]),
                            "url": reverse(
                                "admin:{}_{}_object_action".format(*info), args=[obj.pk, name]
                            ),
                            "danger": getattr(actions[name][0], "danger", False),
                        }
                    )
        extra_context["orderline_object_actions"] = buttons
        return super().change_view(request, object_id, form_url, extra_context)


class ReadOnlyInline(admin.TabularInline):
    """Rows shown under their parent, never edited there."""

    extra = 0
    max_num = 0
    can_delete = False
    classes = ["ol-readonly-inline"]
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or is_manager(request.user)


def run_per_object(
    modeladmin,
    request,
    queryset: Iterable,
    apply: Callable,
    *,
    done: str | Callable,
    skip: Callable | None = None,
) -> tuple[int, int]:
    """Call ``apply(obj)`` for each object, each in its own service transaction, and
    report per object: a refusal (DomainError) names the object and says why; ``done``
    (or ``done(obj)``) says what happened.

    ``skip(obj)`` may return a reason to leave an object alone without trying."""
    ok = failed = 0
    for obj in queryset:
        reason = skip(obj) if skip else None
        if reason:
            modeladmin.message_user(request, f"{obj}: skipped, {reason}", messages.WARNING)
            continue
        try:
            apply(obj)
        except DomainError as exc:
            failed += 1
            modeladmin.message_user(request, f"{obj}: {domain_error_text(exc)}", messages.ERROR)
        else:
            ok += 1
            text = done(obj) if callable(done) else done
            modeladmin.message_user(request, f"{obj}: {text}", messages.SUCCESS)
            # The object's History shows who corrected what in the back office.
            modeladmin.log_change(request, obj, f"Back office: {text}")
    return ok, failed


def form_action(
    modeladmin,
    request,
    queryset,
    *,
    form_class: type[forms.Form],
    title: str,
    submit_label: str,
    apply: Callable,
    done: str | Callable,
    intro: str = "",
    skip: Callable | None = None,
    danger: bool = False,
):
    """An action that asks for input first (Django's own delete confirmation works so).

    The first POST (from the changelist's action bar or a change-page button) shows a form
    page listing the chosen objects; submitting it (``apply`` in POST) validates the form
    and calls ``apply(obj, cleaned_data)`` per object (``done`` may be ``done(obj, cleaned_data)``). Returns a response to show, or None
    when done (the admin then goes back to where the action was started)."""
    form = form_class(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        data = form.cleaned_data
        text = (lambda obj: done(obj, data)) if callable(done) else done
        run_per_object(
            modeladmin, request, queryset, lambda obj: apply(obj, data), done=text, skip=skip
        )
        return None
    objects = list(queryset)
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "intro": intro,
        "form": form,
        "objects": objects,
        "opts": opts,
        "app_label": opts.app_label,
        "action": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "form_url": getattr(request, "orderline_object_action", ""),
        "back_url": (
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[objects[0].pk])
            if getattr(request, "orderline_object_action", "") and objects
            else reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        ),
        "submit_label": submit_label,
        "danger": danger,
        "media": modeladmin.media + form.media,
    }
    return TemplateResponse(request, ACTION_FORM_TEMPLATE, context)


def reason_form(
    *, required: str, help_text: str = "Written to each order's timeline."
) -> type[forms.Form]:
    """A one-field form asking why (the services refuse an empty reason too)."""

    class ReasonForm(forms.Form):
        reason = forms.CharField(
            max_length=255,
            widget=forms.TextInput(attrs={"size": 70, "autofocus": True}),
            help_text=help_text,
            error_messages={"required": required},
        )

    return ReasonForm


@admin.register(Sequence)
class SequenceAdmin(BackOfficeAdmin):
    """Numbering series (orders, shipments, invoices...). Gapless: never edited by hand."""

    view_only = True
    list_display = ["name", "last_value"]
    search_fields = ["name"]
    ordering = ["name"]
