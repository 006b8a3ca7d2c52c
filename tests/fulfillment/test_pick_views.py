"""Pick lists over HTTP: making one with filters, walking it on screen, confirming lines and
short picks (with and without htmx), the PDF, and who may do it."""

import io

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from fulfillment.models import PickList, Shipment, ShipmentLine
from fulfillment.picking import pick_list_create
from orders.models import Order, OrderEvent

from .test_picking import carriers, place, shelf  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def two_orders(channel, manager, address, shelf):  # noqa: F811
    a = place(channel, manager, address, [(shelf["mug"], 2), (shelf["tee"], 1)])
    b = place(channel, manager, address, [(shelf["mug"], 1)], method="Express")
    return a, b


def test_pick_lists_page_shows_what_a_new_list_would_take(client, warehouse_user, two_orders):
    client.force_login(warehouse_user)
    response = client.get(reverse("fulfillment:pick_lists"))
    assert response.status_code == 200
    assert response.context["warehouse"].code == "HAM"
    assert response.context["ready_count"] == 2
    html = response.content.decode()
    assert "Create pick list" in html
    assert "2</strong> orders ready in HAM" in html
    # htmx preview as the filters change
    preview = client.get(
        reverse("fulfillment:pick_lists"), {"shipping_method": "Express", "preview": "1"}, **HTMX
    )
    assert preview.status_code == 200
    assert "1</strong> order ready in HAM" in preview.content.decode()
    assert "<form" not in preview.content.decode()


def test_making_a_pick_list_goes_to_its_walk(client, warehouse_user, two_orders):
    client.force_login(warehouse_user)
    response = client.post(
        reverse("fulfillment:pick_lists") + "?warehouse=HAM", {"priority": "placed", "limit": "10"}
    )
    pl = PickList.objects.get()
    assert response.status_code == 302
    assert response["Location"] == pl.get_absolute_url()
    assert any("in totes T1–T2" in m for m in _messages(response))

    page = client.get(pl.get_absolute_url())
    html = page.content.decode()
    assert page.status_code == 200
    # The walk by bin: A-02-3 (tee) before B-10-1 (mug); the mug goes into both totes.
    assert html.index("A-02-3") < html.index("B-10-1")
    assert "T1 ×2, T2 ×1" in html
    assert [r["sku"] for r in page.context["walk"]] == ["TEE-01", "MUG-01"]
    assert reverse("fulfillment:pick_list_pdf", args=[pl.number]) in html


def test_pick_list_filters_are_applied_from_the_form(client, warehouse_user, two_orders):
    _, express = two_orders
    client.force_login(warehouse_user)
    client.post(
        reverse("fulfillment:pick_lists"),
        {"warehouse": "HAM", "shipping_method": "express", "single_line": "on", "limit": "5"},
    )
    pl = PickList.objects.get()
    assert list(pl.shipments.values_list("order_id", flat=True)) == [express.pk]
    assert pl.filters["single_line"] is True


def test_a_bad_limit_is_shown_next_to_the_field_and_changes_nothing(
    client, warehouse_user, two_orders
):
    client.force_login(warehouse_user)
    response = client.post(reverse("fulfillment:pick_lists"), {"warehouse": "HAM", "limit": "0"})
    assert response.status_code == 400
    assert "Take from 1 to 1000 orders" in response.content.decode()
    assert response.context["values"]["limit"] == "0"
    assert not PickList.objects.exists()
    assert not Shipment.objects.exists()


def test_nothing_to_pick_says_so(client, warehouse_user, two_orders):
    client.force_login(warehouse_user)
    response = client.post(reverse("fulfillment:pick_lists"), {"warehouse": "BER", "limit": "5"})
    assert response.status_code == 400
    assert "No order is ready to pick in BER" in response.content.decode()


@pytest.mark.parametrize("name", ["fulfillment:pick_lists"])
def test_finance_may_not_see_or_make_pick_lists(client, finance_user, two_orders, name):
    client.force_login(finance_user)
    assert client.get(reverse(name)).status_code == 403
    assert client.post(reverse(name), {"warehouse": "HAM", "limit": "5"}).status_code == 403
    assert not PickList.objects.exists()


def test_anonymous_user_is_sent_to_login(client, two_orders):
    response = client.get(reverse("fulfillment:pick_lists"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.fixture
def pick_list(two_orders, warehouse_user, shelf):  # noqa: F811
    return pick_list_create(
        warehouse=shelf["ham"], filters={"priority": "placed"}, limit=10, actor=warehouse_user
    )


def _line(pl, tote, sku):
    return ShipmentLine.objects.get(
        shipment__pick_list=pl, shipment__tote=tote, order_line__sku=sku
    )


def test_confirming_a_tote_without_javascript_redirects_back_to_the_row(
    client, warehouse_user, pick_list
):
    client.force_login(warehouse_user)
    line = _line(pick_list, "T1", "TEE-01")
    response = client.post(
        reverse("fulfillment:pick_confirm", args=[pick_list.number]),
        {"line": line.pk, "row": "row-1"},
    )
    assert response.status_code == 302
    assert response["Location"] == pick_list.get_absolute_url() + "#row-1"
    line.refresh_from_db()
    assert line.pick_confirmed
    assert line.quantity_picked == 1


def test_confirming_with_htmx_returns_the_updated_walk(client, warehouse_user, pick_list):
    client.force_login(warehouse_user)
    mug_lines = [_line(pick_list, "T1", "MUG-01").pk, _line(pick_list, "T2", "MUG-01").pk]
    response = client.post(
        reverse("fulfillment:pick_confirm", args=[pick_list.number]),
        {"line": mug_lines, "row": "row-2"},
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="walk">')
    assert "<html" not in html
    assert "T2 ×1 ✓" in html
    assert (
        Shipment.objects.get(pick_list=pick_list, tote="T2").picked_at is not None
    )  # its only line
    # Confirming the same line again is refused in the row, and changes nothing.
    again = client.post(
        reverse("fulfillment:pick_confirm", args=[pick_list.number]),
        {"line": mug_lines[0], "row": "row-2"},
        **HTMX,
    )
    assert again.status_code == 409
    assert "already confirmed" in again.content.decode()


def test_short_pick_over_http_backorders_and_tells_the_timeline(
    client,
    warehouse_user,
    pick_list,
    shelf,  # noqa: F811 (the fixture, imported from test_picking)
):
    client.force_login(warehouse_user)
    line = _line(pick_list, "T1", "MUG-01")
    response = client.post(
        reverse("fulfillment:pick_short", args=[pick_list.number]),
        {"line": line.pk, "found": "1", "row": "row-2"},
    )
    assert response.status_code == 302
    assert any("Short pick recorded: 1 missing, 1 backordered" in m for m in _messages(response))
    line.refresh_from_db()
    assert (line.quantity, line.quantity_short) == (1, 1)
    order = Order.objects.get(pk=line.shipment.order_id)
    assert OrderEvent.objects.filter(order=order, type="short_picked").exists()
    page = client.get(pick_list.get_absolute_url()).content.decode()
    assert "1 short" in page
    # The order's page (staff) shows the short pick with its reason.
    assert "found 1 of 2" in client.get(order.get_absolute_url()).content.decode()


def test_a_short_pick_with_a_bad_count_shows_the_error_in_the_row(
    client, warehouse_user, pick_list
):
    client.force_login(warehouse_user)
    line = _line(pick_list, "T1", "MUG-01")
    response = client.post(
        reverse("fulfillment:pick_short", args=[pick_list.number]),
        {"line": line.pk, "found": "7", "row": "row-2"},
        **HTMX,
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "from 0 to 1" in html
    assert 'value="7"' in html  # what was typed stays
    line.refresh_from_db()
    assert not line.pick_confirmed
    assert line.quantity_short == 0


def test_the_pick_list_pdf_downloads(client, warehouse_user, pick_list):
    from pypdf import PdfReader

    client.force_login(warehouse_user)
    response = client.get(reverse("fulfillment:pick_list_pdf", args=[pick_list.number]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "MUG-01" in text
    assert "TEE-01" in text


def test_finance_may_not_confirm_lines(client, finance_user, pick_list):
    client.force_login(finance_user)
    line = _line(pick_list, "T1", "TEE-01")
    assert client.get(pick_list.get_absolute_url()).status_code == 403
    response = client.post(
        reverse("fulfillment:pick_confirm", args=[pick_list.number]), {"line": line.pk}
    )
    assert response.status_code == 403
    line.refresh_from_db()
    assert not line.pick_confirmed


@pytest.mark.parametrize("line_value", ["²", "١", "9" * 25, ""])
@pytest.mark.parametrize("row", ["row-²", "row-9999999999999999999999"])
@pytest.mark.parametrize("action", ["pick_confirm", "pick_short"])
def test_odd_line_or_row_values_get_a_clear_refusal_not_a_500(
    client, warehouse_user, pick_list, action, line_value, row
):
    client.force_login(warehouse_user)
    before = sorted(
        ShipmentLine.objects.values_list(
            "pk", "quantity", "quantity_picked", "quantity_short", "pick_confirmed"
        )
    )
    url = reverse(f"fulfillment:{action}", args=[pick_list.number])
    data = {"line": line_value, "row": row, "found": "0"}

    fragment = client.post(url, data, **HTMX)
    page = client.post(url, data)

    said = (
        "Choose the line you picked." if action == "pick_confirm" else "A line is not on pick list"
    )
    assert fragment.status_code in (409, 422)
    assert said in fragment.content.decode()
    assert page.status_code == 302
    assert any(said in m for m in _messages(page))
    after = sorted(
        ShipmentLine.objects.values_list(
            "pk", "quantity", "quantity_picked", "quantity_short", "pick_confirmed"
        )
    )
    assert after == before
