"""The customer's pages: status page, documents, lookup, return request (no login)."""

import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse

from fulfillment.services import (
    shipment_confirm_packed,
    shipment_confirm_picked,
    shipment_mark_delivered,
    shipment_ship,
    shipments_create,
)
from invoicing.services import payment_record
from orders.models import Notification
from orders.services import LineInput, order_cancel, order_place
from returns.models import ReturnRequest
from returns.services import return_receive, return_refund

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()
    yield
    cache.clear()


def ship(order, user, carrier, *, deliver=False):
    shipments = shipments_create(order=order, actor=user)
    for s in shipments:
        shipment_confirm_picked(shipment=s, actor=user)
        shipment_confirm_packed(shipment=s, actor=user)
        shipment_ship(
            shipment=s, carrier=carrier, tracking_number=f"00340434{s.pk:06d}", actor=user
        )
        if deliver:
            shipment_mark_delivered(shipment=s, actor=user)
    order.refresh_from_db()
    for s in shipments:
        s.refresh_from_db()
    return shipments


@pytest.fixture
def delivered_order(placed_order, manager, carrier):
    ship(placed_order, manager, carrier, deliver=True)
    return placed_order


def page_url(order):
    return reverse("status:page", args=[order.status_token])


def without_csrf(html: str) -> str:
    return re.sub(r'"X-CSRFToken": "[^"]*"', "", html)


# ---------------------------------------------------------------- status page


def test_placed_order_shows_number_items_and_first_step(client, placed_order):
    response = client.get(page_url(placed_order))

    assert response.status_code == 200
    html = response.content.decode()
    assert placed_order.number in html
    assert "Organic tee, black, M" in html
    assert "We&#x27;ve received your order" in html
    assert '<li class="done current" aria-current="step">' in html  # Placed is the current step
    assert "€64.40" in html  # 2 x 25.00 + 19 % tax + 4.90 shipping, with its currency
    assert "Return items" not in html  # nothing has shipped yet
    assert "Your invoice will appear here once your order ships." in html
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert "no-store" in response["Cache-Control"]


def test_shipped_order_shows_tracking_with_carrier_link(client, placed_order, manager, carrier):
    (shipment,) = ship(placed_order, manager, carrier)

    html = client.get(page_url(placed_order)).content.decode()

    assert "On its way" in html
    assert "in_transit" not in html
    assert "Shipped " in html
    assert shipment.tracking_number in html
    assert f'href="https://tracking.example.com/{shipment.tracking_number}"' in html
    assert "DHL Parcel" in html
    assert "Return items" in html


def test_delivered_order_shows_invoice_link_and_only_customer_visible_events(
    client, delivered_order
):
    invoice = delivered_order.invoices.get()
    html = client.get(page_url(delivered_order)).content.decode()

    assert "Delivered" in html
    assert html.count('class="done') == 5  # every step done
    doc_url = reverse(
        "status:document", args=[delivered_order.status_token, "invoice", invoice.number]
    )
    assert doc_url in html
    # The customer's words are there...
    for event in delivered_order.events.filter(visible_to_customer=True):
        assert event.customer_message.replace("'", "&#x27;") in html
    # ...and no staff-only line of the timeline.
    for event in delivered_order.events.filter(visible_to_customer=False):
        assert event.message.replace("'", "&#x27;") not in html
    assert "Shipment SH-" not in html


def test_cancelled_order_shows_a_banner_instead_of_the_stepper(client, placed_order, manager):
    order_cancel(order=placed_order, reason="Customer changed their mind", actor=manager)

    html = client.get(page_url(placed_order)).content.decode()

    assert "This order was cancelled" in html
    assert 'class="stepper' not in html
    assert "You haven't been charged for it." in html


def test_bad_token_and_a_token_one_character_off_get_the_same_404(client, placed_order):
    token = placed_order.status_token
    off_by_one = token[:-1] + ("A" if token[-1] != "A" else "B")

    responses = [client.get(f"/status/{t}/") for t in ("nope", off_by_one, "x" * 80)]

    assert [r.status_code for r in responses] == [404, 404, 404]
    bodies = {without_csrf(r.content.decode()) for r in responses}
    assert len(bodies) == 1  # nothing tells a near miss from a wild guess
    assert placed_order.number not in bodies.pop()
    assert client.get(f"/status/{off_by_one}/return/").status_code == 404


# ---------------------------------------------------------------- documents


def test_invoice_pdf_is_rendered_on_demand_for_its_own_order(client, delivered_order):
    invoice = delivered_order.invoices.get()
    assert invoice.pdf_status == "pending"  # the worker has not run (no commit in tests)

    url = reverse("status:document", args=[delivered_order.status_token, "invoice", invoice.number])
    response = client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    invoice.refresh_from_db()
    assert invoice.pdf_status == "rendered"


def test_document_of_another_order_is_404(
    client, delivered_order, channel, stocked_product, manager, address, carrier
):
    other = order_place(
        channel=channel,
        email="bob@example.com",
        name="Bob Stone",
        address=address,
        lines=[LineInput(product=stocked_product, quantity=1)],
        actor=manager,
    )
    ship(other, manager, carrier)
    other_invoice = other.invoices.get()

    stolen = reverse(
        "status:document", args=[delivered_order.status_token, "invoice", other_invoice.number]
    )
    wrong_kind = reverse(
        "status:document",
        args=[delivered_order.status_token, "credit-note", delivered_order.invoices.get().number],
    )
    bad_kind = reverse(
        "status:document",
        args=[delivered_order.status_token, "receipt", delivered_order.invoices.get().number],
    )

    assert client.get(stolen).status_code == 404
    assert client.get(wrong_kind).status_code == 404
    assert client.get(bad_kind).status_code == 404


def test_returned_order_shows_the_return_and_serves_the_credit_note(
    client, delivered_order, manager
):
    line = delivered_order.lines.get()
    client.post(
        reverse("status:return", args=[delivered_order.status_token]),
        {f"line-{line.pk}": "1", "reason": "size", "note": ""},
    )
    rma = ReturnRequest.objects.get(order=delivered_order)
    payment_record(
        order=delivered_order, amount=delivered_order.total, method="card", actor=manager
    )
    return_receive(return_request=rma, actor=manager)
    return_refund(return_request=rma, actor=manager)
    note = delivered_order.credit_notes.get()

    html = client.get(page_url(delivered_order)).content.decode()
    assert rma.number in html
    assert "Refunded" in html
    url = reverse(
        "status:document", args=[delivered_order.status_token, "credit-note", note.number]
    )
    assert url in html
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")


# ---------------------------------------------------------------- lookup


def test_lookup_with_number_and_email_in_any_case_opens_the_status_page(client, placed_order):
    response = client.post(
        reverse("status:lookup"),
        {"number": f" {placed_order.number.lower()} ", "email": "ADA@Example.com"},
    )

    assert response.status_code == 302
    assert response["Location"] == page_url(placed_order)


def test_lookup_accepts_the_number_without_its_prefix(client, placed_order):
    digits = placed_order.number.split("-")[-1]
    response = client.post(reverse("status:lookup"), {"number": digits, "email": "ada@example.com"})
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("number", "email"), [("NW-10001", "eve@example.com"), ("NW-99999", "ada@example.com")]
)
def test_lookup_failure_gives_one_generic_error(client, placed_order, number, email):
    response = client.post(reverse("status:lookup"), {"number": number, "email": email})

    assert response.status_code == 200
    html = response.content.decode()
    assert "We couldn&#x27;t find an order with that number and email." in html
    assert placed_order.status_token not in html


def test_lookup_shows_field_errors_for_empty_input(client):
    response = client.post(reverse("status:lookup"), {"number": "", "email": "not-an-email"})

    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["number"] == ["Enter the order number from your confirmation email."]
    assert form.errors["email"] == ["Enter an email address like name@example.com."]


def test_lookup_is_rate_limited_per_client_address(client, placed_order, settings):
    settings.STATUS_LOOKUP_RATE = 3
    url = reverse("status:lookup")
    good = {"number": placed_order.number, "email": "ada@example.com"}
    bad = {"number": placed_order.number, "email": "eve@example.com"}

    assert client.post(url, bad).status_code == 200
    assert client.post(url, good).status_code == 302  # successes count too
    assert client.post(url, bad).status_code == 200
    blocked = client.post(url, good)

    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.content.decode()
    assert blocked["Retry-After"] == str(settings.STATUS_LOOKUP_WINDOW)
    assert client.get(url).status_code == 429
    # Another address is not affected.
    assert client.post(url, good, REMOTE_ADDR="10.0.0.9").status_code == 302


# ---------------------------------------------------------------- return request


def test_customer_return_request_creates_an_rma_and_an_email(client, delivered_order):
    line = delivered_order.lines.get()
    url = reverse("status:return", args=[delivered_order.status_token])
    form_page = client.get(url)
    assert form_page.status_code == 200
    assert f'name="line-{line.pk}"' in form_page.content.decode()

    response = client.post(
        url, {f"line-{line.pk}": "1", "reason": "size", "note": "A bit small"}, follow=True
    )

    rma = ReturnRequest.objects.get(order=delivered_order)
    assert rma.source == "customer"
    assert rma.created_by is None
    assert rma.customer_note == "A bit small"
    assert [(rl.order_line_id, rl.quantity) for rl in rma.lines.all()] == [(line.pk, 1)]
    assert Notification.objects.filter(order=delivered_order, kind="return_requested").count() == 1
    assert response.redirect_chain[-1][0] == page_url(delivered_order)
    html = response.content.decode()
    assert f"Return {rma.number} requested. We&#x27;ve emailed you the next steps." in html
    assert "Waiting for your parcel" in html
    assert delivered_order.events.filter(type="return_requested", source="customer").exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"qty": "5", "reason": "size"}, "line", "You can return up to 2."),
        ({"qty": "1", "reason": ""}, "reason", "Choose why the items are coming back."),
        ({"qty": "abc", "reason": "size"}, "line", "Enter a whole number."),
        ({"qty": "0", "reason": "size"}, None, "Choose at least one item to return."),
    ],
)
def test_bad_return_input_shows_errors_next_to_fields_and_saves_nothing(
    client, delivered_order, data, field, message
):
    line = delivered_order.lines.get()
    url = reverse("status:return", args=[delivered_order.status_token])

    response = client.post(
        url, {f"line-{line.pk}": data["qty"], "reason": data["reason"], "note": ""}
    )

    assert response.status_code == 200
    form = response.context["form"]
    key = {"line": f"line-{line.pk}", "reason": "reason", None: "__all__"}[field]
    assert form.errors[key] == [message]
    html = response.content.decode()
    if field == "line":
        assert f'id="id_line-{line.pk}-error"' in html
    assert not ReturnRequest.objects.exists()
    assert not Notification.objects.filter(kind="return_requested").exists()


def test_return_page_sends_back_to_the_status_page_when_nothing_is_returnable(client, placed_order):
    response = client.get(reverse("status:return", args=[placed_order.status_token]), follow=True)

    assert response.redirect_chain == [(page_url(placed_order), 302)]
    assert "Nothing in this order can be returned right now." in response.content.decode()


def test_partial_shipment_shows_a_partly_done_stepper(
    client, channel, stocked_product, manager, address, carrier, warehouses
):
    from inventory.services import stock_receive
    from tests.factories import ProductFactory

    mug = ProductFactory(sku="MUG-1", name="Enamel mug", price=Decimal("9.50"))
    stock_receive(product=mug, warehouse=warehouses[1], quantity=3, actor=manager, reference="PO-2")
    order = order_place(
        channel=channel,
        email="ada@example.com",
        name="Ada",
        address=address,
        lines=[LineInput(stocked_product, 1), LineInput(mug, 1)],
        actor=manager,
    )
    first, second = shipments_create(order=order, actor=manager)
    for s in (first, second):
        shipment_confirm_picked(shipment=s, actor=manager)
        shipment_confirm_packed(shipment=s, actor=manager)
    shipment_ship(shipment=first, carrier=carrier, tracking_number="TRK-1", actor=manager)
    shipment_mark_delivered(shipment=first, actor=manager)

    html = client.get(page_url(order)).content.decode()

    assert "Partly delivered" in html
    assert "Parcel 1 of 2" in html
    assert "Parcel 2 of 2" in html
    assert html.count('class="partial') == 3  # shipped, out for delivery, delivered: partly


def test_carrier_updates_read_in_plain_words(client, placed_order, manager, carrier):
    from fulfillment.models import Shipment

    (shipment,) = ship(placed_order, manager, carrier)
    # Carrier tracking (issue C) moves these statuses; no staff service does yet.
    Shipment.objects.filter(pk=shipment.pk).update(status="out_for_delivery")
    html = client.get(page_url(placed_order)).content.decode()
    assert "It should arrive today." in html
    assert re.search(r'<li class="done current" aria-current="step">\s*Out for delivery', html)

    Shipment.objects.filter(pk=shipment.pk).update(status="exception")
    html = client.get(page_url(placed_order)).content.decode()
    assert "Your parcel is delayed." in html
    assert "exception" not in html.lower().replace("timeline-", "")


def test_document_that_cannot_be_rendered_yet_says_so(client, delivered_order, monkeypatch):
    def broken(doc):
        raise OSError("fonts missing")

    monkeypatch.setattr("invoicing.pdf.render_pdf", broken)
    invoice = delivered_order.invoices.get()
    url = reverse("status:document", args=[delivered_order.status_token, "invoice", invoice.number])

    response = client.get(url)

    assert response.status_code == 503
    assert f"{invoice.number} is almost ready" in response.content.decode()
    assert response["Retry-After"] == "60"
