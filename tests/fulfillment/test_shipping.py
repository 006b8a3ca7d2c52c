"""Buying a label and shipping: the address check, the rate, the carrier, the hand-over."""

import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from core.errors import DomainError, NotAllowed
from fulfillment.choices import RateChoice
from fulfillment.models import CarrierService, Parcel, Shipment
from fulfillment.rates import NoRateAvailable
from fulfillment.shipping import AddressInvalid, shipment_hand_over, shipment_label_buy
from inventory.models import StockLevel
from orders.choices import EventType, HoldCode, NotificationKind
from orders.models import Notification, OrderEvent

from ._shipping import packed_shipment, simulated_carrier

pytestmark = pytest.mark.django_db


@pytest.fixture
def sim(db):
    return simulated_carrier()


@pytest.fixture
def packed(sim, channel, stocked_product, manager, address, warehouses):
    Warehouse = type(warehouses[0])
    Warehouse.objects.filter(pk=warehouses[0].pk).update(
        line1="Lagerweg 1", city="Hamburg", postal_code="20539", country="DE"
    )
    return packed_shipment(channel=channel, product=stocked_product, actor=manager, address=address)


def test_buy_a_label_and_ship_with_the_simulated_carrier(
    packed, warehouse_user, sim, stocked_product, warehouses
):
    Parcel.objects.create(shipment=packed, number=1, weight_grams=700)
    Parcel.objects.create(shipment=packed, number=2, weight_grams=1800)

    s = shipment_label_buy(shipment=packed, actor=warehouse_user)

    s.refresh_from_db()
    assert s.status == "packed"
    assert s.carrier == sim
    assert s.service.code == "standard"
    # The rate table promises one working day to Hamburg harbour; the simulated network keeps
    # the merchant's promise (the transit days are the tracking number's first digit).
    assert s.tracking_number.startswith("SIM1")
    assert s.shipping_cost == Decimal("2.50") + Decimal("4.50")  # 20457 is in "Hamburg harbour"
    assert s.expected_delivery_date is not None
    pdf = PdfReader(io.BytesIO(s.label.read()))
    assert len(pdf.pages) == 2
    assert s.tracking_number in pdf.pages[1].extract_text()
    event = OrderEvent.objects.get(order=s.order, type=EventType.LABEL_CREATED)
    assert event.payload["tracking_number"] == s.tracking_number
    assert event.payload["expected_delivery_date"] == s.expected_delivery_date.isoformat()
    assert event.actor == warehouse_user

    shipped = shipment_hand_over(shipment=s, actor=warehouse_user)
    assert (shipped.status, shipped.tracking_number, shipped.carrier) == (
        "shipped",
        s.tracking_number,
        sim,
    )
    level = StockLevel.objects.get(product=stocked_product, warehouse=warehouses[0])
    assert (level.on_hand, level.reserved) == (9, 0)
    email = Notification.objects.get(order=s.order, kind=NotificationKind.ORDER_SHIPPED)
    assert email.payload["expected_delivery_date"] == s.expected_delivery_date.isoformat()
    assert email.payload["tracking_number"] == s.tracking_number


def test_fastest_and_a_named_service(packed, warehouse_user, sim):
    s = shipment_label_buy(shipment=packed, choice=RateChoice.FASTEST, actor=warehouse_user)
    assert s.service.code in ("standard", "express")
    assert (
        s.service.code == "standard"
    )  # Hamburg harbour standard (1 day) beats express (1 day) on price


def test_a_named_service_is_bought(packed, warehouse_user, sim):
    express = CarrierService.objects.get(carrier=sim, code="express")
    s = shipment_label_buy(shipment=packed, service=express, actor=warehouse_user)
    assert s.service == express
    assert s.shipping_cost == Decimal("9.00")
    assert s.tracking_number.startswith("SIM1")


def test_a_label_is_bought_once(packed, warehouse_user):
    s = shipment_label_buy(shipment=packed, actor=warehouse_user)
    with pytest.raises(DomainError, match="already has a label"):
        shipment_label_buy(shipment=s, actor=warehouse_user)
    assert OrderEvent.objects.filter(order=s.order, type=EventType.LABEL_CREATED).count() == 1


def test_an_invalid_address_holds_the_order_and_buys_nothing(
    sim, channel, stocked_product, manager, warehouse_user, address
):
    bad = {**address, "postal_code": "2045"}
    shipment = packed_shipment(channel=channel, product=stocked_product, actor=manager, address=bad)

    with pytest.raises(AddressInvalid) as exc:
        shipment_label_buy(shipment=shipment, actor=warehouse_user)

    assert exc.value.errors["postal_code"] == [
        "Postal code 2045 is not a German postal code (like 10115)."
    ]
    shipment.refresh_from_db()
    assert (shipment.tracking_number, shipment.carrier, bool(shipment.label)) == ("", None, False)
    order = shipment.order
    order.refresh_from_db()
    assert order.status == "on_hold"
    assert order.hold_code == HoldCode.INVALID_ADDRESS
    assert "Postal code 2045 is not a German postal code" in order.hold_reason
    assert OrderEvent.objects.filter(order=order, type=EventType.HELD).count() == 1
    assert not OrderEvent.objects.filter(order=order, type=EventType.LABEL_CREATED).exists()

    with pytest.raises(DomainError, match="release it"):  # held: it never ships
        shipment_hand_over(
            shipment=shipment, carrier=sim, tracking_number="X1", actor=warehouse_user
        )
    shipment.refresh_from_db()
    assert shipment.status == "packed"


def test_the_manual_path_refuses_an_invalid_address_too(
    carrier, channel, stocked_product, manager, warehouse_user, address
):
    shipment = packed_shipment(
        channel=channel,
        product=stocked_product,
        actor=manager,
        address={**address, "country": "NL", "postal_code": "1234"},
    )
    with pytest.raises(AddressInvalid):
        shipment_hand_over(
            shipment=shipment, carrier=carrier, tracking_number="JJD1", actor=warehouse_user
        )
    shipment.refresh_from_db()
    assert shipment.status == "packed"
    assert shipment.order.hold_code == HoldCode.INVALID_ADDRESS


def test_manual_carrier_path_with_a_typed_tracking_number(carrier, packed, warehouse_user):
    s = shipment_hand_over(
        shipment=packed, carrier=carrier, tracking_number=" JJD0042 ", actor=warehouse_user
    )
    assert (s.status, s.carrier, s.tracking_number) == ("shipped", carrier, "JJD0042")
    assert not s.label


def test_a_labelled_shipment_ships_with_its_own_tracking_number(packed, warehouse_user, carrier):
    s = shipment_label_buy(shipment=packed, actor=warehouse_user)
    with pytest.raises(DomainError, match="scan that label"):
        shipment_hand_over(
            shipment=s, carrier=carrier, tracking_number="OTHER1", actor=warehouse_user
        )
    shipped = shipment_hand_over(
        shipment=s, carrier=carrier, tracking_number=s.tracking_number, actor=warehouse_user
    )
    assert shipped.carrier.code == "sim"


def test_no_service_for_the_destination_buys_nothing(
    sim, channel, stocked_product, manager, warehouse_user, address
):
    shipment = packed_shipment(
        channel=channel,
        product=stocked_product,
        actor=manager,
        address={**address, "country": "FR", "postal_code": "75011", "city": "Paris"},
    )
    with pytest.raises(NoRateAvailable, match="No carrier service delivers to FR 75011"):
        shipment_label_buy(shipment=shipment, actor=warehouse_user)
    shipment.refresh_from_db()
    assert shipment.tracking_number == ""
    assert shipment.order.status == "open"


def test_only_packed_shipments_get_labels(sim, placed_order, manager, warehouse_user):
    from fulfillment.services import shipments_create

    shipment = shipments_create(order=placed_order, actor=manager)[0]
    with pytest.raises(DomainError, match="a label is bought for a packed shipment"):
        shipment_label_buy(shipment=shipment, actor=warehouse_user)


def test_customer_service_cannot_buy_labels(packed, service_agent):
    with pytest.raises(NotAllowed):
        shipment_label_buy(shipment=packed, actor=service_agent)
    assert Shipment.objects.get(pk=packed.pk).tracking_number == ""
