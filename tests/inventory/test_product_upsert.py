"""inventory.services.product_upsert: the catalogue kept in step by a feed."""

from decimal import Decimal

import pytest

from core.errors import NotAllowed, ValidationFailed
from inventory.models import Product, RestockAlert
from inventory.services import product_upsert
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_creates_then_updates_only_given_fields():
    product, created = product_upsert(
        sku=" CAP-1 ", data={"name": "Cap", "price": Decimal("12.5")}, actor=None
    )
    assert created
    assert (product.sku, product.price, product.lead_time_days) == ("CAP-1", Decimal("12.50"), 7)

    product, created = product_upsert(
        sku="CAP-1", data={"lead_time_days": 30, "tax_rate": "0.07"}, actor=None
    )

    assert not created
    product.refresh_from_db()
    assert (product.name, product.price, product.lead_time_days, product.tax_rate) == (
        "Cap",
        Decimal("12.50"),
        30,
        Decimal("0.0700"),
    )


def test_refuses_bad_values_per_field_and_changes_nothing():
    ProductFactory(sku="CAP-1", name="Cap", price=Decimal("12.50"))

    with pytest.raises(ValidationFailed) as exc:
        product_upsert(
            sku="CAP-1",
            data={
                "name": "",
                "price": "12.345",
                "weight_grams": -1,
                "active": "yes",
                "colour": "red",
            },
            actor=None,
        )

    assert set(exc.value.errors) == {"name", "price", "weight_grams", "active", "colour"}
    assert Product.objects.get(sku="CAP-1").name == "Cap"


def test_new_product_needs_name_and_price():
    with pytest.raises(ValidationFailed) as exc:
        product_upsert(sku="NEW", data={}, actor=None)
    assert set(exc.value.errors) == {"name", "price"}


def test_only_managers_change_the_catalogue(service_agent, manager):
    with pytest.raises(NotAllowed):
        product_upsert(sku="NEW", data={"name": "X", "price": "1"}, actor=service_agent)
    assert product_upsert(sku="NEW", data={"name": "X", "price": "1"}, actor=manager)[1]


def test_raising_the_reorder_point_opens_a_restock_alert(stocked_product):
    product_upsert(sku=stocked_product.sku, data={"reorder_point": 10}, actor=None)  # 10 on hand

    assert RestockAlert.objects.filter(product=stocked_product, closed_at__isnull=True).exists()
