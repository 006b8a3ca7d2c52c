from django.db import models


class ChannelKind(models.TextChoices):
    WEB = "web", "Web shop"
    MARKETPLACE = "marketplace", "Marketplace"
    PHONE = "phone", "Phone"
    COUNTER = "counter", "Counter"
    API = "api", "API integration"


class OrderStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    ON_HOLD = "on_hold", "On hold"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


ORDER_TRANSITIONS: dict[str, set[str]] = {
    OrderStatus.DRAFT: {OrderStatus.OPEN, OrderStatus.CANCELLED},
    OrderStatus.OPEN: {OrderStatus.ON_HOLD, OrderStatus.CLOSED, OrderStatus.CANCELLED},
    OrderStatus.ON_HOLD: {OrderStatus.OPEN, OrderStatus.CANCELLED},
    OrderStatus.CLOSED: set(),
    OrderStatus.CANCELLED: set(),
}


class HoldCode(models.TextChoices):
    MANUAL = "manual", "Held by staff"
    ADDRESS = "address", "Incomplete address"
    PAYMENT = "payment", "Payment required before shipping"
    HIGH_VALUE = "high_value", "Order above the review threshold"
    DUPLICATE = "duplicate", "Probable duplicate"
    INVALID_ADDRESS = "invalid_address", "Address fails validation"


class FulfillmentStatus(models.TextChoices):
    UNFULFILLED = "unfulfilled", "Unfulfilled"
    PARTIALLY_RESERVED = "partially_reserved", "Partially reserved"
    RESERVED = "reserved", "Reserved"
    PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    PARTIALLY_RETURNED = "partially_returned", "Partially returned"
    RETURNED = "returned", "Returned"


class PaymentStatus(models.TextChoices):
    UNPAID = "unpaid", "Unpaid"
    AUTHORIZED = "authorized", "Authorized"
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    PAID = "paid", "Paid"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    REFUNDED = "refunded", "Refunded"


class EventSource(models.TextChoices):
    STAFF = "staff", "Staff"
    API = "api", "API"
    CHANNEL = "channel", "Channel"
    CUSTOMER = "customer", "Customer"
    SYSTEM = "system", "System"


class EventType(models.TextChoices):
    PLACED = "placed", "Order placed"
    RESERVED = "reserved", "Stock reserved"
    HELD = "held", "Put on hold"
    RELEASED = "released", "Hold released"
    CANCELLED = "cancelled", "Cancelled"
    CLOSED = "closed", "Closed"
    EMAIL_SENT = "email_sent", "Email sent"
    SHIPMENT_CREATED = "shipment_created", "Shipment created"
    PICKED = "picked", "Picked"
    PACKED = "packed", "Packed"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    INVOICE_ISSUED = "invoice_issued", "Invoice issued"
    PAYMENT_RECORDED = "payment_recorded", "Payment recorded"
    RETURN_REQUESTED = "return_requested", "Return requested"
    RETURN_RECEIVED = "return_received", "Return received"
    CREDIT_NOTE_ISSUED = "credit_note_issued", "Credit note issued"
    REFUNDED = "refunded", "Refunded"
    NOTE = "note", "Note"
    EDITED = "edited", "Edited"
    LINE_CANCELLED = "line_cancelled", "Line cancelled"
    BACKORDERED = "backordered", "Backordered"
    BACKORDER_FILLED = "backorder_filled", "Backorder filled"
    SHORT_PICKED = "short_picked", "Short pick"
    LABEL_CREATED = "label_created", "Label created"
    TRACKING = "tracking", "Tracking update"
    DELIVERY_EXCEPTION = "delivery_exception", "Delivery exception"
    FEEDBACK = "feedback", "Customer feedback"


class NotificationKind(models.TextChoices):
    ORDER_CONFIRMATION = "order_confirmation", "Order confirmation"
    ORDER_SHIPPED = "order_shipped", "Order shipped"
    ORDER_OUT_FOR_DELIVERY = "order_out_for_delivery", "Out for delivery"
    ORDER_DELIVERED = "order_delivered", "Order delivered"
    SHIPMENT_DELAYED = "shipment_delayed", "Delivery delayed or exception"
    FEEDBACK_REQUEST = "feedback_request", "Feedback request"
    ORDER_CANCELLED = "order_cancelled", "Order cancelled"
    ORDER_CHANGED = "order_changed", "Order changed"
    BACKORDER_FILLED = "backorder_filled", "Backordered items available"
    RETURN_REQUESTED = "return_requested", "Return requested"
    RETURN_RECEIVED = "return_received", "Return received"
    REFUND_ISSUED = "refund_issued", "Refund issued"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
