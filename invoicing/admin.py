from django.contrib import admin

from core.admin import (
    BackOfficeAdmin,
    ReadOnlyInline,
    badge,
    link_column,
    money,
    run_per_object,
    time_column,
)
from core.errors import DomainError

from .choices import DocumentStatus
from .models import CreditNote, CreditNoteLine, Invoice, InvoiceLine, Payment, Refund
from .services import document_render, document_rerender

LINE_FIELDS = ["sku", "name", "quantity", "unit_price", "tax_rate", "net", "tax", "gross"]


class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    fields = LINE_FIELDS
    readonly_fields = LINE_FIELDS


class CreditNoteLineInline(ReadOnlyInline):
    model = CreditNoteLine
    fields = LINE_FIELDS
    readonly_fields = LINE_FIELDS


class DocumentAdmin(BackOfficeAdmin):
    """Issued documents never change: corrections are new documents (a credit note).
    A PDF that failed to render can be rendered again."""

    view_only = True
    kind = "invoice"
    list_display = [
        "number",
        "order_link",
        "issued",
        "customer_email",
        "total_display",
        "pdf_badge",
        "pdf_attempts",
    ]
    order_link = link_column("order", "Order", text="number")
    issued = time_column("issued_at", "Issued")
    list_filter = ["pdf_status", "currency"]
    search_fields = ["number", "order__number", "customer_email", "bill_to"]
    list_select_related = ["order"]
    date_hierarchy = "issued_at"
    actions = ["render_again"]
    object_actions = ("render_again",)

    def object_action_available(self, obj, name):
        return obj.pdf_status == DocumentStatus.FAILED

    @admin.display(description="Total", ordering="total")
    def total_display(self, obj):
        return money(obj.total, obj.currency)

    @admin.display(description="PDF", ordering="pdf_status")
    def pdf_badge(self, obj):
        return badge(obj.pdf_status, obj.get_pdf_status_display())

    @admin.action(description="Re-render PDF (failed ones)", permissions=["corrections"])
    def render_again(self, request, queryset):
        def render(doc):
            # Give the document a fresh set of attempts, then render it here and now.
            document_rerender(kind=self.kind, pk=doc.pk, actor=request.user)
            try:
                document_render(kind=self.kind, pk=doc.pk)
            except Exception as exc:  # WeasyPrint or the storage failed again
                raise DomainError(f"rendering failed again: {exc}") from exc

        run_per_object(
            self,
            request,
            queryset,
            render,
            done="PDF rendered.",
            skip=lambda d: (
                None
                if d.pdf_status == DocumentStatus.FAILED
                else f"its PDF is {d.get_pdf_status_display().lower()}, not failed."
            ),
        )

    render_again.button_label = "Re-render PDF"


@admin.register(Invoice)
class InvoiceAdmin(DocumentAdmin):
    kind = "invoice"
    inlines = [InvoiceLineInline]


@admin.register(CreditNote)
class CreditNoteAdmin(DocumentAdmin):
    kind = "credit_note"
    list_display = [
        "number",
        "order_link",
        "invoice_link",
        "issued",
        "reason",
        "total_display",
        "pdf_badge",
    ]
    order_link = link_column("order", "Order", text="number")
    invoice_link = link_column("invoice", "Invoice", text="number")
    issued = time_column("issued_at", "Issued")
    list_select_related = ["order", "invoice"]
    search_fields = ["number", "reference", "order__number", "invoice__number", "customer_email"]
    inlines = [CreditNoteLineInline]


@admin.register(Payment)
class PaymentAdmin(BackOfficeAdmin):
    """Money received: recorded by finance on the order page, never changed."""

    view_only = True
    list_display = [
        "received",
        "order_link",
        "amount_display",
        "method",
        "reference",
        "recorded_by",
    ]
    order_link = link_column("order", "Order", text="number")
    received = time_column("received_at", "Received")
    list_filter = ["method"]
    search_fields = ["order__number", "reference"]
    list_select_related = ["order", "recorded_by"]
    date_hierarchy = "received_at"

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return money(obj.amount, obj.order.currency)


@admin.register(Refund)
class RefundAdmin(BackOfficeAdmin):
    """Money paid back: issued through returns, never changed."""

    view_only = True
    list_display = [
        "refunded",
        "order_link",
        "amount_display",
        "method",
        "credit_note_link",
        "reference",
        "refunded_by",
    ]
    order_link = link_column("order", "Order", text="number")
    credit_note_link = link_column("credit_note", "Credit note", text="number")
    refunded = time_column("refunded_at", "Refunded")
    list_filter = ["method"]
    search_fields = ["order__number", "reference", "credit_note__number"]
    list_select_related = ["order", "credit_note", "refunded_by"]
    date_hierarchy = "refunded_at"

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return money(obj.amount, obj.order.currency)
