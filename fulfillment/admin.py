from django.contrib import admin
from django.utils.html import format_html

from core.admin import (
    BackOfficeAdmin,
    ReadOnlyInline,
    badge,
    link_column,
    path_column,
    run_per_object,
    time_column,
)

from .choices import SHIPMENT_TRANSITIONS, ShipmentStatus
from .models import Carrier, Shipment, ShipmentLine
from .services import shipment_mark_delivered


@admin.register(Carrier)
class CarrierAdmin(BackOfficeAdmin):
    list_display = ["name", "code", "tracking_url_template", "active"]
    list_filter = ["active"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ["name"]}


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
