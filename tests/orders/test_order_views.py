"""The staff order list (filters, quick views, keyset pages) and the order detail with its actions."""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from fulfillment.services import (
    shipment_confirm_packed,
    shipment_confirm_picked,
    shipment_ship,
    shipments_create,
)
from inventory.models import StockLevel
from invoicing.services import payment_record
from orders.models import Order, OrderEvent
from orders.services import LineInput, order_hold, order_place
from returns.services import return_request_create
from tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db


# Each order from its own customer unless a test says otherwise: the same lines from one
# customer within minutes would be held as a probable duplicate.
CUSTOMERS = itertools.count(1)


def place(
    product,
    user,
    *,
    email=None,
    name="Ada Lovelace",
    quantity=1,
    channel=None,
    address=None,
):
    return order_place(
        channel=channel or ChannelFactory(),
        email=email or f"customer{next(CUSTOMERS)}@example.com",
        name=name,
        address=address
        or {
            "name": name,
            "line1": "Hafenstraße 12",
            "city": "Hamburg",
            "postal_code": "20457",
            "country": "DE",
        },
        lines=[LineInput(product=product, quantity=quantity)],
        actor=user,
        payment_method="card",
    )


def ship(order, user, carrier):
    shipments = shipments_create(order=order, actor=user)
    for s in shipments:
        shipment_confirm_picked(shipment=s, actor=user)
        shipment_confirm_packed(shipment=s, actor=user)
        shipment_ship(shipment=s, carrier=carrier, tracking_number="00340434123456", actor=user)
    order.refresh_from_db()
    return shipments


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# ---------------------------------------------------------------- list


def test_list_shows_orders_newest_first_with_badges_and_total(
    manager_client, stocked_product, manager
):
    first = place(stocked_product, manager, email="first@example.com", name="First Buyer")
    second = place(
        stocked_product, manager, email="second@example.com", name="Second Buyer", quantity=2
    )
    response = manager_client.get("/orders/")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index(second.number) < html.index(first.number)
    assert f'data-href="/orders/{first.number}/"' in html
    assert f'<a class="order-number" href="/orders/{first.number}/">' in html
    assert "Second Buyer" in html
    assert "€59.50" in html
    assert 'data-status="reserved"' in html
    assert 'data-status="unpaid"' in html


def test_quick_views_count_and_filter(manager_client, stocked_product, manager, carrier):
    open_order = place(stocked_product, manager)
    held = place(stocked_product, manager)
    order_hold(order=held, reason="Fraud check", actor=manager)
    shipped = place(stocked_product, manager)
    ship(shipped, manager, carrier)
    payment_record(order=shipped, amount=shipped.total, method="card", actor=manager)

    html = manager_client.get("/orders/").content.decode()
    for label, count in [("All", 3), ("Open", 2), ("On hold", 1), ("To ship", 1), ("Unpaid", 2)]:
        assert f'{label}<span class="count">{count}</span>' in html, label

    to_ship = manager_client.get("/orders/", {"view": "to_ship"}).content.decode()
    assert open_order.number in to_ship
    assert held.number not in to_ship
    assert shipped.number not in to_ship
    on_hold = manager_client.get("/orders/", {"view": "on_hold"}).content.decode()
    assert held.number in on_hold
    assert open_order.number not in on_hold
    unpaid = manager_client.get("/orders/", {"view": "unpaid"}).content.decode()
    assert shipped.number not in unpaid
    assert open_order.number in unpaid


def test_filters_by_status_payment_channel_text_and_date(manager_client, stocked_product, manager):
    web = ChannelFactory(slug="web", name="Web shop", kind="web")
    a = place(stocked_product, manager, email="ada@example.com", name="Ada Lovelace")
    b = place(stocked_product, manager, email="grace@example.com", name="Grace Hopper", channel=web)
    order_hold(order=b, reason="Address", actor=manager)
    Order.objects.filter(pk=a.pk).update(placed_at=timezone.now() - timedelta(days=10))

    def numbers(**params):
        html = manager_client.get("/orders/", params).content.decode()
        return {o.number for o in (a, b) if f'href="/orders/{o.number}/"' in html}

    assert numbers(status="on_hold") == {b.number}
    assert numbers(channel="web") == {b.number}
    assert numbers(q="grace@") == {b.number}
    assert numbers(q="lovelace") == {a.number}
    assert numbers(q=a.number) == {a.number}
    assert numbers(payment_status="unpaid") == {a.number, b.number}
    assert numbers(fulfillment_status="reserved") == {a.number, b.number}
    since = (timezone.localdate() - timedelta(days=2)).isoformat()
    assert numbers(placed_from=since) == {b.number}
    assert numbers(placed_to=since) == {a.number}
    assert numbers(invoiced="true") == set()


def test_no_match_and_no_orders_have_their_own_empty_states(
    manager_client, stocked_product, manager
):
    html = manager_client.get("/orders/").content.decode()
    assert "No orders yet" in html
    assert "Place a phone order" in html
    place(stocked_product, manager)
    html = manager_client.get("/orders/", {"q": "nobody-here"}).content.decode()
    assert "No orders match" in html
    assert "Show all orders" in html


def test_htmx_filter_request_gets_only_the_results(manager_client, stocked_product, manager):
    order = place(stocked_product, manager)
    response = manager_client.get("/orders/", {"q": order.number}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="order-results">')
    assert order.number in html
    assert "<html" not in html
    assert response["Vary"]
    assert "HX-Request" in response["Vary"]


def test_keyset_pagination_walks_pages_without_offset(
    manager_client, stocked_product, manager, monkeypatch
):
    import orders.views

    monkeypatch.setattr(orders.views, "PAGE_SIZE", 2)
    orders_ = [place(stocked_product, manager) for _ in range(5)]
    base = timezone.now()
    for i, o in enumerate(orders_):  # two share a timestamp: the id breaks the tie
        Order.objects.filter(pk=o.pk).update(placed_at=base - timedelta(minutes=min(i, 3)))
    newest_first = [o.number for o in orders_]
    newest_first[3], newest_first[4] = (
        newest_first[4],
        newest_first[3],
    )  # same time: higher id first

    seen = []
    url = "/orders/"
    while url:
        response = manager_client.get(url)
        ctx = response.context
        seen += [o.number for o in ctx["orders"]]
        url = ctx["older_url"] and "/orders/" + ctx["older_url"]
    assert seen == newest_first

    page2 = manager_client.get("/orders/" + manager_client.get("/orders/").context["older_url"])
    assert [o.number for o in page2.context["orders"]] == newest_first[2:4]
    back = manager_client.get("/orders/" + page2.context["newer_url"])
    assert [o.number for o in back.context["orders"]] == newest_first[:2]
    assert manager_client.get("/orders/", {"after": "garbage"}).status_code == 200


# ---------------------------------------------------------------- detail


def test_detail_shows_every_quantity_totals_and_customer_side(manager_client, placed_order):
    response = manager_client.get(f"/orders/{placed_order.number}/")
    html = response.content.decode()
    assert response.status_code == 200
    for text in [
        "Organic tee, black, M",
        "TEE-BLK-M",
        "€50.00",
        "€9.50",
        "€4.90",
        "€64.40",
        "Reserved",
        "Shipped",
        "Delivered",
        "Returned",
        "Ada Lovelace",
        "ada@example.com",
        "Hafenstraße 12",
        "20457 Hamburg",
        "Card",
        placed_order.status_path(),
        "Order placed through Phone",
        "Order confirmation",
    ]:
        assert text in html, text
    assert 'data-status="open"' in html
    assert 'data-status="reserved"' in html
    assert 'data-status="unpaid"' in html


def test_detail_of_unknown_order_is_404(manager_client):
    assert manager_client.get("/orders/NW-99999/").status_code == 404


def test_actions_follow_the_role(client, placed_order, warehouse_user, finance_user, service_agent):
    number = placed_order.number
    client.force_login(warehouse_user)
    html = client.get(f"/orders/{number}/").content.decode()
    assert f'action="/warehouse/orders/{number}/shipments/"' in html
    assert "Cancel order" not in html
    assert "Issue invoice" not in html
    assert ">Hold<" not in html

    client.force_login(finance_user)
    html = client.get(f"/orders/{number}/").content.decode()
    assert "Issue invoice" in html
    assert "Record payment" in html
    assert "Create shipment" not in html
    assert "Cancel order" not in html

    client.force_login(service_agent)
    html = client.get(f"/orders/{number}/").content.decode()
    assert ">Hold<" in html
    assert "Cancel order" in html
    assert "data-confirm=" in html
    assert "Create shipment" not in html
    assert "Issue invoice" not in html
    assert "Request return" not in html  # nothing shipped yet


def test_detail_of_a_shipped_order_shows_shipment_documents_and_return(
    manager_client, placed_order, manager, carrier
):
    shipments = ship(placed_order, manager, carrier)
    rma = return_request_create(
        order=placed_order,
        quantities={placed_order.lines.get().pk: 1},
        reason="size",
        actor=manager,
    )
    html = manager_client.get(f"/orders/{placed_order.number}/").content.decode()
    assert f'href="/warehouse/shipments/{shipments[0].number}/"' in html
    assert "00340434123456" in html
    assert "https://tracking.example.com/00340434123456" in html
    invoice = placed_order.invoices.get()
    assert invoice.number in html
    assert rma.number in html
    assert "Request return" in html  # one unit is still returnable
    assert "Cancel order" not in html
    assert "Create shipment" not in html


def test_hold_and_release(manager_client, placed_order):
    url = f"/orders/{placed_order.number}/"
    response = manager_client.post(url + "hold/", {"reason": "Address to be confirmed"})
    assert response.status_code == 302
    assert response.url == url
    assert messages_of(response) == [
        f"Order {placed_order.number} is on hold. Nothing ships until it is released."
    ]
    placed_order.refresh_from_db()
    assert (placed_order.status, placed_order.hold_reason) == ("on_hold", "Address to be confirmed")
    html = manager_client.get(url).content.decode()
    assert "On hold:" in html
    assert "Release hold" in html

    response = manager_client.post(url + "release/")
    assert response.status_code == 302
    placed_order.refresh_from_db()
    assert placed_order.status == "open"
    assert OrderEvent.objects.filter(order=placed_order, type="released").exists()


def test_hold_needs_a_reason(manager_client, placed_order):
    response = manager_client.post(f"/orders/{placed_order.number}/hold/", {"reason": "  "})
    assert response.status_code == 302
    assert messages_of(response) == ["Say why the order is held."]
    placed_order.refresh_from_db()
    assert placed_order.status == "open"


def test_release_of_an_open_order_is_refused_with_a_message(manager_client, placed_order):
    response = manager_client.post(f"/orders/{placed_order.number}/release/")
    assert messages_of(response) == [f"Order {placed_order.number} is open; it cannot become open."]


def test_cancel_releases_stock(manager_client, placed_order, stocked_product):
    response = manager_client.post(
        f"/orders/{placed_order.number}/cancel/", {"reason": "Customer changed their mind"}
    )
    assert response.status_code == 302
    assert messages_of(response) == [
        f"Order {placed_order.number} cancelled; its reserved stock is back on the shelf."
    ]
    placed_order.refresh_from_db()
    assert (placed_order.status, placed_order.cancel_reason) == (
        "cancelled",
        "Customer changed their mind",
    )
    assert StockLevel.objects.get(product=stocked_product).reserved == 0
    html = manager_client.get(f"/orders/{placed_order.number}/").content.decode()
    assert "Cancelled" in html
    assert "Customer changed their mind" in html
    assert "Cancel order" not in html
    assert ">Hold<" not in html


def test_cancel_needs_a_reason(manager_client, placed_order):
    response = manager_client.post(f"/orders/{placed_order.number}/cancel/", {"reason": ""})
    assert messages_of(response) == ["Say why the order is cancelled."]
    placed_order.refresh_from_db()
    assert placed_order.status == "open"


def test_warehouse_user_cannot_cancel(client, warehouse_user, placed_order):
    client.force_login(warehouse_user)
    response = client.post(f"/orders/{placed_order.number}/cancel/", {"reason": "Because"})
    assert response.status_code == 302
    assert messages_of(response) == ["Only Customer service, Manager may do this."]
    placed_order.refresh_from_db()
    assert placed_order.status == "open"


def test_actions_are_post_only_and_need_login(client, manager_client, placed_order):
    assert manager_client.get(f"/orders/{placed_order.number}/cancel/").status_code == 405
    client.logout()
    response = client.post(f"/orders/{placed_order.number}/hold/", {"reason": "x"})
    assert response.status_code == 302
    assert "/login/" in response.url
    placed_order.refresh_from_db()
    assert placed_order.status == "open"


def test_money_shows_the_order_currency(manager_client, placed_order):
    Order.objects.filter(pk=placed_order.pk).update(currency="USD", total=Decimal("64.40"))
    html = manager_client.get(f"/orders/{placed_order.number}/").content.decode()
    assert "$64.40" in html
