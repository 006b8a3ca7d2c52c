"""An invoiced order that changes gets new documents, never changed ones: a credit note for
what it lost, a supplementary invoice for what it gained, in the same transaction. Invoices
minus credit notes always equal the order's total (0 once cancelled)."""

import io
import json
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db.models import Sum
from pypdf import PdfReader

from core.errors import DomainError, ValidationFailed
from core.money import format_money
from inventory.services import stock_receive
from invoicing.choices import DocumentStatus
from invoicing.models import CreditNote, CreditNoteLine, Invoice
from invoicing.services import (
    credit_note_issue,
    document_render,
    invoice_issue,
    order_cancel_documented,
    order_edit_documented,
    order_line_cancel_documented,
    payment_record,
)
from orders.choices import EventType, OrderStatus, PaymentStatus
from orders.models import Order, OrderEvent, OrderLine
from orders.services import LineChange, LineInput, order_place
from orders.tokens import api_token_create
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def mug(warehouses, manager):
    product = ProductFactory(
        sku="MUG-1", name="Enamel mug", price=Decimal("9.95"), tax_rate=Decimal("0.0700")
    )
    stock_receive(product=product, warehouse=warehouses[0], quantity=20, actor=manager)
    return product


@pytest.fixture
def order(channel, stocked_product, mug, manager, address):
    """3 tees at 25.00 (19 %), 1 mug at 9.95 (7 %), shipping 4.90: total 104.80."""
    return order_place(
        channel=channel,
        email="ada@example.com",
        name="Ada Lovelace",
        address=address,
        lines=[LineInput(product=stocked_product, quantity=3), LineInput(product=mug, quantity=1)],
        actor=manager,
        shipping_method="Standard",
        shipping_total=Decimal("4.90"),
        payment_method="bank_transfer",
    )


@pytest.fixture
def invoiced(order, manager):
    invoice_issue(order=order, actor=manager)
    return order


def line(order, sku) -> OrderLine:
    return OrderLine.objects.get(order=order, sku=sku)


def documented_total(order) -> Decimal:
    invoiced = Invoice.objects.filter(order=order).aggregate(s=Sum("total"))["s"] or Decimal("0")
    credited = CreditNote.objects.filter(order=order).aggregate(s=Sum("total"))["s"] or Decimal("0")
    return invoiced - credited


def pdf_text(doc) -> str:
    doc.refresh_from_db()
    assert doc.pdf_status == DocumentStatus.RENDERED, doc.pdf_error
    with doc.pdf.open("rb") as fh:
        data = fh.read()
    assert data.startswith(b"%PDF")
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def test_line_cancel_on_an_invoiced_order_issues_a_credit_note(
    invoiced, manager, eager_celery, django_capture_on_commit_callbacks
):
    assert invoiced.total == Decimal("104.80")
    with django_capture_on_commit_callbacks(execute=True):
        order = order_line_cancel_documented(
            order=invoiced,
            line=line(invoiced, "TEE-BLK-M"),
            quantity=1,
            reason="Customer needs two",
            actor=manager,
        )

    assert order.total == Decimal("75.05")
    note = CreditNote.objects.get(order=order)
    assert note.total == Decimal("29.75")  # 25.00 + 19 % tax
    assert (note.subtotal, note.tax_total, note.shipping_total) == (
        Decimal("25.00"),
        Decimal("4.75"),
        Decimal("0"),
    )
    assert note.invoice == Invoice.objects.get(order=order)
    [cl] = note.lines.all()
    assert (cl.sku, cl.quantity, cl.unit_price, cl.gross) == (
        "TEE-BLK-M",
        1,
        Decimal("25.00"),
        Decimal("29.75"),
    )
    assert "1 × TEE-BLK-M cancelled: Customer needs two" in note.reason
    assert documented_total(order) == Order.objects.get(pk=order.pk).total
    assert OrderEvent.objects.filter(
        order=order,
        type=EventType.CREDIT_NOTE_ISSUED,
        message__startswith=f"Credit note {note.number}",
    ).exists()
    text = pdf_text(note)
    assert "Credit note" in text
    assert note.number in text
    assert "€29.75" in text
    assert Invoice.objects.get(order=order).total == Decimal(
        "104.80"
    )  # the issued invoice is untouched


def test_added_lines_and_units_get_a_supplementary_invoice(
    invoiced, manager, stocked_product, mug, eager_celery, django_capture_on_commit_callbacks
):
    other = ProductFactory(
        sku="CAP-1", name="Cap", price=Decimal("12.00"), tax_rate=Decimal("0.1900")
    )
    stock_receive(
        product=other,
        warehouse=stocked_product.stock_levels.first().warehouse,
        quantity=3,
        actor=manager,
    )
    with django_capture_on_commit_callbacks(execute=True):
        order = order_edit_documented(
            order=invoiced,
            actor=manager,
            lines=[
                LineChange(line_id=line(invoiced, "MUG-1").pk, product=None, quantity=3),
                LineChange(line_id=None, product=other, quantity=2),
            ],
        )

    assert not CreditNote.objects.filter(order=order).exists()
    first, extra = Invoice.objects.filter(order=order).order_by("issued_at", "id")
    assert first.total == Decimal("104.80")
    # 2 mugs: 19.90 + 1.39 tax; 2 caps: 24.00 + 4.56 tax.
    assert extra.total == Decimal("49.85")
    assert sorted((il.sku, il.quantity, il.unit_price) for il in extra.lines.all()) == [
        ("CAP-1", 2, Decimal("12.00")),
        ("MUG-1", 2, Decimal("9.95")),
    ]
    assert documented_total(order) == Order.objects.get(pk=order.pk).total == Decimal("154.65")
    text = pdf_text(extra)
    assert extra.number in text
    assert "Cap (added)" in text
    assert "Enamel mug (1 → 3)" in text
    assert f"Supplementary invoice to invoice {first.number}" in text
    document_render(kind="invoice", pk=first.pk)
    assert "Supplementary" not in pdf_text(first)
    assert (
        OrderEvent.objects.filter(
            order=order, type=EventType.INVOICE_ISSUED, payload__supplementary=True
        ).count()
        == 1
    )


def test_a_lower_price_is_credited_as_a_price_difference(invoiced, manager):
    order = order_edit_documented(
        order=invoiced,
        actor=manager,
        lines=[
            LineChange(
                line_id=line(invoiced, "TEE-BLK-M").pk,
                product=None,
                quantity=3,
                unit_price=Decimal("22.00"),
            )
        ],
    )

    [cl] = CreditNoteLine.objects.filter(credit_note__order=order)
    assert (cl.quantity, cl.unit_price, cl.net, cl.tax) == (
        3,
        Decimal("3.00"),
        Decimal("9.00"),
        Decimal("1.71"),
    )
    assert "price 25.00 → 22.00" in cl.name
    assert documented_total(order) == Order.objects.get(pk=order.pk).total == Decimal("94.09")


def test_more_units_at_a_lower_price_gives_both_documents_and_adds_up_to_the_cent(
    invoiced, manager, mug
):
    """Quantity at the old price (+2 mugs) and the price difference on the new quantity
    (-0.33 on 3 mugs), each rounded as the order rounds its lines."""
    order = order_edit_documented(
        order=invoiced,
        actor=manager,
        lines=[
            LineChange(
                line_id=line(invoiced, "MUG-1").pk,
                product=None,
                quantity=3,
                unit_price=Decimal("9.62"),
            )
        ],
        shipping_total=Decimal("0"),
    )

    note = CreditNote.objects.get(order=order)
    extra = Invoice.objects.filter(order=order).order_by("id").last()
    assert note.shipping_total == Decimal("4.90")
    assert [(cl.quantity, cl.unit_price) for cl in note.lines.all()] == [(3, Decimal("0.33"))]
    assert [(il.quantity, il.unit_price) for il in extra.lines.all()] == [(2, Decimal("9.95"))]
    assert documented_total(order) == Order.objects.get(pk=order.pk).total


def test_whole_cancel_credits_everything_invoiced(invoiced, manager):
    order = order_cancel_documented(order=invoiced, reason="Customer withdrew", actor=manager)

    assert order.status == OrderStatus.CANCELLED
    note = CreditNote.objects.get(order=order)
    assert note.total == Decimal("104.80")
    assert note.shipping_total == Decimal("4.90")
    assert note.reason == "Order cancelled: Customer withdrew"
    assert documented_total(order) == 0


def test_cancelling_the_last_units_through_a_line_cancel_credits_everything(invoiced, manager):
    order_line_cancel_documented(
        order=invoiced, line=line(invoiced, "MUG-1"), quantity=1, reason="x", actor=manager
    )
    order = order_line_cancel_documented(
        order=invoiced,
        line=line(invoiced, "TEE-BLK-M"),
        quantity=3,
        reason="Changed mind",
        actor=manager,
    )

    assert order.status == OrderStatus.CANCELLED
    assert CreditNote.objects.filter(order=order).count() == 2
    assert documented_total(order) == 0


def test_nothing_is_issued_before_the_order_is_invoiced(order, manager):
    order_line_cancel_documented(
        order=order, line=line(order, "TEE-BLK-M"), quantity=1, reason="x", actor=manager
    )
    order_edit_documented(
        order=order,
        actor=manager,
        lines=[LineChange(line_id=line(order, "MUG-1").pk, product=None, quantity=2)],
    )

    assert not Invoice.objects.filter(order=order).exists()
    assert not CreditNote.objects.filter(order=order).exists()
    invoice = invoice_issue(order=order, actor=manager)
    assert invoice.total == Order.objects.get(pk=order.pk).total


def test_a_refused_change_issues_nothing(invoiced, manager):
    with pytest.raises(ValidationFailed):
        order_edit_documented(
            order=invoiced,
            actor=manager,
            lines=[LineChange(line_id=line(invoiced, "MUG-1").pk, product=None, quantity=999)],
        )
    with pytest.raises(DomainError):
        order_line_cancel_documented(
            order=invoiced, line=line(invoiced, "MUG-1"), quantity=1, reason=" ", actor=manager
        )

    assert not CreditNote.objects.filter(order=invoiced).exists()
    assert Invoice.objects.filter(order=invoiced).count() == 1


def test_payment_status_follows_the_new_total(invoiced, manager):
    payment_record(order=invoiced, amount=Decimal("104.80"), method="bank_transfer", actor=manager)
    invoiced.refresh_from_db()
    assert invoiced.payment_status == PaymentStatus.PAID

    order = order_edit_documented(
        order=invoiced,
        actor=manager,
        lines=[LineChange(line_id=line(invoiced, "MUG-1").pk, product=None, quantity=2)],
    )
    assert Order.objects.get(pk=order.pk).payment_status == PaymentStatus.PARTIALLY_PAID

    order = order_line_cancel_documented(
        order=order, line=line(order, "TEE-BLK-M"), quantity=1, reason="x", actor=manager
    )
    fresh = Order.objects.get(pk=order.pk)
    assert fresh.payment_status == PaymentStatus.PAID  # paid 104.80 ≥ the new total 85.69
    assert OrderEvent.objects.filter(
        order=order, type=EventType.LINE_CANCELLED, payload__refund_due=True
    ).exists()


def test_credits_of_changes_do_not_count_as_returned_units(invoiced, manager):
    """A price difference credited on 3 units leaves all 3 free to be credited when returned."""
    order = order_edit_documented(
        order=invoiced,
        actor=manager,
        lines=[
            LineChange(
                line_id=line(invoiced, "TEE-BLK-M").pk,
                product=None,
                quantity=3,
                unit_price=Decimal("20.00"),
            )
        ],
    )

    note = credit_note_issue(
        order=order,
        quantities={line(order, "TEE-BLK-M").pk: 3},
        reason="Return RMA-1",
        reference="RMA-1",
        actor=manager,
    )

    assert note.total == Decimal("71.40")  # 3 at 20.00, plus 19 %


# ---------------------------------------------------------------- faces


def test_order_page_lists_the_correction_documents(client, manager, invoiced):
    order_edit_documented(
        order=invoiced,
        actor=manager,
        lines=[LineChange(line_id=line(invoiced, "MUG-1").pk, product=None, quantity=2)],
    )
    order_line_cancel_documented(
        order=invoiced, line=line(invoiced, "TEE-BLK-M"), quantity=1, reason="Fewer", actor=manager
    )
    payment_record(order=invoiced, amount=Decimal("50.00"), method="bank_transfer", actor=manager)
    client.force_login(manager)

    html = client.get(f"/orders/{invoiced.number}/").content.decode()

    extra = Invoice.objects.filter(order=invoiced).order_by("id").last()
    note = CreditNote.objects.get(order=invoiced)
    assert "Supplementary invoice" in html
    assert extra.number in html
    assert note.number in html
    assert "1 × TEE-BLK-M cancelled: Fewer" in html
    total = Order.objects.get(pk=invoiced.pk).total
    assert total == documented_total(invoiced) == Decimal("85.69")  # 104.80 + 10.64 - 29.75
    # Invoiced 115.44, credited 29.75, paid 50.00: 35.69 due, not the total less the credit again.
    assert "Balance due" in html
    assert format_money(total - Decimal("50.00"), "EUR") in html


def test_staff_line_cancel_page_issues_the_credit_note(client, manager, invoiced):
    client.force_login(manager)
    tee = line(invoiced, "TEE-BLK-M")

    response = client.post(
        f"/orders/{invoiced.number}/lines/{tee.pk}/cancel/", {"quantity": "2", "reason": "x"}
    )

    assert response.status_code == 302
    assert CreditNote.objects.get(order=invoiced).total == Decimal("59.50")
    assert documented_total(invoiced) == Order.objects.get(pk=invoiced.pk).total


def test_staff_cancel_and_bulk_cancel_issue_credit_notes(
    client, manager, invoiced, channel, stocked_product, address
):
    client.force_login(manager)
    response = client.post(
        f"/orders/{invoiced.number}/cancel/", {"reason": "Withdrew"}, follow=True
    )
    assert "cancelled" in next(str(m) for m in get_messages(response.wsgi_request))
    assert documented_total(invoiced) == 0

    second = order_place(
        channel=channel,
        email="bo@example.com",
        name="Bo",
        address=address,
        lines=[LineInput(product=stocked_product, quantity=1)],
        actor=manager,
        payment_method="card",
    )
    invoice_issue(order=second, actor=manager)
    client.post(
        "/orders/bulk/", {"orders": [second.number], "action": "cancel", "cancel_reason": "Fraud"}
    )
    assert Order.objects.get(pk=second.pk).status == OrderStatus.CANCELLED
    assert documented_total(second) == 0


def test_api_cancel_issues_the_credit_note(client, invoiced, channel):
    raw = api_token_create(name="Shop", channel=channel, actor=None)[1]

    response = client.post(
        f"/api/v1/orders/{invoiced.number}/cancel",
        data=json.dumps({"reason": "Customer withdrew"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}", "Idempotency-Key": "cancel-1"},
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert CreditNote.objects.get(order=invoiced).total == Decimal("104.80")
    assert documented_total(invoiced) == 0
