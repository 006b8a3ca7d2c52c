"""The shipping screens over HTTP: rates and label on the shipment page, buying and
downloading a label, handing over, the late flag, manifests, and the back office."""

import csv
import datetime
import io

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from fulfillment.models import (
    Carrier,
    CarrierService,
    Manifest,
    Shipment,
    ShippingRate,
    ShippingZone,
)
from orders.models import Order

from ._shipping import packed_shipment, simulated_carrier

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def sim(db):
    return simulated_carrier()


@pytest.fixture
def packed(sim, channel, stocked_product, manager, address):
    return packed_shipment(
        channel=channel,
        product=stocked_product,
        actor=manager,
        address=address,
        shipping_method="Express",
    )


def test_packed_shipment_offers_the_rates_with_the_customers_choice_selected(
    client, warehouse_user, packed
):
    client.force_login(warehouse_user)
    response = client.get(packed.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    express = CarrierService.objects.get(code="express")
    assert response.context["rate_selected"] == str(express.pk)
    assert f'value="{express.pk}" id="rate-{express.pk}" checked' in html
    assert "Customer&#x27;s choice" in html
    assert "Cheapest" in html
    assert "€9.00" in html
    assert "€2.50" in html
    assert reverse("fulfillment:label_buy", args=[packed.number]) in html
    assert "Buy label" in html
    assert 'name="tracking_number"' in html  # the manual path stays


def test_buy_the_label_download_it_and_hand_it_over(client, warehouse_user, packed):
    client.force_login(warehouse_user)
    response = client.post(reverse("fulfillment:label_buy", args=[packed.number]))
    assert response.status_code == 302
    packed.refresh_from_db()
    assert packed.service.code == "express"
    assert packed.tracking_number.startswith("SIM")
    assert any("Label bought" in m and packed.tracking_number in m for m in _messages(response))

    pdf = client.get(reverse("fulfillment:label", args=[packed.number]))
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")

    html = client.get(packed.get_absolute_url()).content.decode()
    assert "Label bought" in html
    assert "Print label" in html
    assert packed.tracking_number in html
    assert "Buy label" not in html

    response = client.post(reverse("fulfillment:ship", args=[packed.number]))
    packed.refresh_from_db()
    assert packed.status == "shipped"
    assert any("Delivery expected" in m for m in _messages(response))


def test_buying_a_chosen_service_from_the_form(client, warehouse_user, packed):
    standard = CarrierService.objects.get(code="standard")
    client.force_login(warehouse_user)
    client.post(reverse("fulfillment:label_buy", args=[packed.number]), {"service": standard.pk})
    packed.refresh_from_db()
    assert packed.service == standard


def test_an_invalid_address_is_shown_and_buying_holds_the_order(
    client, warehouse_user, sim, channel, stocked_product, manager, address
):
    shipment = packed_shipment(
        channel=channel,
        product=stocked_product,
        actor=manager,
        address={**address, "country": "NL", "postal_code": "1234"},
    )
    client.force_login(warehouse_user)
    html = client.get(shipment.get_absolute_url()).content.decode()
    assert "The delivery address fails validation" in html
    assert "Postal code 1234 is not a Dutch postal code (like 1234 AB)." in html

    response = client.post(reverse("fulfillment:label_buy", args=[shipment.number]))
    assert response.status_code == 302
    assert any("is on hold" in m for m in _messages(response))
    order = Order.objects.get(pk=shipment.order_id)
    assert order.status == "on_hold"
    assert order.hold_code == "invalid_address"
    assert Shipment.objects.get(pk=shipment.pk).tracking_number == ""


def test_no_rate_says_why_and_keeps_the_manual_form_open(
    client, warehouse_user, sim, channel, stocked_product, manager, address
):
    shipment = packed_shipment(
        channel=channel,
        product=stocked_product,
        actor=manager,
        address={**address, "country": "FR", "postal_code": "75011", "city": "Paris"},
    )
    client.force_login(warehouse_user)
    html = client.get(shipment.get_absolute_url()).content.decode()
    assert "No carrier service delivers to FR 75011" in html
    assert '<details class="ship-manual" open>' in html


def test_a_late_shipment_is_flagged_amber(client, warehouse_user, packed):
    Order.objects.filter(pk=packed.order_id).update(
        promised_ship_date=timezone.localdate() - datetime.timedelta(days=2)
    )
    client.force_login(warehouse_user)
    html = client.get(packed.get_absolute_url()).content.decode()
    assert 'class="badge badge-amber"' in html
    assert "Late · due" in html


def test_picking_shows_an_estimate_without_a_buy_button(
    client, warehouse_user, sim, placed_order, manager
):
    from fulfillment.services import shipments_create

    shipment = shipments_create(order=placed_order, actor=manager)[0]
    client.force_login(warehouse_user)
    html = client.get(shipment.get_absolute_url()).content.decode()
    assert "Shipping options" in html
    assert "the label is bought once packed" in html
    assert reverse("fulfillment:label_buy", args=[shipment.number]) not in html


def test_label_of_a_shipment_without_one_is_404(client, warehouse_user, packed):
    client.force_login(warehouse_user)
    assert client.get(reverse("fulfillment:label", args=[packed.number])).status_code == 404


def test_customer_service_cannot_buy_a_label(client, service_agent, packed):
    client.force_login(service_agent)
    html = client.get(packed.get_absolute_url()).content.decode()
    assert "Buy label" not in html
    response = client.post(reverse("fulfillment:label_buy", args=[packed.number]))
    assert any("Only Warehouse, Manager may do this." in m for m in _messages(response))
    assert Shipment.objects.get(pk=packed.pk).tracking_number == ""


def test_label_buy_needs_post_and_login(client, packed):
    assert client.get(reverse("fulfillment:label_buy", args=[packed.number])).status_code in (
        302,
        405,
    )
    assert client.post(reverse("fulfillment:label_buy", args=[packed.number]))[
        "Location"
    ].startswith(reverse("login"))


# ---------------------------------------------------------------- manifests


def test_manifests_screen_closes_the_day_and_offers_downloads(client, warehouse_user, packed, sim):
    client.force_login(warehouse_user)
    client.post(reverse("fulfillment:label_buy", args=[packed.number]))
    client.post(reverse("fulfillment:ship", args=[packed.number]))

    page = client.get(reverse("fulfillment:manifests"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Close today's manifest" in html
    assert "Orderline Post" in html

    response = client.post(
        reverse("fulfillment:manifests"),
        {
            "carrier": sim.pk,
            "warehouse": packed.warehouse_id,
            "day": timezone.localdate().isoformat(),
        },
    )
    manifest = Manifest.objects.get()
    assert response["Location"] == manifest.get_absolute_url()
    assert any(
        f"Manifest {manifest.number} closed with 1 shipment" in m for m in _messages(response)
    )

    detail = client.get(manifest.get_absolute_url()).content.decode()
    packed.refresh_from_db()
    assert packed.tracking_number in detail
    assert reverse("fulfillment:manifest_pdf", args=[manifest.number]) in detail
    pdf = client.get(reverse("fulfillment:manifest_pdf", args=[manifest.number]))
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    csv_response = client.get(reverse("fulfillment:manifest_csv", args=[manifest.number]))
    assert "attachment" in csv_response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(csv_response.content.decode())))
    assert rows[1][4] == packed.tracking_number

    again = client.post(
        reverse("fulfillment:manifests"), {"carrier": sim.pk, "warehouse": packed.warehouse_id}
    )
    assert any("is waiting for a manifest" in m for m in _messages(again))
    assert Manifest.objects.count() == 1
    assert (
        "Nothing waiting for a manifest"
        in client.get(reverse("fulfillment:manifests")).content.decode()
    )


def test_manifests_screen_refuses_a_future_day(client, warehouse_user, sim, warehouses):
    client.force_login(warehouse_user)
    response = client.post(
        reverse("fulfillment:manifests"),
        {
            "carrier": sim.pk,
            "warehouse": warehouses[0].pk,
            "day": (timezone.localdate() + datetime.timedelta(days=1)).isoformat(),
        },
    )
    assert any("for today or the 7 days before" in m for m in _messages(response))
    assert not Manifest.objects.exists()


@pytest.mark.parametrize("field", ["carrier", "warehouse"])
@pytest.mark.parametrize("bad", ["abc", "²", "١", "9" * 25, ""])
def test_manifests_screen_refuses_an_odd_carrier_or_warehouse_id(
    client, warehouse_user, sim, warehouses, field, bad
):
    client.force_login(warehouse_user)
    data = {"carrier": str(sim.pk), "warehouse": str(warehouses[0].pk), field: bad}

    response = client.post(reverse("fulfillment:manifests"), data)

    assert response.status_code == 302
    assert response["Location"] == reverse("fulfillment:manifests")
    assert "Choose the carrier and warehouse whose day to close." in _messages(response)
    assert not Manifest.objects.exists()


def test_unknown_manifest_is_404(client, warehouse_user):
    client.force_login(warehouse_user)
    assert client.get(reverse("fulfillment:manifest", args=["MF-NOPE"])).status_code == 404


# ---------------------------------------------------------------- back office


@pytest.fixture
def boss_client(client, manager):
    manager.is_staff = True
    manager.save(update_fields=["is_staff"])
    client.force_login(manager)
    return client


def test_admin_carriers_with_services_and_a_hidden_webhook_secret(boss_client, sim):
    Carrier.objects.filter(pk=sim.pk).update(webhook_secret="s3cret-value")
    listing = boss_client.get(reverse("admin:fulfillment_carrier_changelist")).content.decode()
    assert "Orderline Post" in listing
    assert "s3cret-value" not in listing
    page = boss_client.get(
        reverse("admin:fulfillment_carrier_change", args=[sim.pk])
    ).content.decode()
    assert 'type="password"' in page
    assert "s3cret-value" not in page
    assert "services-0-code" in page  # the services inline, editable by a manager

    data = {
        "name": "Orderline Post",
        "code": "sim",
        "adapter": "simulated",
        "active": "on",
        "tracking_url_template": "",
        "poll_interval_minutes": "15",
        "webhook_secret": "",
        "services-TOTAL_FORMS": "2",
        "services-INITIAL_FORMS": "2",
        "services-MIN_NUM_FORMS": "0",
        "services-MAX_NUM_FORMS": "1000",
    }
    for i, s in enumerate(
        CarrierService.objects.filter(carrier=sim).order_by("carrier__name", "name")
    ):
        data.update(
            {
                f"services-{i}-id": s.pk,
                f"services-{i}-carrier": sim.pk,
                f"services-{i}-code": s.code,
                f"services-{i}-name": s.name,
                f"services-{i}-shipping_method": s.shipping_method,
                f"services-{i}-active": "on",
            }
        )
    response = boss_client.post(reverse("admin:fulfillment_carrier_change", args=[sim.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    sim.refresh_from_db()
    assert (sim.poll_interval_minutes, sim.webhook_secret) == (15, "s3cret-value")  # empty keeps it


def test_admin_zones_rates_and_read_only_manifests(boss_client, sim):
    zone = ShippingZone.objects.get(carrier=sim, name="Hamburg")
    page = boss_client.get(
        reverse("admin:fulfillment_shippingzone_change", args=[zone.pk])
    ).content.decode()
    assert "areas-0-postal_prefix" in page
    rates = boss_client.get(reverse("admin:fulfillment_shippingrate_changelist"))
    assert rates.status_code == 200
    html = rates.content.decode()
    assert "By service" in html
    assert "By zone" in html
    assert (
        boss_client.get(
            reverse("admin:fulfillment_shippingrate_changelist"), {"zone__id__exact": zone.pk}
        )
        .context["cl"]
        .result_count
        == ShippingRate.objects.filter(zone=zone).count()
    )
    assert boss_client.get(reverse("admin:fulfillment_manifest_changelist")).status_code == 200
    assert boss_client.get(reverse("admin:fulfillment_manifest_add")).status_code == 403
