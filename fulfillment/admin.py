from django import forms
from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html

from core.admin import (
    BackOfficeAdmin,
    ReadOnlyInline,
    badge,
    is_manager,
    link_column,
    path_column,
    run_per_object,
    time_column,
)

from .choices import SHIPMENT_TRANSITIONS, ShipmentStatus
from .models import (
    Carrier,
    CarrierService,
    Manifest,
    Shipment,
    ShipmentLine,
    ShippingRate,
    ShippingZone,
    ShippingZoneArea,
)
from .services import shipment_mark_delivered


class ManagerInline(admin.TabularInline):
    """An editable inline for managers (who hold no Django model permissions)."""

    extra = 0

    def has_view_permission(self, request, obj=None):
        return is_manager(request.user) or super().has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return is_manager(request.user) or super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return is_manager(request.user) or super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return is_manager(request.user) or super().has_delete_permission(request, obj)


class CarrierServiceInline(ManagerInline):
    model = CarrierService
    fields = ["code", "name", "shipping_method", "active"]


class CarrierForm(forms.ModelForm):
    webhook_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Shared secret the carrier signs its webhooks with. Leave empty to keep the current one; "
        "EASYPOST_WEBHOOK_SECRET in the environment overrides it.",
    )
    clear_webhook_secret = forms.BooleanField(required=False, label="Remove the webhook secret")

    class Meta:
        model = Carrier
        fields = [
            "name",
            "code",
            "adapter",
            "tracking_url_template",
            "webhook_secret",
            "poll_interval_minutes",
            "active",
        ]

    def clean_webhook_secret(self):
        value = self.cleaned_data.get("webhook_secret", "")
        if self.data.get("clear_webhook_secret"):
            return ""
        return value or (self.instance.webhook_secret if self.instance.pk else "")


@admin.register(Carrier)
class CarrierAdmin(BackOfficeAdmin):
    form = CarrierForm
    list_display = [
        "name",
        "code",
        "adapter",
        "service_count",
        "secret_set",
        "tracking_url_template",
        "active",
    ]
    list_filter = ["active", "adapter"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ["name"]}
    inlines = [CarrierServiceInline]
    fieldsets = [
        (None, {"fields": ["name", "code", "adapter", "active"]}),
        (
            "Tracking",
            {
                "fields": [
                    "tracking_url_template",
                    "poll_interval_minutes",
                    "webhook_secret",
                    "clear_webhook_secret",
                ]
            },
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_services=Count("services"))

    @admin.display(description="Services", ordering="n_services")
    def service_count(self, obj):
        return obj.n_services

    @admin.display(description="Webhook secret", boolean=True)
    def secret_set(self, obj):
        return bool(obj.webhook_secret)


class ShippingZoneAreaInline(ManagerInline):
    model = ShippingZoneArea
    fields = ["country", "postal_prefix"]


@admin.register(ShippingZone)
class ShippingZoneAdmin(BackOfficeAdmin):
    list_display = ["name", "carrier", "areas_list"]
    list_filter = ["carrier"]
    search_fields = ["name", "areas__country", "areas__postal_prefix"]
    inlines = [ShippingZoneAreaInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("carrier").prefetch_related("areas")

    @admin.display(description="Areas")
    def areas_list(self, obj):
        return ", ".join(str(a) for a in obj.areas.all()) or "-"


@admin.register(ShippingRate)
class ShippingRateAdmin(BackOfficeAdmin):
    list_display = ["service", "zone", "max_weight_grams", "price", "currency", "transit_days"]
    list_filter = ["service", "zone", "service__carrier"]
    list_editable = ["price", "transit_days"]
    list_select_related = ["service__carrier", "zone__carrier"]
    search_fields = ["service__name", "zone__name"]
    ordering = ["service__carrier__name", "service__name", "zone__name", "max_weight_grams"]


class ManifestShipmentInline(ReadOnlyInline):
    model = Shipment
    fk_name = "manifest"
    fields = ["number", "tracking_number", "status", "shipped_at"]
    readonly_fields = fields


@admin.register(Manifest)
class ManifestAdmin(BackOfficeAdmin):
    """Closed on the Manifests screen; never edited here."""

    view_only = True
    list_display = ["number", "ship_date", "carrier", "warehouse", "created"]
    created = time_column("created_at", "Closed")
    list_filter = ["carrier", "warehouse", "ship_date"]
    search_fields = ["number", "shipments__tracking_number"]
    list_select_related = ["carrier", "warehouse"]
    inlines = [ManifestShipmentInline]


class ShipmentLineInline(ReadOnlyInline):
    model = ShipmentLine
    fields = ["sku", "item", "quantity", "quantity_picked", "quantity_packed"]
    readonly_fields = fields

    @admin.display(description="SKU")
    def sku(self, obj):
        return obj.order_line.sku

    @admin.display(description="Item")
    def item(self, obj):
        return obj.order_line.name

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order_line")


def _deliverable(shipment) -> bool:
    return ShipmentStatus.DELIVERED in SHIPMENT_TRANSITIONS[shipment.status]


@admin.register(Shipment)
class ShipmentAdmin(BackOfficeAdmin):
    """Parcels: picked, packed and shipped on the warehouse screens; never edited here."""

    view_only = True
    list_display = [
        "number",
        "order_link",
        "warehouse_code",
        "status_badge",
        "carrier",
        "tracking",
        "shipped",
        "delivered",
    ]
    order_link = link_column("order", "Order", text="number")
    warehouse_code = path_column("warehouse__code", "Warehouse")
    shipped = time_column("shipped_at", "Shipped")
    delivered = time_column("delivered_at", "Delivered")
    list_filter = ["status", "warehouse", "carrier"]
    search_fields = ["number", "tracking_number", "order__number", "order__email"]
    list_select_related = ["order", "warehouse", "carrier"]
    date_hierarchy = "created_at"
    inlines = [ShipmentLineInline]
    actions = ["mark_delivered"]
    object_actions = ("mark_delivered",)

    def object_action_available(self, obj, name):
        return _deliverable(obj)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="Tracking", ordering="tracking_number")
    def tracking(self, obj):
        url = obj.tracking_url
        if url:
            return format_html(
                '<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>',
                url,
                obj.tracking_number,
            )
        return obj.tracking_number

    @admin.action(description="Mark delivered", permissions=["corrections"])
    def mark_delivered(self, request, queryset):
        run_per_object(
            self,
            request,
            queryset,
            lambda s: shipment_mark_delivered(
                shipment=s, actor=request.user, note="Marked delivered in the back office"
            ),
            done="delivered.",
            skip=lambda s: None if _deliverable(s) else f"it is {s.get_status_display().lower()}.",
        )


@admin.register(ShipmentLine)
class ShipmentLineAdmin(BackOfficeAdmin):
    view_only = True
    list_display = ["shipment_link", "order_line", "quantity", "quantity_picked", "quantity_packed"]
    shipment_link = link_column("shipment", "Shipment", text="number")
    search_fields = ["shipment__number", "order_line__sku", "order_line__order__number"]
    list_select_related = ["shipment", "order_line"]
