"""Staff invoice list and the PDF downloads."""

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from invoicing.choices import DocumentStatus
from invoicing.services import credit_note_issue, document_render, invoice_issue, payment_record


def pdf_text(response) -> str:
    data = b"".join(response.streaming_content) if response.streaming else response.content
    assert data.startswith(b"%PDF")
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
def invoice(placed_order, manager):
    return invoice_issue(order=placed_order, actor=manager)


@pytest.fixture
def credit_note(placed_order, invoice, manager):
    line = placed_order.lines.get()
    return credit_note_issue(
        order=placed_order,
        quantities={line.pk: 1},
        reason="Return RMA-000007",
        reference="RMA-000007",
        actor=manager,
    )


def test_invoice_pdf_downloads_inline_with_its_number(client, warehouse_user, invoice):
    document_render(kind="invoice", pk=invoice.pk)
    client.force_login(warehouse_user)  # any staff role may read documents

    response = client.get(reverse("invoicing:invoice_pdf", args=[invoice.number]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="{invoice.number}.pdf"'
    assert invoice.number in pdf_text(response)


def test_pending_pdf_is_rendered_on_the_spot(client, manager, invoice):
    assert invoice.pdf_status == DocumentStatus.PENDING  # the worker has not run
    client.force_login(manager)

    response = client.get(reverse("invoicing:invoice_pdf", args=[invoice.number]))

    assert response.status_code == 200
    assert invoice.number in pdf_text(response)
    invoice.refresh_from_db()
    assert invoice.pdf_status == DocumentStatus.RENDERED
    assert invoice.pdf.name.endswith(f"{invoice.number}.pdf")


def test_pdf_missing_from_storage_is_rendered_again(client, manager, invoice):
    document_render(kind="invoice", pk=invoice.pk)
    invoice.refresh_from_db()
    invoice.pdf.storage.delete(invoice.pdf.name)
    client.force_login(manager)

    response = client.get(reverse("invoicing:invoice_pdf", args=[invoice.number]))

    assert response.status_code == 200
    assert invoice.number in pdf_text(response)


def test_credit_note_pdf_downloads(client, manager, invoice, credit_note):
    client.force_login(manager)

    response = client.get(reverse("invoicing:credit_note_pdf", args=[credit_note.number]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response)
    assert credit_note.number in text
    assert f"Credits invoice {invoice.number}" in text


def test_unknown_document_numbers_are_404(client, manager, invoice, credit_note):
    client.force_login(manager)

    assert client.get(reverse("invoicing:invoice_pdf", args=["INV-1999-000001"])).status_code == 404
    assert (
        client.get(reverse("invoicing:credit_note_pdf", args=["CN-1999-000001"])).status_code == 404
    )
    # An invoice number is not a credit note number, and the other way round.
    assert (
        client.get(reverse("invoicing:credit_note_pdf", args=[invoice.number])).status_code == 404
    )
    assert (
        client.get(reverse("invoicing:invoice_pdf", args=[credit_note.number])).status_code == 404
    )


def test_anonymous_user_is_sent_to_login_for_a_pdf(client, invoice):
    response = client.get(reverse("invoicing:invoice_pdf", args=[invoice.number]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_list_shows_invoices_with_payment_status_and_pdf_link(
    client, manager, invoice, placed_order
):
    client.force_login(manager)

    response = client.get(reverse("invoicing:list"))

    assert response.status_code == 200
    html = response.content.decode()
    assert invoice.number in html
    assert placed_order.number in html
    assert reverse("invoicing:invoice_pdf", args=[invoice.number]) in html
    assert reverse("orders:detail", args=[placed_order.number]) in html
    assert 'data-status="unpaid"' in html
    assert "€64.40" in html


def test_unpaid_view_lists_what_is_outstanding(
    client, manager, invoice, placed_order, stocked_product, channel, address
):
    from orders.services import LineInput, order_place

    paid_order = order_place(
        channel=channel,
        email="grace@example.com",
        name="Grace Hopper",
        address=address,
        lines=[LineInput(product=stocked_product, quantity=1)],
        actor=manager,
    )
    paid_invoice = invoice_issue(order=paid_order, actor=manager)
    payment_record(order=paid_order, amount=paid_order.total, method="card", actor=manager)
    payment_record(order=placed_order, amount=placed_order.total - 10, method="cash", actor=manager)
    client.force_login(manager)

    response = client.get(reverse("invoicing:list"), {"view": "unpaid"})

    html = response.content.decode()
    assert invoice.number in html
    assert paid_invoice.number not in html
    assert "€10.00" in html  # outstanding on the partly paid order


def test_credit_notes_view(client, manager, invoice, credit_note):
    client.force_login(manager)

    response = client.get(reverse("invoicing:list"), {"view": "credit-notes"})

    html = response.content.decode()
    assert credit_note.number in html
    assert "Return RMA-000007" in html
    assert reverse("invoicing:credit_note_pdf", args=[credit_note.number]) in html


def test_search_by_invoice_or_order_number(
    client, manager, invoice, placed_order, stocked_product, channel, address
):
    from orders.services import LineInput, order_place

    other = order_place(
        channel=channel,
        email="grace@example.com",
        name="Grace Hopper",
        address=address,
        lines=[LineInput(product=stocked_product, quantity=1)],
        actor=manager,
    )
    other_invoice = invoice_issue(order=other, actor=manager)
    client.force_login(manager)

    by_order = client.get(reverse("invoicing:list"), {"q": placed_order.number}).content.decode()
    by_number = client.get(reverse("invoicing:list"), {"q": other_invoice.number}).content.decode()

    assert invoice.number in by_order
    assert other_invoice.number not in by_order
    assert other_invoice.number in by_number
    assert invoice.number not in by_number


def test_search_as_you_type_returns_only_the_results_fragment(client, manager, invoice):
    client.force_login(manager)

    response = client.get(
        reverse("invoicing:list"), {"q": invoice.number}, headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert invoice.number in html
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_empty_list_explains_what_the_screen_is_for(client, manager):
    client.force_login(manager)

    html = client.get(reverse("invoicing:list")).content.decode()
    assert "No invoices yet" in html

    html = client.get(reverse("invoicing:list"), {"q": "INV-nothing"}).content.decode()
    assert "Nothing matches" in html


def test_failed_render_says_so_instead_of_a_broken_file(client, manager, invoice, monkeypatch):
    def broken(doc):
        raise RuntimeError("font missing")

    monkeypatch.setattr("invoicing.pdf.render_pdf", broken)
    client.force_login(manager)

    response = client.get(reverse("invoicing:invoice_pdf", args=[invoice.number]))

    assert response.status_code == 503
    assert "could not be rendered" in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.pdf_status == DocumentStatus.PENDING  # the sweep will retry
