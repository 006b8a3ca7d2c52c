"""Reorder suggestions page, its CSV export, restock alert states on the screens."""

import csv
import io

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from inventory.models import RestockAlert
from inventory.selectors import open_restock_alerts
from inventory.services import restock_alerts_check, stock_count
from tests.factories import ProductFactory


@pytest.fixture
def low_tee(stocked_product, warehouses, manager):
    """At its reorder point (10 on hand, point 10), with an open alert."""
    stocked_product.reorder_point = 10
    stocked_product.reorder_quantity = 36
    stocked_product.save()
    restock_alerts_check(product_ids=[stocked_product.pk])
    return stocked_product


def test_reorder_page_lists_products_at_their_reorder_point(client, service_agent, low_tee):
    ProductFactory(sku="PLENTY", reorder_point=0)
    client.force_login(service_agent)

    response = client.get(reverse("inventory:reorder"))

    assert response.status_code == 200
    [row] = response.context["rows"]
    assert (row.product, row.suggested, row.basis) == (low_tee, 36, "reorder_quantity")
    assert row.alert is not None
    html = response.content.decode()
    assert "TEE-BLK-M" in html
    assert "PLENTY" not in html
    assert reverse("inventory:reorder_csv") in html
    assert "email pending" in html
    # Customer service may look, not record purchase orders.
    assert f"{reverse('inventory:expected_receipts')}?sku=" not in html


def test_warehouse_staff_can_announce_the_delivery_from_the_suggestion(
    client, warehouse_user, low_tee
):
    client.force_login(warehouse_user)

    html = client.get(reverse("inventory:reorder")).content.decode()

    assert f"{reverse('inventory:expected_receipts')}?sku=TEE-BLK-M" in html


def test_reorder_page_empty_state(client, manager, db):
    client.force_login(manager)

    html = client.get(reverse("inventory:reorder")).content.decode()

    assert "Nothing needs reordering" in html
    assert reverse("inventory:reorder_csv") not in html


def test_reorder_csv_export(client, manager, low_tee, warehouses):
    ProductFactory(sku="=HYPERLINK", name="+cmd", reorder_point=1)
    client.force_login(manager)

    response = client.get(reverse("inventory:reorder_csv"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="reorder-suggestions-')
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["SKU", "Product", "On hand"]
    assert rows[0][-2:] == ["Suggested quantity", "Basis"]
    by_sku = {r[0]: r for r in rows[1:]}
    tee = by_sku["TEE-BLK-M"]
    assert tee[1:8] == ["Organic tee, black, M", "10", "0", "10", "10", "0", ""]
    assert tee[-2:] == ["36", "Reorder quantity"]
    # Cells a spreadsheet would run as formulas are quoted.
    assert "'=HYPERLINK" in by_sku
    assert by_sku["'=HYPERLINK"][1] == "'+cmd"


def test_reorder_pages_need_a_staff_login(client, low_tee):
    for name in ("inventory:reorder", "inventory:reorder_csv"):
        assert client.get(reverse(name)).status_code == 302


def test_product_page_shows_an_open_restock_alert(client, warehouse_user, low_tee):
    client.force_login(warehouse_user)

    html = client.get(reverse("inventory:product", args=[low_tee.sku])).content.decode()

    assert "Restock alert." in html
    assert "At reorder point" in html
    assert "Suggested order: <strong>36</strong>" in html


def test_product_page_shows_a_cleared_alert(client, warehouse_user, manager, low_tee, warehouses):
    stock_count(product=low_tee, warehouse=warehouses[0], counted=30, actor=manager)
    client.force_login(warehouse_user)

    html = client.get(reverse("inventory:product", args=[low_tee.sku])).content.decode()

    assert "Restock alert." not in html
    assert "last closed" in html


def test_products_list_has_a_reorder_view_and_tab_counts(client, manager, low_tee):
    client.force_login(manager)

    response = client.get(reverse("inventory:products"), {"view": "reorder"})

    assert [p.sku for p in response.context["rows"]] == ["TEE-BLK-M"]
    assert response.context["tab_counts"]["alerts"] == 1


def test_restock_alerts_include_for_the_dashboard(rf, low_tee):
    html = render_to_string(
        "inventory/_restock_alerts.html", {"restock_alerts": open_restock_alerts()}
    )

    assert "TEE-BLK-M" in html
    assert "10 left" in html
    assert "reorder point 10" in html
    assert reverse("inventory:product", args=["TEE-BLK-M"]) in html


def test_restock_alerts_include_when_there_are_none(db):
    html = render_to_string("inventory/_restock_alerts.html", {"restock_alerts": []})

    assert "No product is at its reorder point" in html
    assert not RestockAlert.objects.exists()
