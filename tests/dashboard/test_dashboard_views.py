"""The staff home (KPIs, needs attention, recent orders) and the global search."""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from fulfillment.services import (
    shipment_confirm_packed,
    shipment_confirm_picked,
    shipment_ship,
    shipments_create,
)
from invoicing.models import Invoice
from invoicing.services import invoice_issue
from orders.models import Notification, Order
from orders.services import LineInput, order_cancel, order_hold, order_place
from returns.services import return_request_create

pytestmark = pytest.mark.django_db


# Each order from its own customer: identical orders from one customer within minutes
# are held as probable duplicates.
CUSTOMERS = itertools.count(1)


def place(product, user, channel, *, quantity=1, email=None):
    return order_place(
        channel=channel,
        email=email or f"customer{next(CUSTOMERS)}@example.com",
        name="Ada Lovelace",
        address={
            "name": "Ada Lovelace",
            "line1": "Hafenstraße 12",
            "city": "Hamburg",
            "postal_code": "20457",
            "country": "DE",
        },
        lines=[LineInput(product=product, quantity=quantity)],
        actor=user,
    )


@pytest.fixture
def staff_client(client, service_agent):
    client.force_login(service_agent)
    return client


def test_home_needs_a_staff_login(client, django_user_model):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    client.force_login(django_user_model.objects.create_user("nobody", password="x"))
    assert client.get("/").status_code == 403


def test_home_counts_today_and_links_to_filtered_lists(
    staff_client, stocked_product, channel, manager
):
    a = place(stocked_product, manager, channel, quantity=2)  # €59.50
    b = place(stocked_product, manager, channel)  # €29.75
    c = place(stocked_product, manager, channel)
    order_hold(order=b, reason="Fraud check", actor=manager)
    order_cancel(order=c, reason="Duplicate", actor=manager)
    old = place(stocked_product, manager, channel)
    Order.objects.filter(pk=old.pk).update(placed_at=timezone.now() - timedelta(days=3))

    response = staff_client.get("/")
    kpis = response.context["kpis"]
    assert kpis["orders_today"] == 3
    assert kpis["revenue_today"] == a.total + b.total
    assert kpis["on_hold"] == 1
    assert kpis["to_ship"] == 2  # a and old: open, reserved, no shipment
    assert kpis["open_returns"] == 0
    assert kpis["unpaid_invoices"] == 0
    html = response.content.decode()
    assert "€89.25" in html
    assert 'href="/orders/?view=to_ship"' in html
    assert 'href="/orders/?view=on_hold"' in html
    assert 'href="/orders/?view=unpaid&amp;invoiced=true"' in html
    assert a.number in html  # recent orders


def test_needs_attention_lists_holds_failed_emails_and_pdfs(staff_client, placed_order, manager):
    order_hold(order=placed_order, reason="Address to be confirmed", actor=manager)
    invoice = invoice_issue(order=placed_order, actor=manager)
    Invoice.objects.filter(pk=invoice.pk).update(pdf_status="failed", pdf_error="font not found")
    Notification.objects.filter(order=placed_order).update(status="failed", last_error="SMTP 421")

    response = staff_client.get("/")
    html = response.content.decode()
    assert response.context["attention_counts"] == {"on_hold": 1, "short": 0, "email": 1, "pdf": 1}
    assert "Address to be confirmed" in html
    assert "Email failed" in html
    assert "SMTP 421" in html
    assert "PDF failed" in html
    assert invoice.number in html


def test_home_with_nothing_to_do_says_all_clear(staff_client):
    html = staff_client.get("/").content.decode()
    assert "All clear" in html
    assert "No orders yet" in html


def test_unpaid_invoices_and_open_returns_are_counted(staff_client, placed_order, manager, carrier):
    for s in shipments_create(order=placed_order, actor=manager):
        shipment_confirm_picked(shipment=s, actor=manager)
        shipment_confirm_packed(shipment=s, actor=manager)
        shipment_ship(shipment=s, carrier=carrier, tracking_number="TRK1", actor=manager)
    return_request_create(
        order=placed_order,
        quantities={placed_order.lines.get().pk: 1},
        reason="size",
        actor=manager,
    )
    kpis = staff_client.get("/").context["kpis"]
    assert kpis["unpaid_invoices"] == 1
    assert kpis["unpaid_amount"] == placed_order.total
    assert kpis["open_returns"] == 1


# ---------------------------------------------------------------- search


def test_exact_order_number_goes_straight_to_the_order(staff_client, placed_order):
    response = staff_client.get("/search/", {"q": f"  {placed_order.number.lower()} "})
    assert response.status_code == 302
    assert response.url == f"/orders/{placed_order.number}/"
    digits = placed_order.number.removeprefix("NW-")
    assert staff_client.get("/search/", {"q": digits}).url == f"/orders/{placed_order.number}/"


def test_search_by_email_groups_orders_and_customers(staff_client, placed_order):
    response = staff_client.get("/search/", {"q": "ada@example"})
    html = response.content.decode()
    assert response.status_code == 200
    assert placed_order.number in html
    assert f'href="/customers/{placed_order.customer.pk}/"' in html


def test_search_by_tracking_number_sku_and_rma(staff_client, placed_order, manager, carrier):
    shipments = shipments_create(order=placed_order, actor=manager)
    for s in shipments:
        shipment_confirm_picked(shipment=s, actor=manager)
        shipment_confirm_packed(shipment=s, actor=manager)
        shipment_ship(shipment=s, carrier=carrier, tracking_number="00340434999", actor=manager)
    rma = return_request_create(
        order=placed_order,
        quantities={placed_order.lines.get().pk: 1},
        reason="size",
        actor=manager,
    )

    html = staff_client.get("/search/", {"q": "00340434999"}).content.decode()
    assert f'href="/warehouse/shipments/{shipments[0].number}/"' in html
    assert placed_order.number in html

    html = staff_client.get("/search/", {"q": "TEE-BLK"}).content.decode()
    assert f'href="{reverse("inventory:product", args=["TEE-BLK-M"])}"' in html

    html = staff_client.get("/search/", {"q": "4006381333931"}).content.decode()
    assert "TEE-BLK-M" in html

    html = staff_client.get("/search/", {"q": rma.number}).content.decode()
    assert reverse("returns:detail", args=[rma.number]) in html


def test_search_with_no_match_says_what_to_try(staff_client, placed_order):
    html = staff_client.get("/search/", {"q": "zzzz-nothing"}).content.decode()
    assert "Nothing found for “zzzz-nothing”" in html
    assert staff_client.get("/search/").status_code == 200


def test_revenue_counts_only_the_default_currency(
    staff_client, stocked_product, channel, manager, settings
):
    a = place(stocked_product, manager, channel)
    Order.objects.filter(pk=a.pk).update(currency="USD")
    b = place(stocked_product, manager, channel)
    assert staff_client.get("/").context["kpis"]["revenue_today"] == b.total
    assert b.total == Decimal("29.75")
