from django.contrib import admin

from core.admin import BackOfficeAdmin, ReadOnlyInline, badge, link_column, money, time_column

from .models import ReturnLine, ReturnRequest


class ReturnLineInline(ReadOnlyInline):
    model = ReturnLine
    fields = ["sku", "item", "quantity", "quantity_received"]
    readonly_fields = fields

    @admin.display(description="SKU")
    def sku(self, obj):
        return obj.order_line.sku

    @admin.display(description="Item")
    def item(self, obj):
        return obj.order_line.name

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order_line")


@admin.register(ReturnRequest)
class ReturnRequestAdmin(BackOfficeAdmin):
    """Returns (RMAs): requested, received and refunded on the returns screens; never edited here."""

    view_only = True
    list_display = [
        "number",
        "order_link",
        "status_badge",
        "reason",
        "source",
        "created",
        "received",
        "refunded",
        "refund",
    ]
    order_link = link_column("order", "Order", text="number")
    created = time_column("created_at", "Created")
    received = time_column("received_at", "Received")
    refunded = time_column("refunded_at", "Refunded")
    list_filter = ["status", "reason", "source", "restock"]
    search_fields = ["number", "order__number", "order__email", "customer_note"]
    list_select_related = ["order"]
    date_hierarchy = "created_at"
    inlines = [ReturnLineInline]

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="Refund amount", ordering="refund_amount")
    def refund(self, obj):
        return money(obj.refund_amount, obj.order.currency)


@admin.register(ReturnLine)
class ReturnLineAdmin(BackOfficeAdmin):
    view_only = True
    list_display = ["return_link", "order_line", "quantity", "quantity_received"]
    return_link = link_column("return_request", "Return", text="number")
    search_fields = ["return_request__number", "order_line__sku", "order_line__order__number"]
    list_select_related = ["return_request", "order_line"]
