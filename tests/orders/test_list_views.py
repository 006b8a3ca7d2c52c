"""The staff order list for a large shop: every filter, sorts with keyset pages, quick views with
capped counts, three queries a page, bulk actions and the CSV export."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fulfillment.services import (
    shipment_confirm_packed,
    shipment_confirm_picked,
    shipment_ship,
    shipments_create,
)
from inventory.models import StockLevel
from inventory.services import stock_receive
from orders.models import Order, OrderEvent
from orders.services import LineInput, order_hold, order_place
from tests.factories import ChannelFactory, ProductFactory

pytestmark = pytest.mark.django_db

_counter = iter(range(1, 100_000))


def place(
    product, user, *, quantity=1, email=None, name=None, channel=None, external_id="", extra=()
):
    """An order from its own customer (so no duplicate auto-hold kicks in)."""
    n = next(_counter)
    email = email or f"buyer{n}@example.com"
    name = name or f"Buyer {n}"
    return order_place(
        channel=channel or ChannelFactory(),
        email=email,
        name=name,
        address={
            "name": name,
            "line1": "Hafenstraße 12",
            "city": "Hamburg",
            "postal_code": "20457",
            "country": "DE",
        },
        lines=[LineInput(product=product, quantity=quantity), *extra],
        actor=user,
        payment_method="card",
        external_id=external_id,
    )


def set_placed(order, when):
    Order.objects.filter(pk=order.pk).update(placed_at=when)
    order.refresh_from_db()
    return order


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def berlin_product(warehouses, manager):
    """Stocked in Berlin only, so its reservations and shipments are Berlin's."""
    product = ProductFactory(sku="MUG-WHT", name="Mug, white", price=Decimal("12.00"))
    stock_receive(product=product, warehouse=warehouses[1], quantity=20, actor=manager)
    return product


def numbers_in(response) -> list[str]:
    return [o.number for o in response.context["orders"]]


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# ---------------------------------------------------------------- filters


def test_filter_by_warehouse_finds_reservations_and_shipments(
    manager_client, manager, stocked_product, berlin_product, carrier
):
    hamburg = place(stocked_product, manager)
    berlin = place(berlin_product, manager)
    shipped_from_berlin = place(berlin_product, manager)
    for s in shipments_create(order=shipped_from_berlin, actor=manager):
        shipment_confirm_picked(shipment=s, actor=manager)
        shipment_confirm_packed(shipment=s, actor=manager)
        shipment_ship(shipment=s, carrier=carrier, tracking_number="00340434", actor=manager)
    both = place(stocked_product, manager, extra=[LineInput(product=berlin_product, quantity=1)])

    ham = set(numbers_in(manager_client.get("/orders/", {"warehouse": "HAM"})))
    ber = set(numbers_in(manager_client.get("/orders/", {"warehouse": "BER"})))
    assert ham == {hamburg.number, both.number}
    assert ber == {berlin.number, shipped_from_berlin.number, both.number}
    assert numbers_in(manager_client.get("/orders/", {"warehouse": "NOPE"})) == []


def test_warehouse_options_come_from_the_warehouses(manager_client, warehouses):
    html = manager_client.get("/orders/").content.decode()
    assert '<option value="HAM">Hamburg</option>' in html
    assert '<option value="BER">Berlin</option>' in html
    assert '<option value="" selected>Any warehouse</option>' in html


def test_filter_by_customer_id_or_email_in_any_case(manager_client, manager, stocked_product):
    ada = place(stocked_product, manager, email="Ada@Example.com", name="Ada Lovelace")
    ada_again = place(stocked_product, manager, email="ada@example.com", quantity=2)
    grace = place(stocked_product, manager, email="grace@example.com")

    by_email = set(numbers_in(manager_client.get("/orders/", {"customer": "ADA@example.COM"})))
    assert by_email == {ada.number, ada_again.number}
    by_id = set(numbers_in(manager_client.get("/orders/", {"customer": str(grace.customer_id)})))
    assert by_id == {grace.number}
    assert numbers_in(manager_client.get("/orders/", {"customer": "nobody@example.com"})) == []


def test_filter_by_sku_finds_orders_with_a_line_of_it(
    manager_client, manager, stocked_product, berlin_product
):
    tee = place(stocked_product, manager)
    mug = place(berlin_product, manager)
    both = place(stocked_product, manager, extra=[LineInput(product=berlin_product, quantity=1)])
    assert set(numbers_in(manager_client.get("/orders/", {"sku": "MUG-WHT"}))) == {
        mug.number,
        both.number,
    }
    assert set(numbers_in(manager_client.get("/orders/", {"sku": " tee-blk-m "}))) == {
        tee.number,
        both.number,
    }
    assert numbers_in(manager_client.get("/orders/", {"sku": "NOPE"})) == []


def test_date_range_uses_whole_local_days(manager_client, manager, stocked_product):
    today = timezone.localdate()
    midnight = timezone.make_aware(timezone.datetime.combine(today, timezone.datetime.min.time()))
    just_before = set_placed(place(stocked_product, manager), midnight - timedelta(seconds=1))
    just_after = set_placed(place(stocked_product, manager), midnight + timedelta(seconds=1))
    week_ago = set_placed(place(stocked_product, manager), midnight - timedelta(days=7))

    def numbers(**params):
        return set(numbers_in(manager_client.get("/orders/", params)))

    yesterday = (today - timedelta(days=1)).isoformat()
    assert numbers(placed_from=today.isoformat()) == {just_after.number}
    assert numbers(placed_to=yesterday) == {just_before.number, week_ago.number}
    assert numbers(placed_from=yesterday, placed_to=yesterday) == {just_before.number}
    response = manager_client.get("/orders/", {"placed_from": "not-a-date"})
    assert response.status_code == 200
    assert "Enter a valid date" in response.content.decode()


def test_free_text_searches_number_external_id_email_and_name(
    manager_client, manager, stocked_product
):
    web = ChannelFactory(slug="web", name="Web shop", kind="web")
    a = place(stocked_product, manager, email="ada@example.com", name="Ada Lovelace")
    b = place(
        stocked_product, manager, email="grace@example.com", channel=web, external_id="WEB-777"
    )

    def numbers(text):
        return set(numbers_in(manager_client.get("/orders/", {"q": text})))

    assert numbers(a.number) == {a.number}
    assert numbers("web-777") == {b.number}
    assert numbers("grace@") == {b.number}
    assert numbers("lovelace") == {a.number}
    assert numbers("nobody") == set()


def test_filters_combine_with_a_quick_view(
    manager_client, manager, stocked_product, berlin_product
):
    held_berlin = place(berlin_product, manager)
    order_hold(order=held_berlin, reason="Check", actor=manager)
    place(berlin_product, manager)  # open, Berlin
    held_hamburg = place(stocked_product, manager)
    order_hold(order=held_hamburg, reason="Check", actor=manager)
    response = manager_client.get("/orders/", {"view": "on_hold", "warehouse": "BER"})
    assert numbers_in(response) == [held_berlin.number]


# ---------------------------------------------------------------- sorting and keyset pages


def walk(client, params, *, size=None):
    """Every page from the first, following "Next"; returns the numbers in order and the URLs."""
    seen, urls = [], []
    url = "/orders/"
    response = client.get(url, params)
    while True:
        seen += numbers_in(response)
        urls.append(response.wsgi_request.get_full_path())
        following = response.context["older_url"]
        if not following:
            return seen, urls
        response = client.get("/orders/" + following)


@pytest.mark.parametrize(
    ("sort", "key", "reverse"),
    [
        ("-placed", lambda o: (o.placed_at, o.pk), True),
        ("placed", lambda o: (o.placed_at, o.pk), False),
        ("-total", lambda o: (o.total, o.pk), True),
        ("total", lambda o: (o.total, o.pk), False),
        ("-number", lambda o: (o.number, o.pk), True),
        ("number", lambda o: (o.number, o.pk), False),
    ],
)
def test_every_sort_pages_by_keyset_without_gaps_or_repeats(
    manager_client, manager, stocked_product, monkeypatch, sort, key, reverse
):
    import orders.views

    monkeypatch.setattr(orders.views, "PAGE_SIZE", 3)
    stock_receive(
        product=stocked_product,
        warehouse=stocked_product.stock_levels.first().warehouse,
        quantity=50,
        actor=manager,
    )
    base = timezone.now()
    orders_ = []
    for i, qty in enumerate(
        [1, 2, 1, 3, 2, 1, 2, 1]
    ):  # equal totals and equal times: ids break ties
        o = place(stocked_product, manager, quantity=qty)
        orders_.append(set_placed(o, base - timedelta(minutes=i // 2)))
    expected = [o.number for o in sorted(orders_, key=key, reverse=reverse)]

    seen, urls = walk(manager_client, {"sort": sort})
    assert seen == expected
    assert len(urls) == 3
    assert all(f"sort={sort}" in u or sort == "-placed" for u in urls)

    # Back from the last page with "Previous" gives the same pages in reverse.
    last = manager_client.get(urls[-1])
    middle = manager_client.get("/orders/" + last.context["newer_url"])
    assert numbers_in(middle) == expected[3:6]
    first = manager_client.get("/orders/" + middle.context["newer_url"])
    assert numbers_in(first) == expected[:3]
    assert first.context["newer_url"] == ""


def test_pages_stay_stable_when_new_orders_arrive(
    manager_client, manager, stocked_product, monkeypatch
):
    import orders.views

    monkeypatch.setattr(orders.views, "PAGE_SIZE", 2)
    olds = [place(stocked_product, manager) for _ in range(4)]
    page1 = manager_client.get("/orders/")
    place(stocked_product, manager)  # a new order lands while someone is reading page 1
    page2 = manager_client.get("/orders/" + page1.context["older_url"])
    assert numbers_in(page2) == [olds[1].number, olds[0].number]


def test_a_cursor_of_another_sort_starts_again_at_the_first_page(
    manager_client, manager, stocked_product, monkeypatch
):
    import orders.views

    monkeypatch.setattr(orders.views, "PAGE_SIZE", 2)
    for _ in range(3):
        place(stocked_product, manager)
    cursor = manager_client.get("/orders/").context["older_url"]  # made for -placed
    response = manager_client.get("/orders/" + cursor + "&sort=total")
    assert response.status_code == 200
    first = manager_client.get("/orders/", {"sort": "total"})
    assert numbers_in(response) == numbers_in(first)
    for bad in ("garbage", "-total~abc~1", "-total~NaN~1", "-placed~2026~x"):
        assert manager_client.get("/orders/", {"after": bad, "sort": "-total"}).status_code == 200


def test_sortable_headers_toggle_and_keep_the_filters(manager_client, manager, stocked_product):
    place(stocked_product, manager)
    html = manager_client.get("/orders/", {"status": "open"}).content.decode()
    assert 'href="?status=open&amp;sort=-total"' in html
    assert 'aria-sort="descending"' in html  # placed, newest first
    html = manager_client.get("/orders/", {"status": "open", "sort": "-total"}).content.decode()
    assert 'href="?status=open&amp;sort=total"' in html
    assert '<input type="hidden" name="sort" value="-total">' in html
    assert "sorted by total, highest first" in html


# ---------------------------------------------------------------- quick views


def set_promised(order, days_from_today):
    Order.objects.filter(pk=order.pk).update(
        promised_ship_date=timezone.localdate() + timedelta(days=days_from_today)
    )
    order.refresh_from_db()
    return order


def test_quick_views_new_today_backordered_and_late(
    manager_client, manager, stocked_product, warehouses, carrier
):
    """Late: open or held, units still to ship, promised ship date before today."""
    preorder = ProductFactory(sku="PRE-1", name="Preorder lamp", allow_backorder=True)
    today = place(stocked_product, manager)
    backordered = place(preorder, manager, quantity=2)
    late = set_promised(
        set_placed(place(stocked_product, manager), timezone.now() - timedelta(days=3)), -1
    )
    late_but_held = set_promised(
        set_placed(place(stocked_product, manager), timezone.now() - timedelta(days=3)), -2
    )
    order_hold(order=late_but_held, reason="Fraud check", actor=manager)
    shipped_old = place(stocked_product, manager)
    for s in shipments_create(order=shipped_old, actor=manager):
        shipment_confirm_picked(shipment=s, actor=manager)
        shipment_confirm_packed(shipment=s, actor=manager)
        shipment_ship(shipment=s, carrier=carrier, tracking_number="0034", actor=manager)
    set_promised(set_placed(shipped_old, timezone.now() - timedelta(days=5)), -4)
    # Placed long ago but promised for today: not late yet (the old 2-day rule called it late).
    due_today = set_promised(
        set_placed(place(stocked_product, manager), timezone.now() - timedelta(days=4)), 0
    )
    recent = set_placed(place(stocked_product, manager), timezone.now() - timedelta(days=1))

    assert backordered.lines.get().quantity_backordered == 2
    html = manager_client.get("/orders/").content.decode()
    for label, count in [("New today", 2), ("Backordered", 1), ("Late", 2), ("On hold", 1)]:
        assert f'{label}<span class="count">{count}</span>' in html, label

    def view(key):
        return set(numbers_in(manager_client.get("/orders/", {"view": key})))

    assert view("new_today") == {today.number, backordered.number}
    assert view("backordered") == {backordered.number}
    assert view("late") == {late.number, late_but_held.number}
    assert view("on_hold") == {late_but_held.number}
    assert recent.number not in view("late")
    assert due_today.number not in view("late")


def test_list_shows_the_ship_by_date_and_a_late_badge(manager_client, manager, stocked_product):
    late = set_promised(place(stocked_product, manager), -3)
    on_time = set_promised(place(stocked_product, manager), 2)
    response = manager_client.get("/orders/")
    rows = {o.number: o for o in response.context["orders"]}
    assert rows[late.number].is_late
    assert not rows[on_time.number].is_late
    html = response.content.decode()
    assert "ship by <time" in html
    assert f'datetime="{late.promised_ship_date:%Y-%m-%d}"' in html
    assert f'datetime="{on_time.promised_ship_date:%Y-%m-%d}"' in html
    assert html.count('data-status="late"') == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plans")
def test_late_view_can_use_the_partial_index_on_promised_ship_date(manager, stocked_product):
    """The open branch of "late" is a plain comparison under status = 'open', which the
    partial index order_open_promised answers (no function of a column, no placed_at)."""
    from orders.filters import quick_views

    place(stocked_product, manager)
    cond = {k: c for k, _, c in quick_views()}["late"]
    sql, params = Order.objects.filter(cond).values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "order_open_promised" in plan, plan


def test_quick_view_counts_stop_at_the_cap(manager_client, manager, stocked_product, monkeypatch):
    import orders.filters

    monkeypatch.setattr(orders.filters, "QUICK_VIEW_CAP", 3)
    for _ in range(5):
        place(stocked_product, manager)
    html = manager_client.get("/orders/").content.decode()
    assert 'All<span class="count">3+</span>' in html
    assert 'Open<span class="count">3+</span>' in html
    assert 'On hold<span class="count">0</span>' in html


def test_quick_view_counts_are_one_query_with_limits(manager, stocked_product):
    from orders.filters import quick_view_counts

    for _ in range(4):
        place(stocked_product, manager)
    with CaptureQueriesContext(connection) as ctx:
        counts = quick_view_counts(Order.objects.all(), cap=2)
    assert len(ctx.captured_queries) == 1
    assert ctx.captured_queries[0]["sql"].count("LIMIT 3") == 8
    assert counts["all"] == 3  # 3 = "more than 2"
    assert counts["on_hold"] == 0


# ---------------------------------------------------------------- queries per page


AUTH_TABLES = ("django_session", "auth_user", "auth_group", "auth_user_groups")


def page_queries(captured) -> list[str]:
    """The queries of the page itself: session and authentication lookups left out."""
    return [
        q["sql"]
        for q in captured
        if not any(f'"{t}"' in q["sql"] or f"`{t}`" in q["sql"] for t in AUTH_TABLES)
    ]


def test_a_page_of_the_list_takes_at_most_three_queries(
    client, manager, stocked_product, berlin_product, django_assert_max_num_queries
):
    stock_receive(
        product=stocked_product,
        warehouse=stocked_product.stock_levels.first().warehouse,
        quantity=100,
        actor=manager,
    )
    web = ChannelFactory(slug="web", name="Web shop", kind="web")
    for i in range(55):
        extra = [LineInput(product=berlin_product, quantity=1)] if i % 3 == 0 else []
        place(stocked_product, manager, channel=web if i % 2 else None, extra=extra)
    client.force_login(manager)

    for params in ({}, {"view": "open", "sort": "-total"}, {"warehouse": "BER", "sku": "MUG-WHT"}):
        with django_assert_max_num_queries(6) as captured:  # 3 of them: session, user, roles
            response = client.get("/orders/", params)
        assert response.status_code == 200
        assert len(page_queries(captured.captured_queries)) <= 3, page_queries(
            captured.captured_queries
        )
    assert len(response.context["orders"]) == 19  # every third order has a Berlin mug
    response = client.get("/orders/")
    assert len(response.context["orders"]) == 50
    html = response.content.decode()
    assert "Web shop" in html
    assert "Buyer" in html

    with django_assert_max_num_queries(4) as captured:  # an htmx filter request: one query
        client.get("/orders/", {"q": "buyer"}, HTTP_HX_REQUEST="true")
    assert len(page_queries(captured.captured_queries)) <= 1


# ---------------------------------------------------------------- bulk actions


def bulk(client, action, numbers, **extra):
    data = {"action": action, "orders": numbers, "next": "/orders/?view=open", **extra}
    return client.post("/orders/bulk/", data, follow=True)


def test_bulk_hold_reports_each_order_and_refuses_some(manager_client, manager, stocked_product):
    a, b = place(stocked_product, manager), place(stocked_product, manager)
    cancelled = place(stocked_product, manager)
    from orders.services import order_cancel

    order_cancel(order=cancelled, reason="Test", actor=manager)
    response = bulk(
        manager_client,
        "hold",
        [a.number, b.number, cancelled.number, "NW-0"],
        hold_reason="Address check",
    )
    assert response.redirect_chain[-1][0] == "/orders/?view=open"
    msgs = messages_of(response)
    assert f"2 orders put on hold: {a.number} and {b.number}." in msgs
    assert any(cancelled.number in m and "cannot become on hold" in m for m in msgs)
    assert "Could not hold NW-0: there is no such order." in msgs
    for o in (a, b):
        o.refresh_from_db()
        assert o.status == "on_hold"
        assert o.hold_reason == "Address check"
        assert OrderEvent.objects.filter(order=o, type="held", actor=manager).exists()


def test_the_same_refusal_for_many_orders_is_one_message(manager_client, manager, stocked_product):
    held = [place(stocked_product, manager) for _ in range(3)]
    for o in held:
        order_hold(order=o, reason="Check", actor=manager)
    numbers = [o.number for o in held]
    msgs = messages_of(bulk(manager_client, "hold", numbers, hold_reason="Again"))
    assert msgs == [
        f"Could not hold {numbers[0]}, {numbers[1]} and {numbers[2]}. "
        "Each order is on hold; it cannot become on hold."
    ]


def test_bulk_release_and_cancel(manager_client, manager, stocked_product, carrier):
    held = place(stocked_product, manager)
    order_hold(order=held, reason="Check", actor=manager)
    still_open = place(stocked_product, manager)
    msgs = messages_of(bulk(manager_client, "release", [held.number, still_open.number]))
    assert f"1 order released: {held.number}." in msgs
    assert any(still_open.number in m for m in msgs if m.startswith("Could not release"))

    shipped = place(stocked_product, manager)
    for s in shipments_create(order=shipped, actor=manager):
        shipment_confirm_picked(shipment=s, actor=manager)
        shipment_confirm_packed(shipment=s, actor=manager)
        shipment_ship(shipment=s, carrier=carrier, tracking_number="0034", actor=manager)
    before = StockLevel.objects.get(product=stocked_product).reserved
    response = bulk(
        manager_client, "cancel", [held.number, shipped.number], cancel_reason="Customer asked"
    )
    msgs = messages_of(response)
    assert f"1 order cancelled: {held.number}." in msgs
    assert any(shipped.number in m for m in msgs if m.startswith("Could not cancel"))
    held.refresh_from_db()
    assert held.status == "cancelled"
    assert held.cancel_reason == "Customer asked"
    assert StockLevel.objects.get(product=stocked_product).reserved == before - 1


def test_bulk_needs_a_selection_a_reason_and_the_role(
    client, manager, warehouse_user, stocked_product
):
    order = place(stocked_product, manager)
    client.force_login(manager)
    assert messages_of(bulk(client, "hold", [])) == [
        "Select at least one order first: tick the boxes in the list."
    ]
    msgs = messages_of(bulk(client, "hold", [order.number], hold_reason="  "))
    assert msgs == [
        "Say why the selected orders are held. The reason goes on each order's timeline."
    ]
    assert messages_of(bulk(client, "", [order.number])) == [
        "Choose what to do with the selected orders."
    ]
    client.force_login(warehouse_user)
    msgs = messages_of(bulk(client, "cancel", [order.number], cancel_reason="x"))
    assert msgs == ["Only Customer service, Manager may hold, release or cancel orders."]
    order.refresh_from_db()
    assert order.status == "open"
    assert client.get("/orders/bulk/").status_code == 405


def test_bulk_next_must_be_the_list(manager_client, manager, stocked_product):
    order = place(stocked_product, manager)
    response = manager_client.post(
        "/orders/bulk/",
        {"action": "release", "orders": [order.number], "next": "https://evil.example/orders/"},
    )
    assert response["Location"] == "/orders/"


def test_list_has_checkboxes_and_bulk_actions_by_role(
    client, manager, warehouse_user, stocked_product
):
    order = place(stocked_product, manager)
    client.force_login(manager)
    html = client.get("/orders/").content.decode()
    assert f'<input type="checkbox" name="orders" value="{order.number}"' in html
    assert "data-select-all" in html
    assert 'name="hold_reason"' in html
    assert 'value="cancel" data-confirm=' in html
    assert 'value="print"' in html
    client.force_login(warehouse_user)
    html = client.get("/orders/").content.decode()
    assert 'name="hold_reason"' not in html
    assert 'value="cancel"' not in html
    assert 'value="print"' in html


def test_bulk_print_shows_a_printable_summary_of_each_order(
    manager_client, manager, stocked_product, berlin_product
):
    a = place(stocked_product, manager, quantity=2, name="Ada Lovelace")
    b = place(berlin_product, manager)
    response = bulk(manager_client, "print", [a.number, b.number])
    assert response.redirect_chain[-1][0] == f"/orders/print/?o={a.number}&o={b.number}"
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="card print-order"') == 2
    for text in (a.number, b.number, "Ada Lovelace", "TEE-BLK-M", "Mug, white", "Hafenstraße 12"):
        assert text in html, text
    assert "2 orders to print" in html


# ---------------------------------------------------------------- CSV export


def test_export_streams_every_filtered_order(manager_client, manager, stocked_product, monkeypatch):
    import orders.views

    monkeypatch.setattr(orders.views, "PAGE_SIZE", 2)
    web = ChannelFactory(slug="web", name="Web shop", kind="web")
    web_orders = [
        place(stocked_product, manager, channel=web, quantity=q, external_id=f"W-{q}")
        for q in (1, 2, 3)
    ]
    place(stocked_product, manager)  # phone: filtered out
    evil = place(stocked_product, manager, channel=web, name="=HYPERLINK(1)", external_id="W-9")

    response = manager_client.get("/orders/export.csv", {"channel": "web", "sort": "total"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="orders-')
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "number", "placed_at", "channel", "external_id", "customer", "email", "status",
        "fulfillment", "payment", "currency", "subtotal", "tax", "shipping", "total", "units",
    ]  # fmt: skip
    body = rows[1:]
    assert len(body) == 4  # every web order, not one page of two
    by_number = {r[0]: r for r in body}
    first = web_orders[0]
    row = by_number[first.number]
    assert row[2:10] == [
        "Web shop", "W-1", first.customer.name, first.email, "open", "reserved", "unpaid", "EUR",
    ]  # fmt: skip
    assert row[10:] == [str(first.subtotal), str(first.tax_total), "0.00", str(first.total), "1"]
    assert row[1] == timezone.localtime(first.placed_at).isoformat(timespec="seconds")
    assert [r[14] for r in body] == ["1", "1", "2", "3"]  # sorted by total, as asked
    assert by_number[evil.number][4] == "'=HYPERLINK(1)"


def test_export_link_carries_the_filters(manager_client, manager, stocked_product):
    place(stocked_product, manager)
    html = manager_client.get(
        "/orders/", {"view": "open", "q": "buyer", "after": "x"}
    ).content.decode()
    assert 'href="/orders/export.csv?view=open&amp;q=buyer"' in html


def test_export_needs_a_staff_login(client):
    response = client.get("/orders/export.csv")
    assert response.status_code == 302
    assert "/login/" in response["Location"]
