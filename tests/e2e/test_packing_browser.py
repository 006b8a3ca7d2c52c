"""In real Chromium, keyboard only, as with a barcode scanner (it types the code and Enter):
open a shipment, scan a wrong item (refused loudly, nothing changes), scan the right ones,
weigh a parcel and complete."""

import re
from decimal import Decimal

import pytest

from fulfillment.models import Parcel, Shipment, ShipmentLine
from fulfillment.services import shipment_confirm_picked, shipments_create
from inventory.services import stock_receive
from orders.services import LineInput, order_place
from tests.factories import ProductFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sounds(page) -> list[str]:
    return page.evaluate("window.orderlinePack.sounds")


def _focused(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def test_pack_a_shipment_with_the_keyboard_only(
    page, live_server, manager, warehouse_user, channel, address, stocked_product, warehouses
):
    cap = ProductFactory(sku="CAP-RED", name="Red cap", barcode="4006381000017")
    stock_receive(product=cap, warehouse=warehouses[0], quantity=5, actor=manager, reference="PO")
    order = order_place(
        channel=channel, email="scan@example.com", name="Ada Lovelace", address=address,
        lines=[LineInput(product=stocked_product, quantity=2)], actor=manager,
        shipping_total=Decimal("4.90"),
    )  # fmt: skip
    shipment = shipments_create(order=order, actor=manager)[0]
    shipment_confirm_picked(shipment=shipment, actor=manager)
    line = ShipmentLine.objects.get(shipment=shipment)

    page.goto(f"{live_server.url}/warehouse/pack/")
    page.fill("input[name=username]", warehouse_user.username)
    page.fill("input[name=password]", "orderline-demo")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/warehouse/pack/")
    page.wait_for_load_state()
    assert _focused(page) == "pack-code"

    # The shipment number, as the scanner types it.
    page.keyboard.type(shipment.number)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/warehouse/pack/{shipment.number}/$"))
    page.wait_for_selector(".pack-lines")
    assert "0 of 2 packed" in page.inner_text(".pack-progress")
    assert _focused(page) == "pack-code"

    # A wrong item: a big red refusal, an error sound, nothing counted.
    page.keyboard.type("4006381000017")
    page.keyboard.press("Enter")
    refusal = page.locator(".pack-feedback-error")
    refusal.wait_for()
    assert refusal.is_visible()
    assert "Scanned 4006381000017 (Red cap) — not in this shipment" in refusal.inner_text()
    assert refusal.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(180, 35, 24)"
    assert _sounds(page)[-1] == "error"
    line.refresh_from_db()
    assert line.quantity_packed == 0
    assert _focused(page) == "pack-code"

    # The right item twice, scanned back to back: both count, in order, none lost.
    for _ in range(2):
        page.keyboard.type("4006381333931")
        page.keyboard.press("Enter")
    page.wait_for_selector(".pack-feedback-done")
    assert "2 of 2 packed" in page.inner_text(".pack-progress")
    assert _sounds(page)[-2:] == ["ok", "done"]
    line.refresh_from_db()
    assert line.quantity_packed == 2

    # One more is extra: refused.
    page.keyboard.type("4006381333931")
    page.keyboard.press("Enter")
    page.wait_for_selector(".pack-feedback-error")
    assert "All 2 of SKU TEE-BLK-M are already packed" in page.inner_text(".pack-feedback-error")
    line.refresh_from_db()
    assert line.quantity_packed == 2

    # Complete too early: refused, the parcel is missing.
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(".pack-feedback-error >> text=Add at least one parcel")
    assert Shipment.objects.get(pk=shipment.pk).status == "picking"

    # Alt+P: the weight field, prefilled from the catalogue (2 x 500 g + 150 g), selected.
    page.keyboard.press("Alt+p")
    assert _focused(page) == "id_weight_grams"
    assert page.input_value("#id_weight_grams") == "1150"
    page.keyboard.type("1230")
    page.keyboard.press("Enter")
    page.wait_for_selector(".pack-parcel-list >> text=1230 g")
    assert _focused(page) == "pack-code"

    # Ctrl+Enter completes; the station is ready for the next shipment.
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(f".pack-feedback-done >> text={shipment.number} packed")
    page.wait_for_url(f"{live_server.url}/warehouse/pack/")
    assert _focused(page) == "pack-code"
    assert _sounds(page)[-1] == "done"

    shipment.refresh_from_db()
    assert shipment.status == "packed"
    assert ShipmentLine.objects.get(shipment=shipment).quantity_packed == 2
    assert list(Parcel.objects.filter(shipment=shipment).values_list("number", "weight_grams")) == [
        (1, 1230)
    ]
