"""The returns screens over HTTP: open a return, list, receive, refund, reject."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from fulfillment.services import (
    shipment_confirm_packed,
    shipment_confirm_picked,
    shipment_mark_delivered,
    shipment_ship,
    shipments_create,
)
from inventory.models import StockLevel
from invoicing.models import CreditNote
from invoicing.services import payment_record
from returns.models import ReturnRequest
from returns.services import return_receive, return_refund, return_reject, return_request_create

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def delivered_order(placed_order, manager, carrier):
    """Two TEE-BLK-M (25.00 net, 19 % tax) shipped from HAM, delivered and paid."""
    for s in shipments_create(order=placed_order, actor=manager):
        shipment_confirm_picked(shipment=s, actor=manager)
        shipment_confirm_packed(shipment=s, actor=manager)
        shipment_ship(shipment=s, carrier=carrier, tracking_number="JJD1", actor=manager)
        shipment_mark_delivered(shipment=s, actor=manager)
    placed_order.refresh_from_db()
    payment_record(order=placed_order, amount=placed_order.total, method="card", actor=manager)
    placed_order.refresh_from_db()
    return placed_order


@pytest.fixture
def line(delivered_order):
    return delivered_order.lines.get()


@pytest.fixture
def requested(delivered_order, line, service_agent):
    return return_request_create(
        order=delivered_order,
        quantities={line.pk: 2},
        reason="size",
        note="Too small",
        actor=service_agent,
    )


@pytest.fixture
def received(requested, warehouse_user, line):
    return return_receive(return_request=requested, actor=warehouse_user, quantities={line.pk: 1})


def _level(product, warehouse):
    return StockLevel.objects.get(product=product, warehouse=warehouse)


# ---------------------------------------------------------------- access


@pytest.mark.parametrize(
    "name", ["returns:list", "returns:detail", "returns:create", "returns:receive"]
)
def test_anonymous_user_is_sent_to_login(client, requested, name):
    args = {"returns:list": [], "returns:create": [requested.order.number]}.get(
        name, [requested.number]
    )
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_anonymous_refund_changes_nothing(client, received):
    response = client.post(reverse("returns:refund", args=[received.number]))
    assert response["Location"].startswith(reverse("login"))
    received.refresh_from_db()
    assert received.status == "received"


def test_unknown_numbers_are_404(client, service_agent):
    client.force_login(service_agent)
    assert client.get(reverse("returns:detail", args=["RMA-999999"])).status_code == 404
    assert client.get(reverse("returns:create", args=["NOPE-1"])).status_code == 404


# ---------------------------------------------------------------- create


def test_create_form_lists_the_returnable_lines(client, service_agent, delivered_order, line):
    client.force_login(service_agent)
    response = client.get(reverse("returns:create", args=[delivered_order.number]))
    html = response.content.decode()
    assert response.status_code == 200
    assert f'name="line-{line.pk}"' in html
    assert 'max="2"' in html
    assert 'name="reason"' in html
    assert 'name="note"' in html
    assert "Wrong size or fit" in html
    assert "€29.75" in html  # unit price with tax


def test_create_a_return(client, service_agent, delivered_order, line):
    client.force_login(service_agent)
    response = client.post(
        reverse("returns:create", args=[delivered_order.number]),
        {f"line-{line.pk}": "1", "reason": "damaged", "note": "Seam open"},
    )

    rma = ReturnRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("returns:detail", args=[rma.number])
    assert (rma.status, rma.reason, rma.source, rma.customer_note) == (
        "requested",
        "damaged",
        "staff",
        "Seam open",
    )
    assert rma.created_by == service_agent
    assert [(rl.order_line_id, rl.quantity) for rl in rma.lines.all()] == [(line.pk, 1)]
    assert any(rma.number in m and "1 item" in m for m in _messages(response))


def test_create_shows_every_error_next_to_its_field_and_saves_nothing(
    client, service_agent, delivered_order, line
):
    client.force_login(service_agent)
    url = reverse("returns:create", args=[delivered_order.number])

    response = client.post(url, {f"line-{line.pk}": "0", "reason": ""})
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["reason"] == ["Choose why the items are coming back."]
    assert form.non_field_errors() == ["Choose at least one item to return."]
    assert "Choose at least one item to return." in response.content.decode()

    response = client.post(url, {f"line-{line.pk}": "5", "reason": "size", "note": "keep me"})
    assert response.status_code == 200
    assert response.context["form"].errors[f"line-{line.pk}"] == [
        "Organic tee, black, M: up to 2 can be returned."
    ]
    html = response.content.decode()
    assert f'id="id_line-{line.pk}-error"' in html
    assert "keep me" in html  # nothing typed is lost

    response = client.post(url, {f"line-{line.pk}": "two", "reason": "size"})
    assert response.context["form"].errors[f"line-{line.pk}"] == ["Enter a whole number."]
    assert not ReturnRequest.objects.exists()


def test_create_for_an_unshipped_order_says_nothing_can_be_returned(
    client, service_agent, placed_order
):
    client.force_login(service_agent)
    response = client.get(reverse("returns:create", args=[placed_order.number]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Nothing on this order can be returned" in html
    assert 'name="reason"' not in html


def test_items_in_an_open_return_are_not_offered_again(client, service_agent, requested, line):
    client.force_login(service_agent)
    response = client.get(reverse("returns:create", args=[requested.order.number]))
    html = response.content.decode()
    assert f'name="line-{line.pk}"' not in html
    assert requested.number in html


def test_warehouse_cannot_open_a_return(client, warehouse_user, delivered_order, line):
    client.force_login(warehouse_user)
    url = reverse("returns:create", args=[delivered_order.number])
    html = client.get(url).content.decode()
    assert "Only Customer service or a Manager may open a return" in html
    response = client.post(url, {f"line-{line.pk}": "1", "reason": "size"})
    assert response.status_code == 200
    assert not ReturnRequest.objects.exists()


# ---------------------------------------------------------------- list


def test_list_has_quick_views_with_counts_and_filters(
    client, service_agent, warehouse_user, finance_user, delivered_order, line
):
    a = return_request_create(
        order=delivered_order, quantities={line.pk: 1}, reason="size", actor=service_agent
    )
    b = return_request_create(
        order=delivered_order, quantities={line.pk: 1}, reason="damaged", actor=service_agent
    )
    return_receive(return_request=b, actor=warehouse_user)
    client.force_login(service_agent)

    response = client.get(reverse("returns:list"))
    assert response.status_code == 200
    counts = {v["label"]: v["count"] for v in response.context["views"]}
    assert counts["All"] == 2
    assert counts["To receive"] == 1
    assert counts["To refund"] == 1
    assert counts["Refunded"] == 0
    html = response.content.decode()
    assert a.number in html
    assert b.number in html

    response = client.get(reverse("returns:list"), {"status": "received"})
    assert [r.number for r in response.context["rows"]] == [b.number]

    response = client.get(reverse("returns:list"), {"q": a.number})
    assert [r.number for r in response.context["rows"]] == [a.number]

    response = client.get(reverse("returns:list"), {"q": "nobody-here"})
    assert "No return matches" in response.content.decode()


def test_empty_list_says_where_returns_come_from(client, service_agent):
    client.force_login(service_agent)
    html = client.get(reverse("returns:list")).content.decode()
    assert "No returns yet" in html
    assert reverse("orders:list") in html


# ---------------------------------------------------------------- detail, receive


def test_detail_shows_lines_order_customer_and_timeline(client, service_agent, requested):
    client.force_login(service_agent)
    response = client.get(requested.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert requested.number in html
    assert "TEE-BLK-M" in html
    assert reverse("orders:detail", args=[requested.order.number]) in html
    assert "ada@example.com" in html
    assert f"Return {requested.number} requested" in html
    assert "Too small" in html


def test_receive_is_offered_to_the_warehouse_only(client, warehouse_user, finance_user, requested):
    receive_url = reverse("returns:receive", args=[requested.number])
    client.force_login(warehouse_user)
    assert receive_url in client.get(requested.get_absolute_url()).content.decode()
    client.force_login(finance_user)
    assert receive_url not in client.get(requested.get_absolute_url()).content.decode()


def test_receive_form_defaults_to_the_requested_quantity_and_restock(
    client, warehouse_user, requested, line
):
    client.force_login(warehouse_user)
    response = client.get(reverse("returns:receive", args=[requested.number]))
    assert response.status_code == 200
    form = response.context["form"]
    assert form[f"line-{line.pk}"].value() == 2
    assert form["restock"].value() is True
    html = response.content.decode()
    assert f'name="line-{line.pk}"' in html
    assert 'name="restock"' in html
    assert "checked" in html


def test_receive_and_restock(client, warehouse_user, requested, line, stocked_product, warehouses):
    before = _level(stocked_product, warehouses[0]).on_hand
    client.force_login(warehouse_user)
    response = client.post(
        reverse("returns:receive", args=[requested.number]),
        {f"line-{line.pk}": "1", "restock": "on"},
    )

    assert response["Location"] == requested.get_absolute_url()
    requested.refresh_from_db()
    assert requested.status == "received"
    assert requested.restock is True
    assert requested.lines.get().quantity_received == 1
    assert _level(stocked_product, warehouses[0]).on_hand == before + 1
    assert any("1 item received, back in stock" in m for m in _messages(response))


def test_receive_without_restock_leaves_stock_alone(
    client, warehouse_user, requested, line, stocked_product, warehouses
):
    before = _level(stocked_product, warehouses[0]).on_hand
    client.force_login(warehouse_user)
    client.post(reverse("returns:receive", args=[requested.number]), {f"line-{line.pk}": "2"})
    requested.refresh_from_db()
    assert requested.status == "received"
    assert requested.restock is False
    assert _level(stocked_product, warehouses[0]).on_hand == before


def test_receive_errors_show_next_to_the_line_and_change_nothing(
    client, warehouse_user, requested, line
):
    client.force_login(warehouse_user)
    url = reverse("returns:receive", args=[requested.number])

    response = client.post(url, {f"line-{line.pk}": "3", "restock": "on"})
    assert response.status_code == 200
    assert response.context["form"].errors[f"line-{line.pk}"] == [
        "Organic tee, black, M: between 0 and 2 can be received."
    ]
    assert f'id="id_line-{line.pk}-error"' in response.content.decode()

    response = client.post(url, {f"line-{line.pk}": "0", "restock": "on"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "Nothing was received. Reject the return instead."
    ]

    requested.refresh_from_db()
    assert requested.status == "requested"
    assert requested.lines.get().quantity_received == 0


def test_finance_cannot_receive(client, finance_user, requested, line):
    client.force_login(finance_user)
    url = reverse("returns:receive", args=[requested.number])
    assert "Only Warehouse or a Manager may receive returns" in client.get(url).content.decode()
    client.post(url, {f"line-{line.pk}": "2", "restock": "on"})
    requested.refresh_from_db()
    assert requested.status == "requested"


def test_receive_page_of_a_received_return_goes_back_to_it(client, warehouse_user, received):
    client.force_login(warehouse_user)
    response = client.get(reverse("returns:receive", args=[received.number]))
    assert response["Location"] == received.get_absolute_url()
    assert any("nothing to receive" in m for m in _messages(response))


# ---------------------------------------------------------------- refund


def test_finance_sees_the_amount_to_credit(client, finance_user, received):
    client.force_login(finance_user)
    response = client.get(received.get_absolute_url())
    html = response.content.decode()
    assert response.context["credit_total"] == Decimal("29.75")  # one at 25.00 + 19 %
    assert "€29.75" in html
    assert reverse("returns:refund", args=[received.number]) in html
    assert "data-confirm" in html


def test_a_warehouse_user_cannot_refund(client, warehouse_user, received):
    client.force_login(warehouse_user)
    html = client.get(received.get_absolute_url()).content.decode()
    assert reverse("returns:refund", args=[received.number]) not in html
    assert "Finance (or a manager) refunds it" in html

    response = client.post(reverse("returns:refund", args=[received.number]))
    assert response.status_code == 302
    assert response["Location"] == received.get_absolute_url()
    assert "Only Finance or a Manager may issue refunds." in _messages(response)
    received.refresh_from_db()
    assert received.status == "received"
    assert received.refund_amount is None
    assert not CreditNote.objects.exists()
    assert not received.order.refunds.exists()


def test_finance_refunds_and_sees_the_credit_note(client, finance_user, received):
    client.force_login(finance_user)
    response = client.post(reverse("returns:refund", args=[received.number]))

    assert response["Location"] == received.get_absolute_url()
    received.refresh_from_db()
    assert received.status == "refunded"
    assert received.refund_amount == Decimal("29.75")
    note = received.order.credit_notes.get(reference=received.number)
    assert note.total == Decimal("29.75")
    assert received.order.refunds.get().amount == Decimal("29.75")
    assert any("Refunded €29.75" in m and note.number in m for m in _messages(response))

    html = client.get(received.get_absolute_url()).content.decode()
    assert note.number in html
    assert reverse("invoicing:credit_note_pdf", args=[note.number]) in html
    assert "€29.75" in html
    assert reverse("returns:refund", args=[received.number]) not in html


def test_refunding_twice_is_refused(client, finance_user, received):
    return_refund(return_request=received, actor=finance_user)
    client.force_login(finance_user)
    response = client.post(reverse("returns:refund", args=[received.number]))
    assert any("cannot become refunded" in m for m in _messages(response))
    assert received.order.refunds.count() == 1


def test_get_on_refund_renders_the_return(client, finance_user, received):
    client.force_login(finance_user)
    response = client.get(reverse("returns:refund", args=[received.number]))
    assert response.status_code == 200
    assert response.templates[0].name == "returns/detail.html"
    received.refresh_from_db()
    assert received.status == "received"


# ---------------------------------------------------------------- reject


def test_reject_needs_a_reason(client, service_agent, requested):
    client.force_login(service_agent)
    url = reverse("returns:reject", args=[requested.number])

    response = client.post(url, {"reason": "  "})
    assert response.status_code == 200
    assert response.context["reject_form"].errors["reason"] == ["Say why the return is rejected."]
    assert 'id="id_reason-error"' in response.content.decode()
    requested.refresh_from_db()
    assert requested.status == "requested"

    response = client.post(url, {"reason": "Outside the 30-day window"})
    assert response["Location"] == requested.get_absolute_url()
    requested.refresh_from_db()
    assert requested.status == "rejected"
    html = client.get(requested.get_absolute_url()).content.decode()
    assert "Outside the 30-day window" in html


def test_finance_cannot_reject(client, finance_user, requested):
    client.force_login(finance_user)
    assert (
        reverse("returns:reject", args=[requested.number])
        not in client.get(requested.get_absolute_url()).content.decode()
    )
    response = client.post(reverse("returns:reject", args=[requested.number]), {"reason": "No"})
    assert response["Location"] == requested.get_absolute_url()
    assert any(m.startswith("Only ") for m in _messages(response))
    requested.refresh_from_db()
    assert requested.status == "requested"


def test_a_rejected_return_offers_no_actions(client, manager, requested):
    return_reject(return_request=requested, actor=manager, reason="Worn")
    client.force_login(manager)
    html = client.get(requested.get_absolute_url()).content.decode()
    for name in ["returns:receive", "returns:refund", "returns:reject"]:
        assert reverse(name, args=[requested.number]) not in html
