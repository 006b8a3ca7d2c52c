"""The invoice and credit note PDFs: real A4 PDFs that say what a merchant must say."""

import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from invoicing.choices import DocumentStatus
from invoicing.models import InvoiceLine
from invoicing.pdf import render_pdf
from invoicing.services import credit_note_issue, document_render, invoice_issue


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_invoice_pdf_is_a4_and_prints_the_snapshot(placed_order, manager, settings):
    settings.MERCHANT_NAME = "Northwind Outfitters"
    settings.MERCHANT_ADDRESS = "Northwind Outfitters GmbH\nHafenstraße 12\n20457 Hamburg"
    invoice = invoice_issue(order=placed_order, actor=manager)

    data = render_pdf(invoice)

    assert data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(data))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points
    text = pdf_text(data)
    for expected in [
        "Northwind Outfitters",
        "Hafenstraße 12",
        "Invoice",
        invoice.number,
        placed_order.number,
        "Ada Lovelace",
        "ada@example.com",
        "TEE-BLK-M",
        "Organic tee, black, M",
        "19",  # tax rate
        "€25.00",  # unit price
        "€50.00",  # net of the line and subtotal
        "€9.50",  # tax
        "€4.90",  # shipping
        "€64.40",  # total
        "Page 1 of 1",
        "Questions? Reply to your order email.",
    ]:
        assert expected in text, expected
    assert "Paid with thanks" not in text


def test_credit_note_pdf_names_the_invoice_it_credits_and_why(placed_order, manager):
    invoice = invoice_issue(order=placed_order, actor=manager)
    line = placed_order.lines.get()
    note = credit_note_issue(
        order=placed_order, quantities={line.pk: 1}, reason="Return RMA-000042", actor=manager
    )

    text = pdf_text(render_pdf(note))

    assert "Credit note" in text
    assert note.number in text
    assert f"Credits invoice {invoice.number}" in text
    assert "Return RMA-000042" in text
    assert "€29.75" in text  # 25.00 + 19 % tax, one unit


def test_long_invoice_flows_onto_numbered_pages(placed_order, manager):
    invoice = invoice_issue(order=placed_order, actor=manager)
    line = placed_order.lines.get()
    InvoiceLine.objects.bulk_create(
        [
            InvoiceLine(
                invoice=invoice,
                order_line=line,
                sku=f"SKU-{i:03d}",
                name=f"Item {i}",
                quantity=1,
                unit_price=Decimal("1.00"),
                tax_rate=Decimal("0.0550"),
                net=Decimal("1.00"),
                tax=Decimal("0.06"),
                gross=Decimal("1.06"),
            )
            for i in range(60)
        ]
    )

    data = render_pdf(invoice)

    reader = PdfReader(io.BytesIO(data))
    pages = len(reader.pages)
    assert pages >= 2
    assert f"Page {pages} of {pages}" in reader.pages[-1].extract_text()
    assert "5.5" in pdf_text(data)  # a fractional rate prints as 5.5 %


@pytest.mark.django_db
def test_document_render_stores_the_pdf_once(placed_order, manager):
    invoice = invoice_issue(order=placed_order, actor=manager)
    assert invoice.pdf_status == DocumentStatus.PENDING

    document_render(kind="invoice", pk=invoice.pk)
    invoice.refresh_from_db()
    first_name = invoice.pdf.name
    document_render(kind="invoice", pk=invoice.pk)
    invoice.refresh_from_db()

    assert invoice.pdf_status == DocumentStatus.RENDERED
    assert invoice.pdf.name == first_name
    with invoice.pdf.open("rb") as fh:
        assert invoice.number in pdf_text(fh.read())
