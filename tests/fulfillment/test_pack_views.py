"""The packing station over HTTP: the plain-form path (no JavaScript, PRG), the htmx swaps,
permissions, and the packing slip PDF."""

import itertools
from decimal import Decimal

import pytest
from django.urls import reverse

from fulfillment.models import Parcel, Shipment, ShipmentLine
from fulfillment.services import shipment_cancel, shipment_confirm_picked, shipments_create
from inventory.services import stock_receive
from orders.services import LineInput, order_place
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

EMAILS = itertools.count(1)
STATION = reverse("fulfillment:pack_station")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def cap(warehouses, manager):
    product = ProductFactory(sku="CAP-RED", name="Red cap", barcode="4006381000017")
    stock_receive(
        product=product, warehouse=warehouses[0], quantity=5, actor=manager, reference="PO-3"
    )
    return product


def _picked(channel, manager, address, product, quantity=2) -> Shipment:
    order = order_place(
        channel=channel,
        email=f"viewpack{next(EMAILS)}@example.com",
        name="Ada Lovelace",
        address=address,
        lines=[LineInput(product=product, quantity=quantity)],
        actor=manager,
        shipping_total=Decimal("4.90"),
    )
    shipment = shipments_create(order=order, actor=manager)[0]
    shipment_confirm_picked(shipment=shipment, actor=manager)
    return Shipment.objects.get(pk=shipment.pk)


@pytest.fixture
def picked(channel, manager, address, stocked_product):
    return _picked(channel, manager, address, stocked_product)


def _url(shipment) -> str:
    return reverse("fulfillment:pack_shipment", args=[shipment.number])


def _packed(shipment) -> int:
    return ShipmentLine.objects.get(shipment=shipment).quantity_packed


def _post(client, url, **data):
    """A plain form post, as a browser without JavaScript sends it, then the redirect."""
    response = client.post(url, data)
    assert response.status_code == 302, response.content[:500]
    return response, client.get(response["Location"])


# ---------------------------------------------------------------- access


def test_anonymous_is_sent_to_login_and_changes_nothing(client, picked):
    for url in (STATION, _url(picked), reverse("fulfillment:packing_slip", args=[picked.number])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    response = client.post(_url(picked), {"code": "TEE-BLK-M"})
    assert response["Location"].startswith(reverse("login"))
    assert _packed(picked) == 0


def test_customer_service_may_not_pack_but_may_print_the_slip(client, picked, service_agent):
    client.force_login(service_agent)
    assert client.get(STATION).status_code == 403
    assert client.post(_url(picked), {"code": "TEE-BLK-M"}).status_code == 403
    assert _packed(picked) == 0
    response = client.get(reverse("fulfillment:packing_slip", args=[picked.number]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"


def test_unknown_shipment_is_404(client, warehouse_user):
    client.force_login(warehouse_user)
    assert client.get(reverse("fulfillment:pack_shipment", args=["SH-999999"])).status_code == 404


# ---------------------------------------------------------------- the start


def test_station_lists_what_is_waiting_and_opens_a_scanned_shipment(client, picked, warehouse_user):
    client.force_login(warehouse_user)
    html = client.get(STATION).content.decode()
    assert 'id="pack-code"' in html
    assert "autofocus" in html
    assert picked.number in html
    assert "Picked, waiting to pack" in html

    response, page = _post(client, STATION, code=picked.number)
    assert response["Location"] == _url(picked)
    html = page.content.decode()
    assert f"Packing {picked.number}" in html
    assert "Organic tee, black, M" in html
    assert "0</strong> of 2 packed" in html


def test_scanning_the_order_number_opens_its_shipment(client, picked, warehouse_user):
    client.force_login(warehouse_user)
    response, _ = _post(client, STATION, code=picked.order.number)
    assert response["Location"] == _url(picked)


def test_an_unknown_code_at_the_start_says_what_to_scan(client, picked, warehouse_user):
    client.force_login(warehouse_user)
    response, page = _post(client, STATION, code="NOPE-1")
    assert response["Location"] == STATION
    html = page.content.decode()
    assert "pack-feedback-error" in html
    assert "Nothing found for “NOPE-1”" in html


# ---------------------------------------------------------------- scanning without JavaScript


def test_a_wrong_item_is_refused_loudly_and_nothing_changes(client, picked, warehouse_user, cap):
    client.force_login(warehouse_user)
    _, page = _post(client, _url(picked), code="4006381000017")
    html = page.content.decode()
    assert 'class="pack-feedback pack-feedback-error"' in html
    assert 'role="alert"' in html
    assert "Wrong item" in html
    assert "Scanned 4006381000017 (Red cap) — not in this shipment" in html
    assert _packed(picked) == 0
    # The result is shown once: a reload does not repeat it.
    assert "Wrong item" not in client.get(_url(picked)).content.decode()


def test_right_items_count_down_and_an_extra_one_is_refused(client, picked, warehouse_user):
    client.force_login(warehouse_user)
    _, page = _post(client, _url(picked), code="4006381333931")
    html = page.content.decode()
    assert "pack-feedback-ok" in html
    assert "1 of 2 packed, 1 more of this" in html
    assert _packed(picked) == 1

    _, page = _post(client, _url(picked), code="tee-blk-m")
    assert "every unit scanned" in page.content.decode()
    assert _packed(picked) == 2

    _, page = _post(client, _url(picked), code="4006381333931")
    html = page.content.decode()
    assert "Extra item" in html
    assert "All 2 of SKU TEE-BLK-M are already packed" in html
    assert _packed(picked) == 2


def test_undo_takes_back_the_last_scan_then_says_there_is_nothing_left(
    client, picked, warehouse_user
):
    client.force_login(warehouse_user)
    _post(client, _url(picked), code="TEE-BLK-M")
    _post(client, _url(picked), code="TEE-BLK-M")
    _, page = _post(client, _url(picked), action="undo")
    assert "Took back one Organic tee, black, M" in page.content.decode()
    assert _packed(picked) == 1
    _post(client, _url(picked), action="undo")
    assert _packed(picked) == 0
    _, page = _post(client, _url(picked), action="undo")
    assert "Nothing to undo" in page.content.decode()
    assert _packed(picked) == 0


def test_take_one_out_of_a_line(client, picked, warehouse_user):
    client.force_login(warehouse_user)
    _post(client, _url(picked), code="TEE-BLK-M")
    line = ShipmentLine.objects.get(shipment=picked)
    _post(client, _url(picked), action="unscan", line=str(line.pk))
    assert _packed(picked) == 0


@pytest.mark.parametrize("bad", ["²", "١", "9" * 25, "x"])
def test_odd_line_or_parcel_ids_are_refused_on_the_banner_not_a_500(
    client, picked, warehouse_user, bad
):
    client.force_login(warehouse_user)
    _post(client, _url(picked), code="TEE-BLK-M")
    Parcel.objects.create(shipment=picked, number=1, weight_grams=900)
    before = (_packed(picked), sorted(Parcel.objects.values_list("pk", "weight_grams")))

    _, page = _post(client, _url(picked), action="unscan", line=bad)
    assert "Choose a line to take a unit out of." in page.content.decode()
    for action in ("parcel_update", "parcel_remove"):
        _, page = _post(client, _url(picked), action=action, parcel=bad)
        assert "Parcel not found" in page.content.decode()

    assert (_packed(picked), sorted(Parcel.objects.values_list("pk", "weight_grams"))) == before


def test_scanning_another_shipment_number_moves_to_it(
    client, picked, warehouse_user, channel, manager, address, stocked_product
):
    other = _picked(channel, manager, address, stocked_product, quantity=1)
    client.force_login(warehouse_user)
    response, page = _post(client, _url(picked), code=other.number)
    assert response["Location"] == _url(other)
    assert f"Packing {other.number}" in page.content.decode()


# ---------------------------------------------------------------- parcels and completing


def test_a_bad_parcel_shows_the_error_next_to_the_field_and_keeps_the_input(
    client, picked, warehouse_user
):
    client.force_login(warehouse_user)
    response = client.post(
        _url(picked),
        {
            "action": "parcel_add",
            "weight_grams": "0",
            "length_mm": "-3",
            "width_mm": "200",
            "height_mm": "",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="id_weight_grams-error">The weight must be more than 0 g.' in html
    assert 'id="id_length_mm-error">Length cannot be negative' in html
    assert 'name="width_mm" value="200"' in html
    assert not Parcel.objects.exists()

    response = client.post(_url(picked), {"action": "parcel_add", "weight_grams": "abc"})
    assert "Enter the weight in whole grams" in response.content.decode()
    assert not Parcel.objects.exists()


def test_parcel_weight_is_suggested_and_parcels_are_added_edited_removed(
    client, picked, warehouse_user
):
    client.force_login(warehouse_user)
    html = client.get(_url(picked)).content.decode()
    assert 'name="weight_grams" value="1150"' in html  # 2 x 500 g + 150 g packaging

    _, page = _post(
        client,
        _url(picked),
        action="parcel_add",
        weight_grams="1180",
        length_mm="400",
        width_mm="300",
        height_mm="150",
    )
    assert "Parcel 1 added: 1,180 g" in page.content.decode()
    parcel = Parcel.objects.get(shipment=picked)
    assert (parcel.number, parcel.weight_grams, parcel.length_mm) == (1, 1180, 400)

    prefix = f"p{parcel.pk}"
    _post(
        client,
        _url(picked),
        action="parcel_update",
        parcel=str(parcel.pk),
        **{
            f"{prefix}-weight_grams": "1200",
            f"{prefix}-length_mm": "400",
            f"{prefix}-width_mm": "300",
            f"{prefix}-height_mm": "160",
        },
    )
    parcel.refresh_from_db()
    assert (parcel.weight_grams, parcel.height_mm) == (1200, 160)

    response = client.post(
        _url(picked),
        {"action": "parcel_update", "parcel": str(parcel.pk), f"{prefix}-weight_grams": ""},
    )
    assert response.status_code == 200
    assert "Enter the parcel&#x27;s weight in grams" in response.content.decode()
    parcel.refresh_from_db()
    assert parcel.weight_grams == 1200

    _post(client, _url(picked), action="parcel_remove", parcel=str(parcel.pk))
    assert not Parcel.objects.exists()


def test_complete_is_refused_with_what_is_missing_then_packs(client, picked, warehouse_user):
    client.force_login(warehouse_user)
    _, page = _post(client, _url(picked), action="complete")
    html = page.content.decode()
    assert "Not complete yet" in html
    assert "2 units still to scan: 2 × TEE-BLK-M." in html
    assert "Add at least one parcel" in html
    picked.refresh_from_db()
    assert picked.status == "picking"

    _post(client, _url(picked), code="TEE-BLK-M")
    _post(client, _url(picked), code="TEE-BLK-M")
    _post(client, _url(picked), action="parcel_add", weight_grams="1150")
    response, page = _post(client, _url(picked), action="complete")
    assert response["Location"] == STATION
    html = page.content.decode()
    assert f"{picked.number} packed" in html
    assert reverse("fulfillment:packing_slip", args=[picked.number]) in html
    picked.refresh_from_db()
    assert picked.status == "packed"
    assert _packed(picked) == 2


# ---------------------------------------------------------------- htmx


def test_htmx_scan_swaps_the_body_only(client, picked, warehouse_user, cap):
    client.force_login(warehouse_user)
    response = client.post(_url(picked), {"code": "4006381000017"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="pack-body"')
    assert "<html" not in html
    assert 'data-feedback-kind="error"' in html
    assert _packed(picked) == 0

    response = client.post(_url(picked), {"code": "4006381333931"}, **HTMX)
    html = response.content.decode()
    assert 'data-feedback-kind="ok"' in html
    assert "pack-last" in html
    assert _packed(picked) == 1
    assert response["Vary"].count("HX-Request") >= 1


def test_htmx_opening_a_shipment_swaps_the_station_and_pushes_its_url(
    client, picked, warehouse_user
):
    client.force_login(warehouse_user)
    response = client.post(STATION, {"code": picked.number}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#pack-station"
    assert response["HX-Push-Url"] == _url(picked)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="pack-station"')
    assert f'action="{_url(picked)}"' in html


def test_htmx_bad_parcel_stays_on_the_form(client, picked, warehouse_user):
    client.force_login(warehouse_user)
    response = client.post(_url(picked), {"action": "parcel_add", "weight_grams": "-1"}, **HTMX)
    assert response.status_code == 200
    assert "has-error" in response.content.decode()
    assert not Parcel.objects.exists()


# ---------------------------------------------------------------- packing slip


def test_packing_slip_pdf_and_none_for_a_cancelled_shipment(client, picked, warehouse_user):
    client.force_login(warehouse_user)
    response = client.get(reverse("fulfillment:packing_slip", args=[picked.number]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f"packing-slip-{picked.number}.pdf" in response["Content-Disposition"]
    assert response.content.startswith(b"%PDF")

    shipment_cancel(shipment=picked, actor=warehouse_user, reason="Customer changed their mind")
    response = client.get(reverse("fulfillment:packing_slip", args=[picked.number]))
    assert response.status_code == 302


def test_parcels_partial_lists_number_weight_and_dimensions(picked, warehouse_user):
    from django.template import Context, Template

    from fulfillment.packing import parcel_add

    template = Template('{% include "fulfillment/_parcels.html" with shipment=shipment %}')
    html = template.render(Context({"shipment": picked}))
    assert "No parcels yet" in html
    parcel_add(shipment=picked, weight_grams=1200, length_mm=400, width_mm=300, height_mm=150,
               actor=warehouse_user)  # fmt: skip
    parcel_add(shipment=picked, weight_grams=300, actor=warehouse_user)
    html = template.render(Context({"shipment": picked}))
    assert "1 of 2" in html
    assert "1200 g" in html
    assert "400 × 300 × 150 mm" in html
    assert "not measured" in html
    assert reverse("fulfillment:pack_shipment", args=[picked.number]) in html
