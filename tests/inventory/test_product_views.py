"""Staff inventory screens: products with stock, and one product's levels and ledger."""

from decimal import Decimal

import pytest
from django.urls import reverse

from inventory.services import stock_adjust, stock_receive
from tests.factories import ProductFactory


@pytest.fixture
def catalog(db, warehouses, manager, stocked_product):
    """TEE-BLK-M: 10 on hand in HAM. Plus one sold out, one running low, one retired."""
    sold_out = ProductFactory(sku="CAP-NVY", name="Wool cap, navy", barcode="4006381333979")
    low = ProductFactory(sku="SOCK-3P", name="Merino socks, 3-pack")
    stock_receive(product=low, warehouse=warehouses[1], quantity=3, actor=manager, reference="PO-2")
    retired = ProductFactory(sku="TEE-OLD", name="Classic tee (retired)", active=False)
    return {"tee": stocked_product, "sold_out": sold_out, "low": low, "retired": retired}


def rows_of(response) -> list[str]:
    return [p.sku for p in response.context["rows"]]


def test_products_list_shows_stock_with_reserved_and_available(
    client, warehouse_user, catalog, placed_order
):
    client.force_login(warehouse_user)

    response = client.get(reverse("inventory:products"))

    assert response.status_code == 200
    tee = next(p for p in response.context["rows"] if p.sku == "TEE-BLK-M")
    assert (tee.on_hand_total, tee.reserved_total, tee.available_total) == (10, 2, 8)
    html = response.content.decode()
    assert reverse("inventory:product", args=["TEE-BLK-M"]) in html
    assert "TEE-OLD" not in html  # active products by default


def test_sold_out_is_red_and_low_is_amber(client, manager, catalog):
    client.force_login(manager)

    html = client.get(reverse("inventory:products")).content.decode()

    assert '<span class="stock stock-out">0</span>' in html
    assert '<span class="stock stock-low">3</span>' in html


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        ("active", ["CAP-NVY", "SOCK-3P", "TEE-BLK-M"]),
        ("out", ["CAP-NVY"]),
        ("low", ["SOCK-3P"]),
        ("inactive", ["TEE-OLD"]),
        ("all", ["CAP-NVY", "SOCK-3P", "TEE-BLK-M", "TEE-OLD"]),
    ],
)
def test_quick_views(client, manager, catalog, view, expected):
    client.force_login(manager)

    response = client.get(reverse("inventory:products"), {"view": view})

    assert rows_of(response) == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [("tee-blk", ["TEE-BLK-M"]), ("merino", ["SOCK-3P"]), ("4006381333979", ["CAP-NVY"])],
)
def test_search_by_sku_name_or_barcode(client, manager, catalog, q, expected):
    client.force_login(manager)

    response = client.get(reverse("inventory:products"), {"q": q})

    assert rows_of(response) == expected


def test_search_with_no_match_says_so(client, manager, catalog):
    client.force_login(manager)

    response = client.get(reverse("inventory:products"), {"q": "zzz"})

    assert "No product matches" in response.content.decode()


def test_search_as_you_type_returns_the_fragment(client, manager, catalog):
    client.force_login(manager)

    response = client.get(
        reverse("inventory:products"), {"q": "tee"}, headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert "TEE-BLK-M" in html
    assert "<html" not in html


def test_product_page_shows_facts_levels_and_movements(
    client, warehouse_user, manager, catalog, warehouses, placed_order
):
    tee = catalog["tee"]
    stock_adjust(
        product=tee,
        warehouse=warehouses[0],
        delta=-1,
        reason="Damaged in storage",
        actor=manager,
        reference="CNT-1",
    )
    client.force_login(warehouse_user)

    response = client.get(reverse("inventory:product", args=[tee.sku]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Organic tee, black, M" in html
    assert "€25.00" in html
    assert "19 %" in html
    assert "4006381333931" in html
    levels = {row["warehouse"].code: row for row in response.context["levels"]}
    assert (levels["HAM"]["on_hand"], levels["HAM"]["reserved"], levels["HAM"]["available"]) == (
        9,
        2,
        7,
    )
    assert (levels["BER"]["on_hand"], levels["BER"]["available"]) == (0, 0)
    kinds = [m.kind for m in response.context["movements"]]
    assert kinds == ["adjustment", "reservation", "receipt"]
    assert "Damaged in storage" in html
    assert "PO-1" in html
    # A reservation's reference links to its order.
    assert reverse("orders:detail", args=[placed_order.number]) in html
    assert "Edit in back office" not in html  # managers only


def test_manager_sees_the_back_office_link(client, manager, catalog):
    client.force_login(manager)

    html = client.get(reverse("inventory:product", args=["TEE-BLK-M"])).content.decode()

    assert reverse("admin:inventory_product_change", args=[catalog["tee"].pk]) in html


def test_unknown_sku_is_404(client, manager, catalog):
    client.force_login(manager)

    assert client.get(reverse("inventory:product", args=["NOPE"])).status_code == 404


def test_inventory_needs_a_signed_in_staff_member(client, db):
    response = client.get(reverse("inventory:products"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_empty_catalog_explains_the_screen(client, manager):
    client.force_login(manager)

    assert "No products yet" in client.get(reverse("inventory:products")).content.decode()


def test_fractional_tax_rate_prints_plainly(client, manager, db):
    ProductFactory(sku="BOOK-1", name="Trail guide", tax_rate=Decimal("0.0550"))
    client.force_login(manager)

    html = client.get(reverse("inventory:product", args=["BOOK-1"])).content.decode()

    assert "5.5 %" in html
