"""Catalogue and stock over the JSON API, so an ERP or a supplier feed keeps them in step:
create or update products, record receipts and adjustments, read available to promise.

Authentication, Idempotency-Key handling and the problem+json errors are the API's
(``core.api``); here a request is parsed, one service is called and the answer described."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from django.conf import settings
from django.http import Http404
from django.urls import reverse
from ninja import Field, Router, Schema
from ninja.responses import Status
from pydantic import ConfigDict

from core.errors import ValidationFailed
from orders.services import stock_receipt_record

from .models import ExpectedReceipt, Product, Warehouse
from .selectors import atp_detail
from .services import product_upsert, stock_adjust

router = Router(tags=["Catalogue and stock"])

DecimalString = Annotated[str, Field(json_schema_extra={"format": "decimal"}, examples=["24.90"])]


class StrictSchema(Schema):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# ---------------------------------------------------------------- products


class DimensionsIn(StrictSchema):
    length_mm: int | None = Field(None, ge=0)
    width_mm: int | None = Field(None, ge=0)
    height_mm: int | None = Field(None, ge=0)


class ProductIn(StrictSchema):
    name: str | None = Field(None, max_length=200, description="Required for a new product.")
    description: str | None = None
    price: Decimal | None = Field(
        None,
        ge=0,
        max_digits=12,
        decimal_places=2,
        description="Net unit price. Required for a new product.",
    )
    tax_rate: Decimal | None = Field(
        None, ge=0, lt=1, max_digits=5, decimal_places=4, description="A fraction: 0.19 for 19 %."
    )
    barcode: str | None = Field(None, max_length=64, description="EAN/UPC; unique across products.")
    weight_grams: int | None = Field(None, ge=0)
    dimensions: DimensionsIn | None = None
    active: bool | None = Field(None, description="Inactive products can no longer be ordered.")
    allow_backorder: bool | None = Field(
        None, description="Take orders beyond stock; receipts fill them oldest order first."
    )
    reorder_point: int | None = Field(
        None, ge=0, description="Restock alert when available falls to this."
    )
    reorder_quantity: int | None = Field(None, ge=0)
    lead_time_days: int | None = Field(None, ge=0, le=32767, description="Supplier lead time.")


class DimensionsOut(Schema):
    length_mm: int
    width_mm: int
    height_mm: int


class ProductOut(Schema):
    sku: str
    name: str
    description: str
    price: DecimalString
    tax_rate: DecimalString
    barcode: str
    weight_grams: int
    dimensions: DimensionsOut
    active: bool
    allow_backorder: bool
    reorder_point: int
    reorder_quantity: int
    lead_time_days: int
    availability_url: str
    created_at: datetime
    updated_at: datetime


def product_out(product: Product) -> dict:
    return {
        "sku": product.sku,
        "name": product.name,
        "description": product.description,
        "price": f"{product.price:.2f}",
        "tax_rate": f"{product.tax_rate:.4f}",
        "barcode": product.barcode,
        "weight_grams": product.weight_grams,
        "dimensions": {
            "length_mm": product.length_mm,
            "width_mm": product.width_mm,
            "height_mm": product.height_mm,
        },
        "active": product.active,
        "allow_backorder": product.allow_backorder,
        "reorder_point": product.reorder_point,
        "reorder_quantity": product.reorder_quantity,
        "lead_time_days": product.lead_time_days,
        "availability_url": settings.SITE_URL
        + reverse("api:product_availability", kwargs={"sku": product.sku}),
        "created_at": product.created_at,
        "updated_at": product.updated_at,
    }


def _product(sku: str) -> Product:
    product = Product.objects.filter(sku=sku).first()
    if product is None:
        raise Http404(f"No product with SKU {sku!r}.")
    return product


_DIMENSION_FIELDS = {f"{k}": f"dimensions.{k}" for k in ("length_mm", "width_mm", "height_mm")}


@router.put(
    "/products/{sku}",
    response={200: ProductOut, 201: ProductOut},
    operation_id="putProduct",
    summary="Create or update a product",
    url_name="product",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "example": {
                        "name": "Organic tee, black, M",
                        "price": "24.90",
                        "tax_rate": "0.19",
                        "barcode": "4006381333931",
                        "weight_grams": 180,
                        "dimensions": {"length_mm": 300, "width_mm": 220, "height_mm": 20},
                        "active": True,
                        "allow_backorder": False,
                        "reorder_point": 20,
                        "reorder_quantity": 100,
                        "lead_time_days": 14,
                    }
                }
            }
        }
    },
)
def put_product(request, sku: str, payload: ProductIn):
    """Create the product with this SKU (201; name and price required) or update it (200).
    Fields you leave out keep their value. Stock is not changed here: use receipts and
    adjustments."""
    data = payload.model_dump(exclude_unset=True)
    data.update(data.pop("dimensions", None) or {})  # only the dimensions sent
    for key in ("barcode", "description"):
        if key in data and data[key] is None:
            data[key] = ""
    try:
        product, created = product_upsert(sku=sku, data=data, actor=None)
    except ValidationFailed as exc:
        raise ValidationFailed(
            {_DIMENSION_FIELDS.get(k, k): v for k, v in exc.errors.items()}
        ) from exc
    return Status(201 if created else 200, product_out(product))


@router.get(
    "/products/{sku}", response=ProductOut, operation_id="getProduct", summary="Get a product"
)
def get_product(request, sku: str):
    return product_out(_product(sku))


# ---------------------------------------------------------------- availability


class WarehouseAvailability(Schema):
    code: str
    name: str
    on_hand: int
    reserved: int
    available: int


class ExpectedOut(Schema):
    date: date
    quantity: int = Field(..., description="Units still to come.")
    warehouse: str
    reference: str
    late: bool = Field(..., description="Its date has passed and it has not arrived.")


class AvailabilityOut(Schema):
    sku: str
    name: str
    active: bool
    allow_backorder: bool
    available: int = Field(
        ..., description="Available to promise now: on hand minus reserved, active warehouses."
    )
    on_hand: int
    reserved: int
    backordered: int = Field(
        ..., description="Units ordered and waiting; the next receipts fill them first."
    )
    warehouses: list[WarehouseAvailability]
    next_expected_receipt: ExpectedOut | None
    expected_receipts: list[ExpectedOut]


@router.get(
    "/products/{sku}/availability",
    response=AvailabilityOut,
    operation_id="getAvailability",
    summary="Available to promise",
    url_name="product_availability",
)
def get_availability(request, sku: str):
    """What can be promised now, per active warehouse, and what is on its way (open expected
    receipts, earliest first)."""
    product = _product(sku)
    atp = atp_detail(product_ids=[product.pk])[product.pk]
    expected = [
        {
            "date": e.expected_on,
            "quantity": e.quantity,
            "warehouse": e.warehouse_code,
            "reference": e.reference,
            "late": e.late,
        }
        for e in atp.expected
    ]
    return {
        "sku": product.sku,
        "name": product.name,
        "active": product.active,
        "allow_backorder": product.allow_backorder,
        "available": atp.available,
        "on_hand": atp.on_hand,
        "reserved": atp.reserved,
        "backordered": atp.backordered,
        "warehouses": [
            {
                "code": w.code,
                "name": w.name,
                "on_hand": w.on_hand,
                "reserved": w.reserved,
                "available": w.available,
            }
            for w in atp.warehouses
        ],
        "next_expected_receipt": expected[0] if expected else None,
        "expected_receipts": expected,
    }


# ---------------------------------------------------------------- stock movements


class ReceiptIn(StrictSchema):
    sku: str = Field(..., min_length=1, max_length=64)
    warehouse: str = Field(
        ..., min_length=1, max_length=16, description="Warehouse code, e.g. HAM."
    )
    quantity: int = Field(..., ge=1, le=1_000_000)
    reference: str = Field(
        "",
        max_length=100,
        description="Your delivery or purchase order number. When an "
        "open expected receipt of this product in this "
        "warehouse has this reference, it is marked received.",
    )


class AdjustmentIn(StrictSchema):
    sku: str = Field(..., min_length=1, max_length=64)
    warehouse: str = Field(
        ..., min_length=1, max_length=16, description="Warehouse code, e.g. HAM."
    )
    delta: int = Field(
        ...,
        ge=-1_000_000,
        le=1_000_000,
        description="Units to add (positive) or remove (negative).",
    )
    reason: str = Field(
        ..., min_length=1, max_length=255, description="Why: damaged, found, count correction…"
    )
    reference: str = Field("", max_length=100)


class StockLevelOut(Schema):
    sku: str
    warehouse: str
    on_hand: int
    reserved: int
    available: int = Field(..., description="In this warehouse: on hand minus reserved.")
    available_total: int = Field(
        ..., description="Available to promise over all active warehouses."
    )
    backordered: int = Field(..., description="Units of this product still waiting for stock.")


def _product_and_warehouse(sku: str, code: str) -> tuple[Product, Warehouse]:
    errors = {}
    product = Product.objects.filter(sku=sku).first()
    if product is None:
        errors["sku"] = [f"No product with SKU {sku!r}."]
    warehouse = Warehouse.objects.filter(code__iexact=code).first()
    if warehouse is None:
        codes = ", ".join(
            Warehouse.objects.order_by("priority", "code").values_list("code", flat=True)
        )
        errors["warehouse"] = [
            f"No warehouse with code {code!r}. Known codes: {codes or 'none yet'}."
        ]
    if errors:
        raise ValidationFailed(errors)
    return product, warehouse


def _level_out(product: Product, warehouse: Warehouse, level) -> dict:
    level.refresh_from_db()  # a receipt may have filled backorders after receiving
    atp = atp_detail(product_ids=[product.pk])[product.pk]
    return {
        "sku": product.sku,
        "warehouse": warehouse.code,
        "on_hand": level.on_hand,
        "reserved": level.reserved,
        "available": level.on_hand - level.reserved,
        "available_total": atp.available,
        "backordered": atp.backordered,
    }


@router.post(
    "/stock/receipts",
    response={201: StockLevelOut},
    operation_id="recordReceipt",
    summary="Record a receipt",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "example": {
                        "sku": "TEE-BLK-M",
                        "warehouse": "HAM",
                        "quantity": 48,
                        "reference": "PO-2026-0042",
                    }
                }
            }
        }
    },
)
def record_receipt(request, payload: ReceiptIn):
    """Stock arrived in a warehouse. Waiting backorders are filled at once, oldest order
    first, and their customers are told."""
    product, warehouse = _product_and_warehouse(payload.sku, payload.warehouse)
    expected = None
    if payload.reference:
        expected = (
            ExpectedReceipt.objects.filter(
                product=product,
                warehouse=warehouse,
                reference=payload.reference,
                status=ExpectedReceipt.Status.OPEN,
            )
            .order_by("expected_on", "pk")
            .first()
        )
    level = stock_receipt_record(
        product=product,
        warehouse=warehouse,
        quantity=payload.quantity,
        actor=None,
        reference=payload.reference,
        reason="Received through the API",
        expected_receipt=expected,
    )
    return Status(201, _level_out(product, warehouse, level))


@router.post(
    "/stock/adjustments",
    response={201: StockLevelOut},
    operation_id="recordAdjustment",
    summary="Adjust stock",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "example": {
                        "sku": "TEE-BLK-M",
                        "warehouse": "HAM",
                        "delta": -2,
                        "reason": "Damaged in storage",
                    }
                }
            }
        }
    },
)
def record_adjustment(request, payload: AdjustmentIn):
    """Correct what a warehouse holds, with a reason (written to the stock ledger). Stock
    reserved for orders cannot be adjusted away (422 on delta)."""
    product, warehouse = _product_and_warehouse(payload.sku, payload.warehouse)
    level = stock_adjust(
        product=product,
        warehouse=warehouse,
        delta=payload.delta,
        reason=payload.reason,
        actor=None,
        reference=payload.reference,
    )
    return Status(201, _level_out(product, warehouse, level))
