from django.contrib import admin

from core.admin import (
    BackOfficeAdmin,
    ReadOnlyInline,
    badge,
    form_action,
    link_column,
    money,
    reason_form,
    run_per_object,
    short_time,
    time_column,
)
from core.errors import DomainError
from invoicing.services import order_cancel_documented

from .choices import NotificationStatus, OrderStatus
from .models import Notification, Order, OrderEvent, OrderLine, SalesChannel
from .services import notification_send, order_hold, order_release


@admin.register(SalesChannel)
class SalesChannelAdmin(BackOfficeAdmin):
    list_display = ["name", "slug", "kind", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = [
        "line_no",
        "sku",
        "name",
        "price",
        "tax",
        "quantity",
        "reserved",
        "shipped",
        "delivered",
        "returned",
    ]
    readonly_fields = fields
    verbose_name_plural = "Lines (quantities change through shipments and returns)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order")

    @admin.display(description="Unit price")
    def price(self, obj):
        return money(obj.unit_price, obj.order.currency)

    @admin.display(description="Tax")
    def tax(self, obj):
        return f"{obj.tax_rate * 100:.0f} %"

    @admin.display(description="Reserved")
    def reserved(self, obj):
        return obj.quantity_reserved

    @admin.display(description="Shipped")
    def shipped(self, obj):
        return obj.quantity_shipped

    @admin.display(description="Delivered")
    def delivered(self, obj):
        return obj.quantity_delivered

    @admin.display(description="Returned")
    def returned(self, obj):
        return obj.quantity_returned


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["when", "type", "message", "source", "actor", "visible_to_customer"]
    readonly_fields = fields
    ordering = ["created_at", "id"]
    verbose_name_plural = "Timeline"

    @admin.display(description="When")
    def when(self, obj):
        return short_time(obj.created_at)


class NotificationInline(ReadOnlyInline):
    model = Notification
    fields = ["created", "kind", "recipient", "status", "attempts", "sent"]
    readonly_fields = fields
    verbose_name_plural = "Customer emails"
    classes = ["collapse", *ReadOnlyInline.classes]

    @admin.display(description="Queued")
    def created(self, obj):
        return short_time(obj.created_at)

    @admin.display(description="Sent")
    def sent(self, obj):
        return short_time(obj.sent_at)


@admin.register(Order)
class OrderAdmin(BackOfficeAdmin):
    """Orders are placed through Orderline (staff screens, API, channels), not here.

    Contact details and the shipping address can be corrected; statuses, money and lines
    change only through the actions (hold, release, cancel) and the staff screens."""

    list_display = [
        "number",
        "placed",
        "customer_name",
        "channel",
        "total_display",
        "status_badge",
        "fulfillment_badge",
        "payment_badge",
    ]
    placed = time_column("placed_at", "Placed")
    list_filter = ["status", "fulfillment_status", "payment_status", "channel", "ship_country"]
    search_fields = [
        "number",
        "external_id",
        "email",
        "customer__name",
        "ship_name",
        "ship_postal_code",
    ]
    date_hierarchy = "placed_at"
    list_select_related = ["channel", "customer"]
    readonly_fields = [
        "number",
        "channel",
        "external_id",
        "customer",
        "placed",
        "created_by",
        "closed",
        "cancelled",
        "status_badge",
        "fulfillment_badge",
        "payment_badge",
        "hold_reason",
        "cancel_reason",
        "amounts",
    ]
    closed = time_column("closed_at", "Closed")
    cancelled = time_column("cancelled_at", "Cancelled")
    inlines = [OrderLineInline, OrderEventInline, NotificationInline]
    actions = ["hold_orders", "release_orders", "cancel_orders"]
    object_actions = ("hold_orders", "release_orders", "cancel_orders")
    allow_add = False  # orders are placed through the app, the API or a channel
    allow_delete = False  # orders are kept; cancel instead

    def get_fieldsets(self, request, obj=None):
        status = [("status_badge", "fulfillment_badge", "payment_badge")]
        if obj is not None and obj.hold_reason:
            status.append("hold_reason")
        if obj is not None and obj.cancel_reason:
            status += ["cancel_reason", "cancelled"]
        if obj is not None and obj.closed_at:
            status.append("closed")
        return [
            (
                None,
                {
                    "fields": [
                        ("number", "channel", "external_id"),
                        ("placed", "created_by"),
                        "customer",
                    ]
                },
            ),
            (
                "Status",
                {
                    "fields": status,
                    "description": "Statuses change only through the actions above (hold, release, "
                    "cancel) and the staff screens.",
                },
            ),
            ("Money", {"fields": ["amounts"]}),
            ("Contact", {"fields": [("email", "phone")]}),
            (
                "Shipping address",
                {
                    "fields": [
                        "ship_name",
                        "ship_line1",
                        "ship_line2",
                        ("ship_postal_code", "ship_city"),
                        ("ship_region", "ship_country"),
                    ],
                },
            ),
            ("Details", {"fields": [("shipping_method", "payment_method"), "notes"]}),
        ]

    def object_action_available(self, obj, name):
        return {
            "hold_orders": obj.status == OrderStatus.OPEN,
            "release_orders": obj.status == OrderStatus.ON_HOLD,
            "cancel_orders": obj.status
            in (OrderStatus.OPEN, OrderStatus.ON_HOLD, OrderStatus.DRAFT)
            and not obj.lines.filter(quantity_shipped__gt=0).exists(),
        }.get(name, True)

    @admin.display(description="Amounts")
    def amounts(self, obj):
        c = obj.currency
        return (
            f"Subtotal {money(obj.subtotal, c)} · Tax {money(obj.tax_total, c)} · "
            f"Shipping {money(obj.shipping_total, c)} · Total {money(obj.total, c)}"
        )

    @admin.display(description="Customer", ordering="customer__name")
    def customer_name(self, obj):
        return obj.customer.name

    @admin.display(description="Total", ordering="total")
    def total_display(self, obj):
        return money(obj.total, obj.currency)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="Fulfillment", ordering="fulfillment_status")
    def fulfillment_badge(self, obj):
        return badge(obj.fulfillment_status, obj.get_fulfillment_status_display())

    @admin.display(description="Payment", ordering="payment_status")
    def payment_badge(self, obj):
        return badge(obj.payment_status, obj.get_payment_status_display())

    @admin.action(description="Put on hold", permissions=["corrections"])
    def hold_orders(self, request, queryset):
        return form_action(
            self,
            request,
            queryset,
            form_class=reason_form(required="Say why the order is held."),
            title="Put orders on hold",
            intro="Held orders are not picked or shipped until the hold is released. Their stock stays reserved.",
            submit_label="Put on hold",
            done=lambda order, data: f"put on hold ({data['reason'].strip()}).",
            apply=lambda order, data: order_hold(
                order=order, reason=data["reason"], actor=request.user
            ),
            skip=lambda order: (
                None
                if order.status == OrderStatus.OPEN
                else f"it is {order.get_status_display().lower()}."
            ),
        )

    @admin.action(description="Release hold", permissions=["corrections"])
    def release_orders(self, request, queryset):
        run_per_object(
            self,
            request,
            queryset,
            lambda order: order_release(order=order, actor=request.user),
            done="hold released.",
            skip=lambda order: (
                None if order.status == OrderStatus.ON_HOLD else "it is not on hold."
            ),
        )

    @admin.action(description="Cancel orders", permissions=["corrections"])
    def cancel_orders(self, request, queryset):
        return form_action(
            self,
            request,
            queryset,
            form_class=reason_form(required="Say why the order is cancelled."),
            title="Cancel orders",
            intro="Cancelling gives every reserved unit back to stock and emails the customer. It cannot be "
            "undone. Orders that have shipped, even in part, cannot be cancelled; paid orders need a refund "
            "from finance afterwards.",
            submit_label="Cancel orders",
            done=lambda order, data: f"cancelled ({data['reason'].strip()}).",
            danger=True,
            apply=lambda order, data: order_cancel_documented(
                order=order, reason=data["reason"], actor=request.user
            ),
        )

    cancel_orders.danger = True
    cancel_orders.button_label = "Cancel order"


@admin.register(OrderLine)
class OrderLineAdmin(BackOfficeAdmin):
    view_only = True
    list_display = [
        "order_link",
        "line_no",
        "sku",
        "name",
        "quantity",
        "quantity_reserved",
        "quantity_shipped",
        "quantity_delivered",
        "quantity_returned",
    ]
    order_link = link_column("order", "Order", text="number")
    search_fields = ["order__number", "sku", "name"]
    list_select_related = ["order"]


@admin.register(OrderEvent)
class OrderEventAdmin(BackOfficeAdmin):
    """The timeline of every order: written by services only."""

    view_only = True
    list_display = [
        "created",
        "order_link",
        "type",
        "message",
        "source",
        "actor",
        "visible_to_customer",
    ]
    order_link = link_column("order", "Order", text="number")
    created = time_column("created_at", "Created")
    list_filter = ["type", "source", "visible_to_customer"]
    search_fields = ["order__number", "message"]
    list_select_related = ["order", "actor"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    show_full_result_count = False


@admin.register(Notification)
class NotificationAdmin(BackOfficeAdmin):
    """Customer emails (the durable rows behind the worker)."""

    view_only = True
    list_display = [
        "created",
        "order_link",
        "kind",
        "recipient",
        "status_badge",
        "attempts",
        "sent",
        "last_error_short",
    ]
    order_link = link_column("order", "Order", text="number")
    created = time_column("created_at", "Created")
    sent = time_column("sent_at", "Sent")
    list_filter = ["status", "kind"]
    search_fields = ["order__number", "recipient", "subject"]
    list_select_related = ["order"]
    date_hierarchy = "created_at"
    actions = ["send_again"]
    object_actions = ("send_again",)

    def object_action_available(self, obj, name):
        return obj.status != NotificationStatus.SENT

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="Last error")
    def last_error_short(self, obj):
        return (obj.last_error or "")[:80]

    @admin.action(description="Send again now", permissions=["corrections"])
    def send_again(self, request, queryset):
        def send(notification):
            try:
                notification_send(notification_id=notification.pk)
            except DomainError:
                raise
            except (
                Exception
            ) as exc:  # the mail server refused or is down: say so, keep the row pending
                raise DomainError(f"not sent: {exc}") from exc

        run_per_object(
            self,
            request,
            queryset,
            send,
            done="sent.",
            skip=lambda n: "it was sent already." if n.status == NotificationStatus.SENT else None,
        )


from . import admin_api  # noqa: E402, F401  registers ApiTokenAdmin
