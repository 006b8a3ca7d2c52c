"""Issuing an invoice and recording a payment from the staff screens."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from invoicing.models import Invoice, Payment
from invoicing.services import invoice_issue, payment_record
from orders.choices import EventType, PaymentStatus
from orders.services import order_cancel


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# ------------------------------------------------------------------ issue


def test_finance_issues_the_invoice_and_returns_to_the_order(client, finance_user, placed_order):
    client.force_login(finance_user)

    response = client.post(reverse("invoicing:issue", args=[placed_order.number]))

    assert response.status_code == 302
    assert response["Location"] == reverse("orders:detail", args=[placed_order.number])
    invoice = Invoice.objects.get(order=placed_order)
    assert invoice.total == placed_order.total
    assert placed_order.events.filter(type=EventType.INVOICE_ISSUED).count() == 1
    assert any(invoice.number in m for m in messages_of(response))


def test_issuing_twice_keeps_one_invoice(client, manager, placed_order):
    client.force_login(manager)
    client.post(reverse("invoicing:issue", args=[placed_order.number]))

    response = client.post(reverse("invoicing:issue", args=[placed_order.number]))

    assert Invoice.objects.filter(order=placed_order).count() == 1
    assert any("already issued" in m for m in messages_of(response))


def test_cancelled_order_is_not_invoiced(client, manager, placed_order):
    order_cancel(order=placed_order, reason="Customer asked", actor=manager)
    client.force_login(manager)

    response = client.post(reverse("invoicing:issue", args=[placed_order.number]))

    assert response.status_code == 302
    assert not Invoice.objects.filter(order=placed_order).exists()
    assert any("cancelled" in m for m in messages_of(response))


def test_warehouse_user_cannot_issue_invoices(client, warehouse_user, placed_order):
    client.force_login(warehouse_user)

    response = client.post(reverse("invoicing:issue", args=[placed_order.number]))

    assert response.status_code == 403
    assert not Invoice.objects.filter(order=placed_order).exists()


def test_issue_is_post_only_and_404_for_unknown_orders(client, manager, placed_order):
    client.force_login(manager)

    assert client.get(reverse("invoicing:issue", args=[placed_order.number])).status_code == 405
    assert client.post(reverse("invoicing:issue", args=["NW-0"])).status_code == 404


# ------------------------------------------------------------------ record payment


def test_payment_page_shows_total_paid_and_outstanding(client, finance_user, manager, placed_order):
    payment_record(order=placed_order, amount=Decimal("20.00"), method="cash", actor=manager)
    client.force_login(finance_user)

    response = client.get(reverse("invoicing:record_payment", args=[placed_order.number]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "€64.40" in html  # order total
    assert "€20.00" in html  # paid so far
    assert "€44.40" in html  # outstanding
    assert response.context["form"].initial["amount"] == Decimal("44.40")
    for value, label in [("card", "Card"), ("bank_transfer", "Bank transfer"), ("cash", "Cash")]:
        assert f'value="{value}"' in html
        assert label in html


def test_recording_a_payment_updates_the_order(client, finance_user, placed_order):
    client.force_login(finance_user)

    response = client.post(
        reverse("invoicing:record_payment", args=[placed_order.number]),
        {"amount": "64.40", "method": "bank_transfer", "reference": "SEPA 2291"},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("orders:detail", args=[placed_order.number])
    payment = Payment.objects.get(order=placed_order)
    assert payment.amount == Decimal("64.40")
    assert payment.method == "bank_transfer"
    assert payment.reference == "SEPA 2291"
    assert payment.recorded_by == finance_user
    placed_order.refresh_from_db()
    assert placed_order.payment_status == PaymentStatus.PAID
    assert any("Payment of €64.40 recorded" in m for m in messages_of(response))


def test_partial_payment_leaves_the_order_partially_paid(client, manager, placed_order):
    client.force_login(manager)

    client.post(
        reverse("invoicing:record_payment", args=[placed_order.number]),
        {"amount": "30", "method": "cash", "reference": ""},
    )

    placed_order.refresh_from_db()
    assert placed_order.payment_status == PaymentStatus.PARTIALLY_PAID


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"amount": "100.00", "method": "card"}, "amount", "Only 64.40 EUR is outstanding."),
        ({"amount": "0", "method": "card"}, "amount", "Enter an amount greater than zero."),
        ({"amount": "-5", "method": "card"}, "amount", "Enter an amount greater than zero."),
        ({"amount": "", "method": "card"}, "amount", "Enter the amount received."),
        ({"amount": "twelve", "method": "card"}, "amount", "Enter an amount like 49.90."),
        ({"amount": "10.00", "method": ""}, "method", "Choose how the customer paid."),
        ({"amount": "10.00", "method": "bitcoin"}, "method", "Choose how the customer paid."),
    ],
)
def test_bad_payment_shows_the_error_next_to_the_field_and_saves_nothing(
    client, manager, placed_order, data, field, message
):
    client.force_login(manager)

    response = client.post(
        reverse("invoicing:record_payment", args=[placed_order.number]), {"reference": "", **data}
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors[field] == [message]
    html = response.content.decode()
    assert f'<div class="field-error" id="id_{field}-error">{message}</div>' in html
    assert not Payment.objects.filter(order=placed_order).exists()
    placed_order.refresh_from_db()
    assert placed_order.payment_status == PaymentStatus.UNPAID
    # Nothing typed is lost.
    if data["amount"]:
        assert f'value="{data["amount"]}"' in html


def test_paid_order_says_nothing_is_outstanding(client, manager, placed_order):
    payment_record(order=placed_order, amount=placed_order.total, method="card", actor=manager)
    client.force_login(manager)

    response = client.get(reverse("invoicing:record_payment", args=[placed_order.number]))

    html = response.content.decode()
    assert "paid in full" in html
    assert 'name="amount"' not in html


def test_warehouse_user_cannot_record_payments(client, warehouse_user, placed_order):
    client.force_login(warehouse_user)
    url = reverse("invoicing:record_payment", args=[placed_order.number])

    assert client.get(url).status_code == 403
    assert client.post(url, {"amount": "10", "method": "cash"}).status_code == 403
    assert not Payment.objects.exists()


def test_customer_service_cannot_record_payments(client, service_agent, placed_order):
    client.force_login(service_agent)

    response = client.get(reverse("invoicing:record_payment", args=[placed_order.number]))

    assert response.status_code == 403


def test_payment_page_404_for_unknown_order(client, manager, db):
    client.force_login(manager)

    assert client.get(reverse("invoicing:record_payment", args=["NW-0"])).status_code == 404


def test_issue_then_pay_shows_on_the_invoice_list(client, manager, placed_order):
    invoice = invoice_issue(order=placed_order, actor=manager)
    client.force_login(manager)
    client.post(
        reverse("invoicing:record_payment", args=[placed_order.number]),
        {"amount": "64.40", "method": "card"},
    )

    html = client.get(reverse("invoicing:list")).content.decode()

    assert invoice.number in html
    assert 'data-status="paid"' in html
