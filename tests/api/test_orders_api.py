"""POST/GET /api/v1/orders, GET /api/v1/orders/{number}, POST /api/v1/orders/{number}/cancel."""

import json
from decimal import Decimal

import pytest

from inventory.models import Backorder, StockLevel
from orders.models import IdempotencyKey, Order, OrderEvent
from orders.services import LineInput, order_place
from orders.tokens import api_token_create
from tests.conftest import ADDRESS
from tests.factories import ChannelFactory

from .conftest import assert_problem, order_body

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders"


# ---------------------------------------------------------------- placing


def test_place_order_answers_201_with_statuses_lines_totals_and_status_url(
    api, catalogue, api_channel
):
    response = api.post(
        ORDERS,
        order_body(
            lines=[
                {"sku": "TEE-BLK-M", "quantity": 2, "unit_price": "24.90"},
                {"sku": "MUG-WHT", "quantity": 1},
            ],
            shipping_total="4.90",
        ),
    )

    assert response.status_code == 201, response.content
    body = response.json()
    order = Order.objects.get(number=body["number"])
    assert order.channel == api_channel
    assert order.external_id == "MP-1001"
    assert body["status"] == "open"
    assert body["fulfillment_status"] == "reserved"
    assert body["payment_status"] == "unpaid"
    assert [
        (
            ln["sku"],
            ln["quantity"],
            ln["quantity_reserved"],
            ln["quantity_backordered"],
            ln["unit_price"],
        )
        for ln in body["lines"]
    ] == [("TEE-BLK-M", 2, 2, 0, "24.90"), ("MUG-WHT", 1, 1, 0, "9.50")]
    # totals are decimal strings: 2 x 24.90 + 9.50 = 59.30 net, 19 % tax = 11.27, shipping 4.90
    assert (body["subtotal"], body["tax_total"], body["shipping_total"], body["total"]) == (
        "59.30",
        "11.27",
        "4.90",
        "75.47",
    )
    assert body["currency"] == "EUR"
    assert body["status_url"].endswith(f"/status/{order.status_token}/")
    assert body["url"].endswith(f"/api/v1/orders/{order.number}")
    assert body["created_at"]
    assert body["placed_at"]
    assert body["customer"] == {
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "phone": "+49 40 1234567",
    }
    # the marketplace's own price is kept; stock is reserved; the timeline says it came from the API
    assert order.lines.get(sku="TEE-BLK-M").unit_price == Decimal("24.90")
    assert StockLevel.objects.get(product=catalogue["tee"]).reserved == 2
    assert OrderEvent.objects.filter(order=order, type="placed", source="api").exists()


def test_missing_idempotency_key_is_400_and_places_nothing(api, catalogue):
    response = api.post(ORDERS, order_body(), key=None)

    body = assert_problem(response, 400, "idempotency-key-missing")
    assert "Idempotency-Key" in body["detail"]
    assert not Order.objects.exists()


def test_same_key_and_body_replays_the_first_answer(api, catalogue):
    first = api.post(ORDERS, order_body(), key="key-1")
    again = api.post(ORDERS, order_body(), key="key-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Order.objects.count() == 1
    assert StockLevel.objects.get(product=catalogue["tee"]).reserved == 2


def test_replay_ignores_key_order_and_whitespace_in_the_body(api, catalogue):
    api.post(ORDERS, order_body(), key="key-1")
    reordered = json.dumps(dict(reversed(list(order_body().items()))), indent=4)

    again = api.post(ORDERS, key="key-1", raw=reordered)

    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1


def test_a_refusal_is_replayed_too(api, catalogue):
    first = api.post(ORDERS, order_body(lines=[{"sku": "TEE-BLK-M", "quantity": 50}]), key="big")
    again = api.post(ORDERS, order_body(lines=[{"sku": "TEE-BLK-M", "quantity": 50}]), key="big")

    assert_problem(first, 422, "out-of-stock")
    assert_problem(again, 422, "out-of-stock")
    assert again["Idempotent-Replayed"] == "true"
    assert json.loads(again.content) == json.loads(first.content)


def test_same_key_with_a_different_body_is_422(api, catalogue):
    api.post(ORDERS, order_body(), key="key-1")

    response = api.post(ORDERS, order_body(notes="Ring twice."), key="key-1")

    body = assert_problem(response, 422, "idempotency-key-reused")
    assert "key-1" in body["detail"]
    assert Order.objects.count() == 1


def test_same_key_on_another_endpoint_is_422(api, catalogue):
    first = api.post(ORDERS, order_body(), key="key-1")
    number = first.json()["number"]

    response = api.post(f"{ORDERS}/{number}/cancel", {"reason": "Changed mind"}, key="key-1")

    assert_problem(response, 422, "idempotency-key-reused")
    assert Order.objects.get(number=number).status == "open"


def test_same_key_still_in_flight_is_409(api, api_token, catalogue):
    from orders.idempotency import request_fingerprint

    body = order_body()
    IdempotencyKey.objects.create(
        token=api_token[0],
        key="busy",
        method="POST",
        path=ORDERS,
        request_hash=request_fingerprint(
            method="POST", path=ORDERS, body_bytes=json.dumps(body).encode()
        ),
    )

    response = api.post(ORDERS, body, key="busy")

    assert_problem(response, 409, "idempotency-key-in-flight")
    assert response["Retry-After"] == "1"
    assert not Order.objects.exists()


def test_keys_belong_to_their_token(api, api_channel, catalogue):
    other_raw = api_token_create(name="Second sync", channel=api_channel, actor=None)[1]
    api.post(ORDERS, order_body(), key="shared")

    response = api.as_token(other_raw).post(ORDERS, order_body(external_id="MP-1002"), key="shared")

    assert response.status_code == 201
    assert Order.objects.count() == 2


def test_a_validation_error_does_not_burn_the_key(api, catalogue):
    bad = api.post(ORDERS, order_body(lines=[{"sku": "TEE-BLK-M", "quantity": 0}]), key="k")
    good = api.post(ORDERS, order_body(), key="k")

    assert_problem(bad, 422, "validation-failed")
    assert good.status_code == 201
    assert "Idempotent-Replayed" not in good


def test_the_placement_answer_is_the_order_as_get_returns_it(api, catalogue):
    """The 201 is written from the lines just placed, without reading them back or going
    through the OrderOut schema: it must be exactly what GET (schema-validated) answers."""
    placed = api.post(
        ORDERS,
        order_body(
            external_id="MP-2002",
            lines=[
                {"sku": "TEE-BLK-M", "quantity": 2, "unit_price": "24.90"},
                {"sku": "PRE-ORDER", "quantity": 3},  # backordered
                {"sku": "MUG-WHT", "quantity": 1},
            ],
            payment_method="bank_transfer",  # on hold until paid
        ),
    )
    assert placed.status_code == 201, placed.content
    assert placed["Content-Type"] == "application/json; charset=utf-8"
    body = placed.json()
    assert body["status"] == "on_hold"
    assert [ln["quantity_backordered"] for ln in body["lines"]] == [0, 3, 0]

    fetched = api.get(f"{ORDERS}/{body['number']}")

    assert fetched.status_code == 200
    assert fetched.json() == body


def test_repeated_external_id_is_409_pointing_at_the_existing_order(api, catalogue):
    first = api.post(ORDERS, order_body()).json()

    response = api.post(ORDERS, order_body())  # a new key: a real second attempt

    body = assert_problem(response, 409, "duplicate-external-id")
    assert body["existing_order"]["number"] == first["number"]
    assert body["existing_order"]["url"].endswith(f"/api/v1/orders/{first['number']}")
    assert first["number"] in body["detail"]
    assert Order.objects.count() == 1


def test_a_repeated_external_id_is_409_even_when_its_stock_is_gone(api, catalogue):
    body = order_body(lines=[{"sku": "MUG-WHT", "quantity": 5}])  # every mug there is
    first = api.post(ORDERS, body).json()

    response = api.post(ORDERS, body)  # a new key; no mug left to reserve

    assert (
        assert_problem(response, 409, "duplicate-external-id")["existing_order"]["number"]
        == (first["number"])
    )
    assert StockLevel.objects.get(product=catalogue["mug"]).reserved == 5
    assert Order.objects.count() == 1


def test_the_same_external_id_in_another_channel_is_a_new_order(api, catalogue):
    other = ChannelFactory(slug="webshop", name="Web shop", kind="web")
    order_place(
        channel=other,
        email="x@example.com",
        name="X",
        address=dict(ADDRESS),
        lines=[LineInput(catalogue["mug"], 1)],
        actor=None,
        source="api",
        external_id="MP-1001",
    )

    response = api.post(ORDERS, order_body())

    assert response.status_code == 201


def test_invalid_fields_are_listed_per_field_as_paths_into_the_body(api, catalogue):
    body = order_body(
        currency="euro", lines=[{"sku": "TEE-BLK-M", "quantity": 0, "unit_price": "1.234"}]
    )
    body["customer"].pop("email")
    body["shipping_address"]["colour"] = "blue"

    response = api.post(ORDERS, body)

    problem = assert_problem(response, 422, "validation-failed")
    errors = problem["errors"]
    assert set(errors) == {
        "currency",
        "customer.email",
        "lines[0].quantity",
        "lines[0].unit_price",
        "shipping_address.colour",
    }
    assert errors["customer.email"] == ["This field is required."]
    assert "greater than or equal to 1" in errors["lines[0].quantity"][0]
    assert "Unknown field" in errors["shipping_address.colour"][0]
    assert not Order.objects.exists()


def test_service_errors_use_the_same_paths(api, catalogue):
    response = api.post(
        ORDERS, order_body(customer={"email": "not-an-email", "name": "", "phone": ""})
    )

    problem = assert_problem(response, 422, "validation-failed")
    assert "customer.email" in problem["errors"]


def test_unknown_sku_is_422_naming_the_line(api, catalogue):
    response = api.post(
        ORDERS,
        order_body(lines=[{"sku": "TEE-BLK-M", "quantity": 1}, {"sku": "NOPE", "quantity": 1}]),
    )

    problem = assert_problem(response, 422, "validation-failed")
    assert problem["errors"] == {"lines[1].sku": ["No product with SKU 'NOPE'."]}
    assert not Order.objects.exists()


def test_out_of_stock_is_422_naming_the_short_line_and_changes_nothing(api, catalogue):
    response = api.post(
        ORDERS,
        order_body(lines=[{"sku": "MUG-WHT", "quantity": 1}, {"sku": "TEE-BLK-M", "quantity": 11}]),
    )

    problem = assert_problem(response, 422, "out-of-stock")
    assert list(problem["errors"]) == ["lines[1].quantity"]
    assert (
        "Only 10 of TEE-BLK-M available; 11 requested." in problem["errors"]["lines[1].quantity"][0]
    )
    assert not Order.objects.exists()
    assert StockLevel.objects.get(product=catalogue["mug"]).reserved == 0


def test_backorderable_line_reserves_what_exists_and_backorders_the_rest(api, catalogue):
    response = api.post(ORDERS, order_body(lines=[{"sku": "PRE-ORDER", "quantity": 3}]))

    assert response.status_code == 201, response.content
    line = response.json()["lines"][0]
    assert (line["quantity_reserved"], line["quantity_backordered"]) == (0, 3)
    assert Backorder.objects.get(product=catalogue["pre"]).quantity == 3


def test_incomplete_address_is_accepted_and_held(api, catalogue):
    body = order_body()
    body["shipping_address"] = {"name": "Ada Lovelace", "country": "DE"}

    response = api.post(ORDERS, body)

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "on_hold"
    assert "Incomplete address" in response.json()["hold_reason"]


def test_body_that_is_not_json_is_400(api, catalogue):
    response = api.post(ORDERS, raw="{not json")

    assert_problem(response, 400, "malformed-request")
    assert not IdempotencyKey.objects.exists()  # nothing ran: the key stays free


# ---------------------------------------------------------------- reading


@pytest.fixture
def placed(api, catalogue):
    return api.post(ORDERS, order_body()).json()


def test_get_order_by_number(api, placed):
    response = api.get(f"{ORDERS}/{placed['number']}")

    assert response.status_code == 200
    assert response.json() == placed | {"updated_at": response.json()["updated_at"]}


def test_another_channels_order_is_404(api, catalogue, manager):
    phone = ChannelFactory(slug="phone", name="Phone", kind="phone")
    theirs = order_place(
        channel=phone,
        email="x@example.com",
        name="X",
        address=dict(ADDRESS),
        lines=[LineInput(catalogue["mug"], 1)],
        actor=manager,
    )

    response = api.get(f"{ORDERS}/{theirs.number}")

    body = assert_problem(response, 404, "not-found")
    assert theirs.number in body["detail"]
    assert_problem(api.post(f"{ORDERS}/{theirs.number}/cancel", {"reason": "x"}), 404, "not-found")
    assert Order.objects.get(pk=theirs.pk).status == "open"


def test_unknown_order_is_404(api, catalogue):
    assert_problem(api.get(f"{ORDERS}/NW-99999"), 404, "not-found")


def _place(api, external_id, **changes):
    response = api.post(
        ORDERS,
        order_body(external_id=external_id, lines=[{"sku": "MUG-WHT", "quantity": 1}], **changes),
    )
    assert response.status_code == 201, response.content
    return response.json()["number"]


def test_list_pages_by_cursor_oldest_change_first(api, catalogue, manager):
    numbers = [
        _place(api, f"MP-{i}", customer={"email": f"c{i}@example.com", "name": f"C {i}"})
        for i in range(5)
    ]
    ChannelFactory(slug="phone", name="Phone", kind="phone")  # other channels' orders never show
    order_place(
        channel=ChannelFactory(slug="phone"),
        email="x@example.com",
        name="X",
        address=dict(ADDRESS),
        lines=[LineInput(catalogue["tee"], 1)],
        actor=manager,
    )

    first = api.get(ORDERS, {"limit": 2}).json()
    second = api.get(ORDERS, {"limit": 2, "cursor": first["next"]}).json()
    third = api.get(ORDERS, {"limit": 2, "cursor": second["next"]}).json()

    seen = [o["number"] for page in (first, second, third) for o in page["results"]]
    assert seen == numbers
    assert third["next"] is None
    assert third["next_url"] is None
    assert "cursor=" in first["next_url"]
    assert "limit=2" in first["next_url"]


def test_list_filters(api, catalogue):
    held = _place(api, "MP-held", payment_method="bank_transfer")
    open_ = _place(api, "MP-open", customer={"email": "grace@example.com", "name": "Grace Hopper"})

    assert [o["number"] for o in api.get(ORDERS, {"status": "on_hold"}).json()["results"]] == [held]
    assert [o["number"] for o in api.get(ORDERS, {"external_id": "MP-open"}).json()["results"]] == [
        open_
    ]
    assert [
        o["number"] for o in api.get(ORDERS, {"fulfillment_status": "reserved"}).json()["results"]
    ] == [held, open_]
    assert api.get(ORDERS, {"payment_status": "paid"}).json()["results"] == []
    later = Order.objects.get(number=open_).updated_at.isoformat()
    assert [o["number"] for o in api.get(ORDERS, {"updated_since": later}).json()["results"]] == [
        open_
    ]


def test_list_refuses_bad_filters_limit_and_cursor(api, catalogue):
    problem = assert_problem(
        api.get(ORDERS, {"status": "lost", "limit": 500}), 422, "validation-failed"
    )
    assert set(problem["errors"]) == {"status", "limit"}
    problem = assert_problem(api.get(ORDERS, {"cursor": "garbage!"}), 422, "validation-failed")
    assert "cursor" in problem["errors"]


# ---------------------------------------------------------------- cancelling


def test_cancel_releases_stock_and_answers_the_order(api, placed, catalogue):
    response = api.post(
        f"{ORDERS}/{placed['number']}/cancel", {"reason": "Customer withdrew"}, key="c-1"
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert response.json()["cancel_reason"] == "Customer withdrew"
    assert StockLevel.objects.get(product=catalogue["tee"]).reserved == 0
    assert OrderEvent.objects.filter(
        order__number=placed["number"], type="cancelled", source="api"
    ).exists()
    replay = api.post(
        f"{ORDERS}/{placed['number']}/cancel", {"reason": "Customer withdrew"}, key="c-1"
    )
    assert replay.status_code == 200
    assert replay["Idempotent-Replayed"] == "true"


def test_cancel_needs_a_key_and_a_reason(api, placed):
    assert_problem(
        api.post(f"{ORDERS}/{placed['number']}/cancel", {"reason": "x"}, key=None),
        400,
        "idempotency-key-missing",
    )
    problem = assert_problem(
        api.post(f"{ORDERS}/{placed['number']}/cancel", {"reason": ""}), 422, "validation-failed"
    )
    assert "reason" in problem["errors"]


def test_cancelling_a_cancelled_order_is_409(api, placed):
    api.post(f"{ORDERS}/{placed['number']}/cancel", {"reason": "Customer withdrew"})

    response = api.post(f"{ORDERS}/{placed['number']}/cancel", {"reason": "Again"})

    body = assert_problem(response, 409, "invalid-transition")
    assert "cancelled" in body["detail"]


def test_placement_queues_the_restock_check_only_at_the_reorder_point(
    api, catalogue, django_capture_on_commit_callbacks
):
    """Every placement queues the confirmation email after commit; the restock check only
    when a product falls to its reorder point (a reservation never raises availability)."""
    mug = catalogue["mug"]  # 5 in stock
    mug.reorder_point = 3
    mug.save()

    def queued(external_id, quantity):
        with django_capture_on_commit_callbacks() as callbacks:
            response = api.post(
                ORDERS,
                order_body(
                    external_id=external_id, lines=[{"sku": "MUG-WHT", "quantity": quantity}]
                ),
            )
        assert response.status_code == 201, response.content
        return sorted(cb.func.__self__.name.rsplit(".", 1)[-1] for cb in callbacks)

    assert queued("R-1", 1) == ["send_notification"]  # 4 left, above 3
    assert queued("R-2", 1) == ["check_restock_alerts", "send_notification"]  # 3 left
