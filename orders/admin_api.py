"""API tokens in the back office: managers create one per integration (the token is shown
once, on the page that follows), see when each was last used, and revoke them."""

from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from core.admin import BackOfficeAdmin, badge, run_per_object, short_time, time_column

from .models import ApiToken, SalesChannel
from .tokens import api_token_create, api_token_revoke


class TokenStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["name", "channel"]
        help_texts = {
            "name": "The integration that will use it, e.g. “Marketplace sync” or “ERP stock feed”.",
            "channel": "Orders placed with this token belong to this channel; it reads only this channel's orders.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "channel" in self.fields:
            self.fields["channel"].queryset = SalesChannel.objects.filter(active=True).order_by(
                "name"
            )


@admin.register(ApiToken)
class ApiTokenAdmin(BackOfficeAdmin):
    """Bearer tokens of the JSON API. Only a hash is stored: a lost token is revoked and
    replaced, never shown again."""

    form = ApiTokenForm
    list_display = [
        "name",
        "prefix_display",
        "channel",
        "created",
        "created_by",
        "last_used",
        "state",
    ]
    list_filter = [TokenStateFilter, "channel"]
    search_fields = ["name", "prefix", "channel__name"]
    list_select_related = ["channel", "created_by"]
    created = time_column("created_at", "Created")
    last_used = time_column("last_used_at", "Last used")
    actions = ["revoke_tokens"]
    object_actions = ("revoke_tokens",)
    allow_delete = False  # revoke instead: the key history stays
    ordering = ["revoked_at", "name"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "channel"]
        return ["name", "channel", "prefix_display", "created_by", "created", "last_used", "state"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["channel", "prefix_display", "created_by", "created", "last_used", "state"]

    def object_action_available(self, obj, name):
        return obj.revoked_at is None

    @admin.display(description="Token", ordering="prefix")
    def prefix_display(self, obj):
        return format_html('<span class="ol-mono">{}…</span>', obj.prefix) if obj.prefix else "-"

    @admin.display(description="State", ordering="revoked_at")
    def state(self, obj):
        if obj.revoked_at:
            return format_html(
                '{} <span class="ol-muted">{}</span>',
                badge("cancelled", "Revoked"),
                short_time(obj.revoked_at),
            )
        return badge("paid", "Active")

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)  # only the name changes here
            return
        token, raw = api_token_create(name=obj.name, channel=obj.channel, actor=request.user)
        obj.pk, obj.token_hash, obj.prefix = token.pk, token.token_hash, token.prefix
        obj.created_at, obj.updated_at, obj.created_by = (
            token.created_at,
            token.updated_at,
            token.created_by,
        )
        obj._state.adding = False
        request._orderline_new_token = raw

    def response_add(self, request, obj, post_url_continue=None):
        raw = getattr(request, "_orderline_new_token", None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "title": f"API token for {obj.name}",
            "subtitle": None,
            "opts": self.opts,
            "token": obj,
            "raw_token": raw,
            "docs_url": reverse("api:docs"),
            "change_url": reverse("admin:orders_apitoken_change", args=[obj.pk]),
            "list_url": reverse("admin:orders_apitoken_changelist"),
        }
        response = TemplateResponse(request, "api/token_created.html", context)
        response["Cache-Control"] = "no-store"  # the token must not stay in any cache
        return response

    @admin.action(description="Revoke", permissions=["corrections"])
    def revoke_tokens(self, request, queryset):
        run_per_object(
            self,
            request,
            queryset,
            lambda token: api_token_revoke(token=token, actor=request.user),
            done="revoked: requests with it are refused from now on.",
            skip=lambda token: "it was revoked already." if token.revoked_at else None,
        )

    revoke_tokens.danger = True
    revoke_tokens.button_label = "Revoke token"
