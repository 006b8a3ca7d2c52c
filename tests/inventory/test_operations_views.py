"""Stock screens: receive, adjust, count, transfer, the product chooser and expected receipts."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from inventory.choices import MovementKind
from inventory.models import ExpectedReceipt, StockLevel, StockMovement
from inventory.services import expected_receipt_create
from tests.factories import ProductFactory


def on_hand(product, warehouse) -> int:
    level = StockLevel.objects.filter(product=product, warehouse=warehouse).first()
    return level.on_hand if level else 0


def flashed(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def field_errors(response, field) -> list[str]:
    return response.context["form"].errors.get(field, [])


@pytest.fixture
def expected(stocked_product, warehouses, manager):
    return expected_receipt_create(
        product=stocked_product,
        warehouse=warehouses[1],
        quantity=20,
        expected_on=timezone.localdate() + timedelta(days=3),
        reference="PO-77",
        actor=manager,
    )


# ---------------------------------------------------------------- roles


@pytest.mark.parametrize("name", ["receive", "adjust", "count", "transfer"])
def test_operations_refuse_roles_that_do_not_handle_stock(
    client, service_agent, finance_user, stocked_product, name
):
    url = reverse(f"inventory:{name}", args=[stocked_product.sku])
    for user in (service_agent, finance_user):
        client.force_login(user)
        assert client.get(url).status_code == 403
        assert client.post(url, {"warehouse": 1, "quantity": 1}).status_code == 403
    assert StockMovement.objects.count() == 1  # only the fixture's receipt


def test_operations_need_a_login(client, stocked_product):
    response = client.get(reverse("inventory:receive", args=[stocked_product.sku]))

    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_read_only_roles_see_the_product_without_stock_actions(
    client, service_agent, stocked_product
):
    client.force_login(service_agent)

    html = client.get(reverse("inventory:product", args=[stocked_product.sku])).content.decode()

    assert reverse("inventory:receive", args=[stocked_product.sku]) not in html
    assert reverse("inventory:count", args=[stocked_product.sku]) not in html


def test_warehouse_staff_get_the_actions_on_product_and_list(
    client, warehouse_user, stocked_product
):
    client.force_login(warehouse_user)

    html = client.get(reverse("inventory:product", args=[stocked_product.sku])).content.decode()
    for name in ("receive", "adjust", "count", "transfer"):
        assert reverse(f"inventory:{name}", args=[stocked_product.sku]) in html
    listing = client.get(reverse("inventory:products")).content.decode()
    assert reverse("inventory:operation_start", args=["receive"]) in listing


def test_unknown_sku_is_404(client, manager, stocked_product):
    client.force_login(manager)

    assert client.get(reverse("inventory:count", args=["NOPE"])).status_code == 404


# ---------------------------------------------------------------- receive


def test_receive_adds_stock_and_returns_to_the_product(
    client, warehouse_user, stocked_product, warehouses
):
    client.force_login(warehouse_user)
    url = reverse("inventory:receive", args=[stocked_product.sku])

    page = client.get(url)
    assert page.status_code == 200
    assert page.context["form"]["warehouse"].value() == warehouses[0].pk

    response = client.post(
        url, {"warehouse": warehouses[1].pk, "quantity": "7", "reference": "DN-5"}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("inventory:product", args=[stocked_product.sku])
    assert on_hand(stocked_product, warehouses[1]) == 7
    movement = StockMovement.objects.filter(product=stocked_product).first()
    assert (movement.kind, movement.reference, movement.actor) == (
        MovementKind.RECEIPT,
        "DN-5",
        warehouse_user,
    )
    assert flashed(response) == ["Received 7 × TEE-BLK-M into BER: it now holds 7."]


def test_receive_errors_sit_next_to_their_fields(
    client, warehouse_user, stocked_product, warehouses
):
    client.force_login(warehouse_user)

    response = client.post(
        reverse("inventory:receive", args=[stocked_product.sku]), {"warehouse": "", "quantity": "0"}
    )

    assert response.status_code == 200
    assert field_errors(response, "warehouse") == ["Choose a warehouse."]
    assert field_errors(response, "quantity") == ["Enter 1 or more."]
    assert 'class="field-error"' in response.content.decode()
    assert StockMovement.objects.count() == 1


def test_receive_against_an_expected_receipt_prefills_and_closes_it(
    client, warehouse_user, stocked_product, warehouses, expected
):
    client.force_login(warehouse_user)
    url = reverse("inventory:receive", args=[stocked_product.sku])

    page = client.get(url, {"expected": expected.pk})
    form = page.context["form"]
    assert form["expected_receipt"].value() == expected.pk
    assert form["warehouse"].value() == warehouses[1].pk
    assert form["quantity"].value() == 20
    assert form["reference"].value() == "PO-77"
    assert "PO-77" in page.content.decode()

    response = client.post(
        url,
        {
            "expected_receipt": expected.pk,
            "warehouse": warehouses[1].pk,
            "quantity": "20",
            "reference": "PO-77",
        },
    )

    assert response.status_code == 302
    expected.refresh_from_db()
    assert (expected.quantity_received, expected.status) == (20, "received")
    assert on_hand(stocked_product, warehouses[1]) == 20


def test_choosing_an_expected_receipt_with_htmx_refreshes_only_the_form(
    client, warehouse_user, stocked_product, expected
):
    client.force_login(warehouse_user)

    response = client.get(
        reverse("inventory:receive", args=[stocked_product.sku]),
        {"expected_receipt": expected.pk},
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    assert "<html" not in html
    assert 'value="PO-77"' in html
    assert 'value="20"' in html


def test_receive_refuses_an_expected_receipt_that_closed_meanwhile(
    client, warehouse_user, manager, stocked_product, warehouses, expected
):
    from inventory.services import expected_receipt_cancel

    client.force_login(warehouse_user)
    expected_receipt_cancel(expected_receipt=expected, actor=manager)

    response = client.post(
        reverse("inventory:receive", args=[stocked_product.sku]),
        {"expected_receipt": expected.pk, "warehouse": warehouses[1].pk, "quantity": "5"},
    )

    assert response.status_code == 200
    assert "no longer open" in field_errors(response, "expected_receipt")[0]
    assert on_hand(stocked_product, warehouses[1]) == 0


def test_another_products_expected_receipt_cannot_be_used(
    client, warehouse_user, stocked_product, warehouses, manager
):
    other = ProductFactory(sku="MUG-1")
    theirs = expected_receipt_create(
        product=other,
        warehouse=warehouses[0],
        quantity=3,
        expected_on=timezone.localdate(),
        actor=manager,
    )
    client.force_login(warehouse_user)

    response = client.post(
        reverse("inventory:receive", args=[stocked_product.sku]),
        {"expected_receipt": theirs.pk, "warehouse": warehouses[0].pk, "quantity": "3"},
    )

    assert response.status_code == 200
    assert field_errors(response, "expected_receipt")
    theirs.refresh_from_db()
    assert theirs.quantity_received == 0


# ---------------------------------------------------------------- adjust


def test_adjust_removes_units_with_a_reason(client, warehouse_user, stocked_product, warehouses):
    client.force_login(warehouse_user)

    response = client.post(
        reverse("inventory:adjust", args=[stocked_product.sku]),
        {"warehouse": warehouses[0].pk, "delta": "-2", "reason": "Damaged"},
    )

    assert response.status_code == 302
    assert on_hand(stocked_product, warehouses[0]) == 8
    movement = StockMovement.objects.filter(product=stocked_product).first()
    assert (movement.kind, movement.on_hand_delta, movement.reason) == (
        MovementKind.ADJUSTMENT,
        -2,
        "Damaged",
    )
    assert flashed(response) == ["Removed 2 × TEE-BLK-M from HAM (Damaged): it now holds 8."]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"delta": "3", "reason": ""},
            "reason",
            "Say why the stock is adjusted (damaged, lost, found…).",
        ),
        (
            {"delta": "0", "reason": "Found"},
            "delta",
            "An adjustment changes the quantity by at least one unit.",
        ),
        (
            {"delta": "two", "reason": "Found"},
            "delta",
            "Enter a whole number: 3 to add, -2 to remove.",
        ),
    ],
)
def test_adjust_form_errors(
    client, warehouse_user, stocked_product, warehouses, data, field, message
):
    client.force_login(warehouse_user)

    response = client.post(
        reverse("inventory:adjust", args=[stocked_product.sku]),
        {"warehouse": warehouses[0].pk, **data},
    )

    assert response.status_code == 200
    assert field_errors(response, field) == [message]
    assert on_hand(stocked_product, warehouses[0]) == 10


def test_adjust_below_reserved_is_refused_by_the_service(
    client, manager, placed_order, stocked_product, warehouses
):
    client.force_login(manager)

    response = client.post(
        reverse("inventory:adjust", args=[stocked_product.sku]),
        {"warehouse": warehouses[0].pk, "delta": "-9", "reason": "Lost"},
    )

    assert response.status_code == 200
    assert "of which 2 reserved" in field_errors(response, "delta")[0]
    assert on_hand(stocked_product, warehouses[0]) == 10


# ---------------------------------------------------------------- count


def test_count_shows_the_variance_first_and_applies_on_confirm(
    client, warehouse_user, stocked_product, warehouses
):
    client.force_login(warehouse_user)
    url = reverse("inventory:count", args=[stocked_product.sku])

    first = client.post(
        url, {"warehouse": warehouses[0].pk, "counted": "8", "reason": "Cycle count"}
    )

    assert first.status_code == 200
    assert first.context["preview"]["text"] == "system 10, counted 8: −2"
    html = first.content.decode()
    assert "HAM: system 10, counted 8: −2" in html
    assert "Apply count (−2)" in html
    assert on_hand(stocked_product, warehouses[0]) == 10  # nothing applied yet
    assert not StockMovement.objects.filter(kind=MovementKind.COUNT).exists()

    second = client.post(
        url,
        {
            "warehouse": warehouses[0].pk,
            "counted": "8",
            "reason": "Cycle count",
            "system": "10",
            "confirm": "1",
        },
    )

    assert second.status_code == 302
    assert on_hand(stocked_product, warehouses[0]) == 8
    assert flashed(second) == [
        "Count applied for TEE-BLK-M in HAM: system 10, counted 8: −2. It now holds 8."
    ]


def test_count_page_is_blind_until_the_count_is_entered(client, warehouse_user, stocked_product):
    client.force_login(warehouse_user)

    response = client.get(reverse("inventory:count", args=[stocked_product.sku]))

    assert response.status_code == 200
    assert "Blind count" in response.content.decode()
    assert response.context["preview"] is None


def test_count_with_stock_moved_since_the_preview_shows_the_new_variance(
    client, warehouse_user, manager, stocked_product, warehouses
):
    from inventory.services import stock_receive

    client.force_login(warehouse_user)
    stock_receive(product=stocked_product, warehouse=warehouses[0], quantity=2, actor=manager)

    response = client.post(
        reverse("inventory:count", args=[stocked_product.sku]),
        {"warehouse": warehouses[0].pk, "counted": "8", "system": "10", "confirm": "1"},
    )

    assert response.status_code == 200
    assert "now holds 12, not 10" in response.context["stale"]
    assert response.context["preview"]["text"] == "system 12, counted 8: −4"
    assert on_hand(stocked_product, warehouses[0]) == 12


def test_count_below_reserved_is_an_error_at_the_preview(
    client, manager, placed_order, stocked_product, warehouses
):
    client.force_login(manager)

    response = client.post(
        reverse("inventory:count", args=[stocked_product.sku]),
        {"warehouse": warehouses[0].pk, "counted": "1"},
    )

    assert response.status_code == 200
    assert response.context["preview"] is None
    assert "2 reserved for open orders" in field_errors(response, "counted")[0]


def test_count_form_errors(client, warehouse_user, stocked_product):
    client.force_login(warehouse_user)

    response = client.post(
        reverse("inventory:count", args=[stocked_product.sku]), {"warehouse": "", "counted": "-1"}
    )

    assert field_errors(response, "warehouse") == ["Choose a warehouse."]
    assert field_errors(response, "counted") == ["Enter 0 or more."]


def test_a_matching_count_is_recorded_without_change(
    client, warehouse_user, stocked_product, warehouses
):
    client.force_login(warehouse_user)
    url = reverse("inventory:count", args=[stocked_product.sku])

    first = client.post(url, {"warehouse": warehouses[0].pk, "counted": "10"})
    assert "Record count (no change)" in first.content.decode()
    client.post(
        url, {"warehouse": warehouses[0].pk, "counted": "10", "system": "10", "confirm": "1"}
    )

    movement = StockMovement.objects.filter(kind=MovementKind.COUNT).get()
    assert movement.on_hand_delta == 0


# ---------------------------------------------------------------- transfer


def test_transfer_moves_stock(client, warehouse_user, stocked_product, warehouses):
    client.force_login(warehouse_user)
    url = reverse("inventory:transfer", args=[stocked_product.sku])
    assert client.get(url).context["form"]["source"].value() == warehouses[0].pk

    response = client.post(
        url, {"source": warehouses[0].pk, "destination": warehouses[1].pk, "quantity": "4"}
    )

    assert response.status_code == 302
    assert (on_hand(stocked_product, warehouses[0]), on_hand(stocked_product, warehouses[1])) == (
        6,
        4,
    )
    assert flashed(response) == ["Moved 4 × TEE-BLK-M from HAM to BER: HAM now holds 6, BER 4."]


def test_transfer_to_the_same_warehouse_is_an_error_next_to_to(
    client, warehouse_user, stocked_product, warehouses
):
    client.force_login(warehouse_user)

    response = client.post(
        reverse("inventory:transfer", args=[stocked_product.sku]),
        {"source": warehouses[0].pk, "destination": warehouses[0].pk, "quantity": "1"},
    )

    assert field_errors(response, "destination") == [
        "Choose a different warehouse to move the stock to."
    ]


def test_transfer_of_reserved_units_is_refused(
    client, manager, placed_order, stocked_product, warehouses
):
    client.force_login(manager)

    response = client.post(
        reverse("inventory:transfer", args=[stocked_product.sku]),
        {"source": warehouses[0].pk, "destination": warehouses[1].pk, "quantity": "9"},
    )

    assert response.status_code == 200
    assert "8 free to move" in field_errors(response, "quantity")[0]
    assert on_hand(stocked_product, warehouses[1]) == 0


# ---------------------------------------------------------------- choosing a product from the list


def test_operation_start_goes_straight_to_an_exact_sku_or_barcode(
    client, warehouse_user, stocked_product
):
    client.force_login(warehouse_user)
    url = reverse("inventory:operation_start", args=["count"])

    assert client.get(url).status_code == 200
    by_sku = client.get(url, {"q": "tee-blk-m"})
    by_barcode = client.get(url, {"q": stocked_product.barcode})

    assert by_sku["Location"] == reverse("inventory:count", args=[stocked_product.sku])
    assert by_barcode["Location"] == reverse("inventory:count", args=[stocked_product.sku])


def test_operation_start_lists_partial_matches_and_says_when_none(
    client, warehouse_user, stocked_product
):
    client.force_login(warehouse_user)
    url = reverse("inventory:operation_start", args=["adjust"])

    partial = client.get(url, {"q": "organic"})
    assert reverse("inventory:adjust", args=[stocked_product.sku]) in partial.content.decode()
    assert "No product matches" in client.get(url, {"q": "zzz"}).content.decode()


def test_receive_start_lists_deliveries_due(client, warehouse_user, stocked_product, expected):
    client.force_login(warehouse_user)

    html = client.get(reverse("inventory:operation_start", args=["receive"])).content.decode()

    assert (
        f"{reverse('inventory:receive', args=[stocked_product.sku])}?expected={expected.pk}" in html
    )


def test_operation_start_rejects_unknown_operations_and_roles(
    client, warehouse_user, service_agent
):
    client.force_login(warehouse_user)
    assert client.get(reverse("inventory:operation_start", args=["melt"])).status_code == 404
    client.force_login(service_agent)
    assert client.get(reverse("inventory:operation_start", args=["receive"])).status_code == 403


# ---------------------------------------------------------------- expected receipts


def test_expected_receipts_list_marks_late_ones(
    client, service_agent, stocked_product, warehouses, expected, manager
):
    late = expected_receipt_create(
        product=stocked_product,
        warehouse=warehouses[0],
        quantity=5,
        expected_on=timezone.localdate(),
        reference="PO-OLD",
        actor=manager,
    )
    ExpectedReceipt.objects.filter(pk=late.pk).update(
        expected_on=timezone.localdate() - timedelta(days=2)
    )
    client.force_login(service_agent)

    response = client.get(reverse("inventory:expected_receipts"))

    assert response.status_code == 200
    rows = list(response.context["rows"])
    assert [r.reference for r in rows] == ["PO-OLD", "PO-77"]
    assert [r.late for r in rows] == [True, False]
    html = response.content.decode()
    assert "2 days late" in html
    assert 'class="is-late"' in html
    # Read-only for customer service: no form, no receive or cancel buttons.
    assert "Add expected receipt" not in html
    assert reverse("inventory:expected_receipt_cancel", args=[late.pk]) not in html
    late_view = client.get(reverse("inventory:expected_receipts"), {"view": "late"})
    assert [r.reference for r in late_view.context["rows"]] == ["PO-OLD"]


def test_expected_receipts_empty_state_explains_the_screen(client, manager, db):
    client.force_login(manager)

    html = client.get(reverse("inventory:expected_receipts")).content.decode()

    assert "No delivery is expected" in html


def test_announce_a_delivery(client, warehouse_user, stocked_product, warehouses):
    client.force_login(warehouse_user)
    due = timezone.localdate() + timedelta(days=9)

    page = client.get(reverse("inventory:expected_receipts"), {"sku": stocked_product.sku})
    assert page.context["form"]["product"].value() == stocked_product.sku
    assert page.context["form"]["expected_on"].value() == timezone.localdate() + timedelta(
        days=stocked_product.lead_time_days
    )

    response = client.post(
        reverse("inventory:expected_receipts"),
        {
            "product": stocked_product.barcode,
            "warehouse": warehouses[0].pk,
            "quantity": "24",
            "expected_on": due.isoformat(),
            "reference": "PO-100",
        },
    )

    assert response.status_code == 302
    er = ExpectedReceipt.objects.get()
    assert (er.product, er.quantity, er.expected_on, er.reference, er.created_by) == (
        stocked_product,
        24,
        due,
        "PO-100",
        warehouse_user,
    )
    assert flashed(response) == [f"Expecting 24 × TEE-BLK-M into HAM on {due:%d %b %Y}."]


def test_announce_returns_to_where_it_was_started(
    client, warehouse_user, stocked_product, warehouses
):
    client.force_login(warehouse_user)
    back = reverse("inventory:product", args=[stocked_product.sku])

    response = client.post(
        reverse("inventory:expected_receipts"),
        {
            "product": stocked_product.sku,
            "warehouse": warehouses[0].pk,
            "quantity": "2",
            "expected_on": timezone.localdate().isoformat(),
            "next": back,
        },
    )
    assert response["Location"] == back

    response = client.post(
        reverse("inventory:expected_receipts"),
        {
            "product": stocked_product.sku,
            "warehouse": warehouses[0].pk,
            "quantity": "2",
            "expected_on": timezone.localdate().isoformat(),
            "next": "https://evil.example/",
        },
    )
    assert response["Location"] == reverse("inventory:expected_receipts")


def test_announce_errors_sit_next_to_their_fields(
    client, warehouse_user, stocked_product, warehouses
):
    client.force_login(warehouse_user)

    response = client.post(
        reverse("inventory:expected_receipts"),
        {
            "product": "NOPE",
            "warehouse": warehouses[0].pk,
            "quantity": "",
            "expected_on": "soon",
        },
    )

    assert response.status_code == 200
    assert field_errors(response, "product") == ["No product has the SKU or barcode “NOPE”."]
    assert field_errors(response, "quantity") == ["Enter how many units are on their way."]
    assert field_errors(response, "expected_on") == ["Enter a date like 2025-06-30."]

    past = client.post(
        reverse("inventory:expected_receipts"),
        {
            "product": stocked_product.sku,
            "warehouse": warehouses[0].pk,
            "quantity": "3",
            "expected_on": (timezone.localdate() - timedelta(days=1)).isoformat(),
        },
    )
    assert "in the past" in field_errors(past, "expected_on")[0]
    assert not ExpectedReceipt.objects.exists()


def test_announce_is_refused_to_read_only_roles(client, service_agent, stocked_product, warehouses):
    client.force_login(service_agent)

    response = client.post(
        reverse("inventory:expected_receipts"),
        {
            "product": stocked_product.sku,
            "warehouse": warehouses[0].pk,
            "quantity": "3",
            "expected_on": timezone.localdate().isoformat(),
        },
    )

    assert response.status_code == 403
    assert not ExpectedReceipt.objects.exists()


def test_cancel_an_expected_receipt(client, manager, expected):
    client.force_login(manager)
    url = reverse("inventory:expected_receipt_cancel", args=[expected.pk])

    assert client.get(url).status_code == 405
    response = client.post(url)

    assert response.status_code == 302
    expected.refresh_from_db()
    assert expected.status == "cancelled"
    assert flashed(response)[0].startswith("Cancelled the expected 20 × TEE-BLK-M")

    again = client.post(url)
    assert flashed(again)[-1] == "This expected receipt is already cancelled."


def test_cancel_is_refused_to_read_only_roles(client, finance_user, expected):
    client.force_login(finance_user)

    assert (
        client.post(reverse("inventory:expected_receipt_cancel", args=[expected.pk])).status_code
        == 403
    )
    expected.refresh_from_db()
    assert expected.status == "open"


def test_product_page_shows_expected_receipts_substitutes_and_replenishment(
    client, warehouse_user, stocked_product, warehouses, expected
):
    sub = ProductFactory(sku="TEE-NVY-M", name="Organic tee, navy, M")
    stocked_product.substitutes.add(sub)
    stocked_product.length_mm, stocked_product.width_mm, stocked_product.height_mm = 300, 200, 20
    (
        stocked_product.reorder_point,
        stocked_product.reorder_quantity,
        stocked_product.lead_time_days,
    ) = 4, 24, 12
    stocked_product.save()
    client.force_login(warehouse_user)

    response = client.get(reverse("inventory:product", args=[stocked_product.sku]))

    html = response.content.decode()
    assert "PO-77" in html
    assert (
        f"{reverse('inventory:receive', args=[stocked_product.sku])}?expected={expected.pk}" in html
    )
    assert "next: +20 on" in html
    assert "TEE-NVY-M" in html
    assert "30 × 20 × 2 cm" in html
    assert "12 days" in html
    assert "Restock alert" in html
    sub_page = client.get(reverse("inventory:product", args=[sub.sku])).content.decode()
    assert "Offered instead of" in sub_page


def test_receiving_above_the_reorder_point_closes_the_restock_alert(
    client, warehouse_user, stocked_product, warehouses
):
    from inventory.models import RestockAlert
    from inventory.services import restock_alerts_check

    stocked_product.reorder_point = 12
    stocked_product.save()
    [alert] = restock_alerts_check(product_ids=[stocked_product.pk])
    client.force_login(warehouse_user)

    client.post(
        reverse("inventory:receive", args=[stocked_product.sku]),
        {"warehouse": warehouses[0].pk, "quantity": "5"},
    )

    alert.refresh_from_db()
    assert alert.closed_at is not None
    assert not RestockAlert.objects.filter(closed_at__isnull=True).exists()


def test_adjusting_down_to_the_reorder_point_opens_a_restock_alert(
    client, warehouse_user, stocked_product, warehouses
):
    from inventory.models import RestockAlert

    stocked_product.reorder_point = 8
    stocked_product.save()
    client.force_login(warehouse_user)

    client.post(
        reverse("inventory:adjust", args=[stocked_product.sku]),
        {"warehouse": warehouses[0].pk, "delta": "-2", "reason": "Damaged"},
    )

    alert = RestockAlert.objects.get(closed_at__isnull=True)
    assert (alert.product, alert.available_at_open) == (stocked_product, 8)
