"""Staff customer screens: the list with search, and one customer's history and value."""

from decimal import Decimal

import pytest
from django.urls import reverse

from customers.models import Customer
from orders.services import LineInput, order_cancel, order_place
from tests.factories import CustomerFactory


@pytest.fixture
def ada(placed_order):
    return placed_order.customer


@pytest.fixture
def second_order(channel, stocked_product, manager, address):
    return order_place(
        channel=channel,
        email="ada@example.com",
        name="Ada Lovelace",
        address=address,
        lines=[LineInput(product=stocked_product, quantity=1)],
        actor=manager,
    )


def test_list_shows_customers_with_order_count(client, service_agent, ada, second_order):
    CustomerFactory(name="Grace Hopper", email="grace@example.org", phone="+1 555 0100")
    client.force_login(service_agent)

    response = client.get(reverse("customers:list"))

    assert response.status_code == 200
    rows = {c.email: c for c in response.context["rows"]}
    assert rows["ada@example.com"].order_count == 2
    assert rows["grace@example.org"].order_count == 0
    html = response.content.decode()
    assert reverse("customers:detail", args=[ada.pk]) in html
    assert "Grace Hopper" in html
    assert "never" in html  # Grace has not ordered yet


@pytest.mark.parametrize("q", ["lovelace", "ADA@EXAMPLE", "555 0100"])
def test_search_by_name_email_or_phone(client, manager, ada, q):
    CustomerFactory(name="Grace Hopper", email="grace@example.org", phone="+1 555 0100")
    client.force_login(manager)

    response = client.get(reverse("customers:list"), {"q": q})

    names = [c.name for c in response.context["rows"]]
    assert names == (["Grace Hopper"] if q == "555 0100" else ["Ada Lovelace"])


def test_search_without_match_offers_to_clear(client, manager, ada):
    client.force_login(manager)

    response = client.get(reverse("customers:list"), {"q": "nobody"})

    assert "No customer matches" in response.content.decode()


def test_search_as_you_type_returns_the_fragment(client, manager, ada):
    client.force_login(manager)

    response = client.get(reverse("customers:list"), {"q": "ada"}, headers={"HX-Request": "true"})

    html = response.content.decode()
    assert "Ada Lovelace" in html
    assert "<html" not in html


def test_empty_list_explains_the_screen(client, manager):
    client.force_login(manager)

    assert "No customers yet" in client.get(reverse("customers:list")).content.decode()


def test_detail_shows_contact_addresses_orders_and_lifetime_value(
    client, warehouse_user, manager, ada, placed_order, second_order
):
    cancelled = order_place(
        channel=placed_order.channel,
        email="ada@example.com",
        name="Ada Lovelace",
        address={
            "name": "Ada Lovelace",
            "line1": "Somewhere 1",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
        },
        lines=[LineInput(product=placed_order.lines.get().product, quantity=1)],
        actor=manager,
    )
    order_cancel(order=cancelled, reason="Changed mind", actor=manager)
    client.force_login(warehouse_user)

    response = client.get(reverse("customers:detail", args=[ada.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "ada@example.com" in html
    assert "Hafenstraße 12" in html
    assert "Somewhere 1" in html  # the address book keeps both addresses
    for order in (placed_order, second_order, cancelled):
        assert reverse("orders:detail", args=[order.number]) in html
    # Lifetime value: 64.40 + 29.75 (the cancelled order does not count).
    assert placed_order.total + second_order.total == Decimal("94.15")
    assert response.context["lifetime"][0]["total"] == Decimal("94.15")
    assert "€94.15" in html
    assert response.context["order_count"] == 3


def test_customer_without_orders(client, manager, db):
    customer = CustomerFactory(name="Grace Hopper")
    client.force_login(manager)

    response = client.get(reverse("customers:detail", args=[customer.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "No orders yet" in html
    assert "€0.00" in html
    assert f"{reverse('orders:new')}?customer={customer.pk}" in html


def test_unknown_customer_is_404(client, manager, db):
    client.force_login(manager)

    missing = (Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    assert client.get(reverse("customers:detail", args=[missing])).status_code == 404


def test_customers_need_a_signed_in_staff_member(client, ada):
    response = client.get(reverse("customers:detail", args=[ada.pk]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
