"""PUT/GET /api/v1/products/{sku}, GET .../availability, POST /api/v1/stock/receipts and /adjustments."""

import datetime
from decimal import Decimal

import pytest

from inventory.models import ExpectedReceipt, Product, StockLevel, StockMovement
from inventory.selectors import stock_discrepancies
from orders.models import Order
from tests.factories import ProductFactory, WarehouseFactory

from .conftest import assert_problem, order_body

pytestmark = pytest.mark.django_db


def test_put_creates_a_product_with_201(api):
    response = api.put(
        "/api/v1/products/HOODIE-L",
        {
            "name": "Hoodie, L",
            "price": "59.00",
            "tax_rate": "0.19",
            "barcode": "4006381333948",
            "weight_grams": 650,
            "dimensions": {"length_mm": 350, "width_mm": 280, "height_mm": 60},
            "allow_backorder": True,
            "reorder_point": 5,
            "reorder_quantity": 40,
            "lead_time_days": 21,
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sku"] == "HOODIE-L"
    assert body["price"] == "59.00"
    assert body["tax_rate"] == "0.1900"
    assert body["dimensions"] == {"length_mm": 350, "width_mm": 280, "height_mm": 60}
    assert body["availability_url"].endswith("/api/v1/products/HOODIE-L/availability")
    product = Product.objects.get(sku="HOODIE-L")
    assert (product.price, product.allow_backorder, product.lead_time_days, product.height_mm) == (
        Decimal("59.00"),
        True,
        21,
        60,
    )


def test_put_updates_only_the_fields_sent_with_200(api):
    ProductFactory(
        sku="MUG-WHT", name="Mug", price=Decimal("9.50"), weight_grams=400, length_mm=100
    )

    response = api.put(
        "/api/v1/products/MUG-WHT",
        {"price": "11.00", "active": False, "dimensions": {"width_mm": 90}},
    )

    assert response.status_code == 200, response.content
    product = Product.objects.get(sku="MUG-WHT")
    assert (product.name, product.price, product.active, product.weight_grams) == (
        "Mug",
        Decimal("11.00"),
        False,
        400,
    )
    assert (product.length_mm, product.width_mm) == (100, 90)


def test_put_a_new_product_needs_name_and_price(api):
    response = api.put("/api/v1/products/NEW-1", {"weight_grams": 10})

    problem = assert_problem(response, 422, "validation-failed")
    assert set(problem["errors"]) == {"name", "price"}
    assert not Product.objects.filter(sku="NEW-1").exists()


def test_put_refuses_invalid_values_per_field(api):
    response = api.put(
        "/api/v1/products/NEW-1",
        {
            "name": "X",
            "price": "-1",
            "tax_rate": "1.5",
            "dimensions": {"height_mm": -3},
            "colour": "red",
        },
    )

    problem = assert_problem(response, 422, "validation-failed")
    assert set(problem["errors"]) == {"price", "tax_rate", "dimensions.height_mm", "colour"}


def test_put_refuses_a_barcode_of_another_product(api):
    ProductFactory(sku="A-1", barcode="4006381333931")

    response = api.put(
        "/api/v1/products/B-1", {"name": "B", "price": "1.00", "barcode": "4006381333931"}
    )

    problem = assert_problem(response, 422, "validation-failed")
    assert problem["errors"] == {"barcode": ["Barcode 4006381333931 belongs to A-1 already."]}


def test_get_product(api, catalogue):
    assert api.get("/api/v1/products/TEE-BLK-M").json()["name"] == "Organic tee, black, M"
    assert_problem(api.get("/api/v1/products/NOPE"), 404, "not-found")


def test_availability_per_warehouse_with_the_next_expected_receipt(api, catalogue, manager):
    ber = WarehouseFactory(code="BER", name="Berlin", priority=2)
    ExpectedReceipt.objects.create(
        product=catalogue["tee"],
        warehouse=ber,
        quantity=30,
        expected_on=datetime.date(2099, 3, 1),
        reference="PO-9",
    )
    ExpectedReceipt.objects.create(
        product=catalogue["tee"],
        warehouse=catalogue["ham"],
        quantity=12,
        quantity_received=2,
        expected_on=datetime.date(2099, 2, 1),
        reference="PO-8",
    )
    ExpectedReceipt.objects.create(
        product=catalogue["tee"],
        warehouse=ber,
        quantity=5,
        expected_on=datetime.date(2099, 1, 1),
        status=ExpectedReceipt.Status.CANCELLED,
    )
    api.post("/api/v1/orders", order_body(lines=[{"sku": "TEE-BLK-M", "quantity": 3}]))

    response = api.get("/api/v1/products/TEE-BLK-M/availability")

    assert response.status_code == 200
    body = response.json()
    assert (body["available"], body["on_hand"], body["reserved"]) == (7, 10, 3)
    assert body["warehouses"] == [
        {"code": "HAM", "name": "Hamburg", "on_hand": 10, "reserved": 3, "available": 7},
        {"code": "BER", "name": "Berlin", "on_hand": 0, "reserved": 0, "available": 0},
    ]
    assert body["next_expected_receipt"] == {
        "date": "2099-02-01",
        "quantity": 10,
        "warehouse": "HAM",
        "reference": "PO-8",
        "late": False,
    }
    assert [e["reference"] for e in body["expected_receipts"]] == ["PO-8", "PO-9"]


def test_availability_without_expected_receipts(api, catalogue):
    body = api.get("/api/v1/products/MUG-WHT/availability").json()

    assert body["available"] == 5
    assert body["next_expected_receipt"] is None
    assert_problem(api.get("/api/v1/products/NOPE/availability"), 404, "not-found")


def test_receipt_adds_stock_and_fills_backorders(api, catalogue):
    placed = api.post(
        "/api/v1/orders", order_body(lines=[{"sku": "PRE-ORDER", "quantity": 3}])
    ).json()
    ExpectedReceipt.objects.create(
        product=catalogue["pre"],
        warehouse=catalogue["ham"],
        quantity=20,
        expected_on=datetime.date(2099, 1, 1),
        reference="PO-77",
    )

    response = api.post(
        "/api/v1/stock/receipts",
        {"sku": "PRE-ORDER", "warehouse": "ham", "quantity": 20, "reference": "PO-77"},
        key="r-1",
    )

    assert response.status_code == 201, response.content
    assert response.json() == {
        "sku": "PRE-ORDER",
        "warehouse": "HAM",
        "on_hand": 20,
        "reserved": 3,
        "available": 17,
        "available_total": 17,
        "backordered": 0,
    }
    line = Order.objects.get(number=placed["number"]).lines.get()
    assert (line.quantity_reserved, line.quantity_backordered) == (3, 0)
    assert ExpectedReceipt.objects.get(reference="PO-77").status == ExpectedReceipt.Status.RECEIVED
    replay = api.post(
        "/api/v1/stock/receipts",
        {"sku": "PRE-ORDER", "warehouse": "ham", "quantity": 20, "reference": "PO-77"},
        key="r-1",
    )
    assert replay["Idempotent-Replayed"] == "true"
    assert StockLevel.objects.get(product=catalogue["pre"]).on_hand == 20
    assert stock_discrepancies() == []


def test_receipt_needs_a_key_and_known_sku_and_warehouse(api, catalogue):
    body = {"sku": "TEE-BLK-M", "warehouse": "HAM", "quantity": 5}
    assert_problem(
        api.post("/api/v1/stock/receipts", body, key=None), 400, "idempotency-key-missing"
    )

    problem = assert_problem(
        api.post("/api/v1/stock/receipts", {**body, "sku": "NOPE", "warehouse": "XXX"}),
        422,
        "validation-failed",
    )
    assert problem["errors"]["sku"] == ["No product with SKU 'NOPE'."]
    assert "Known codes: HAM" in problem["errors"]["warehouse"][0]
    problem = assert_problem(
        api.post("/api/v1/stock/receipts", {**body, "quantity": 0}), 422, "validation-failed"
    )
    assert list(problem["errors"]) == ["quantity"]
    assert StockLevel.objects.get(product=catalogue["tee"]).on_hand == 10


def test_adjustment_changes_on_hand_with_a_reason_in_the_ledger(api, catalogue):
    response = api.post(
        "/api/v1/stock/adjustments",
        {"sku": "TEE-BLK-M", "warehouse": "HAM", "delta": -2, "reason": "Damaged in storage"},
    )

    assert response.status_code == 201, response.content
    assert response.json()["on_hand"] == 8
    movement = StockMovement.objects.filter(product=catalogue["tee"], kind="adjustment").get()
    assert (movement.on_hand_delta, movement.reason, movement.actor) == (
        -2,
        "Damaged in storage",
        None,
    )


def test_adjustment_cannot_remove_reserved_stock(api, catalogue):
    api.post("/api/v1/orders", order_body(lines=[{"sku": "TEE-BLK-M", "quantity": 9}]))

    response = api.post(
        "/api/v1/stock/adjustments",
        {"sku": "TEE-BLK-M", "warehouse": "HAM", "delta": -2, "reason": "Lost"},
    )

    problem = assert_problem(response, 422, "refused")
    assert list(problem["errors"]) == ["delta"]
    assert StockLevel.objects.get(product=catalogue["tee"]).on_hand == 10


def test_adjustment_needs_a_reason(api, catalogue):
    response = api.post(
        "/api/v1/stock/adjustments", {"sku": "TEE-BLK-M", "warehouse": "HAM", "delta": 1}
    )

    problem = assert_problem(response, 422, "validation-failed")
    assert problem["errors"] == {"reason": ["This field is required."]}
