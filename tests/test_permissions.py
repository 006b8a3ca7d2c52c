"""Who may do what, over HTTP: the checks a merchant relies on."""

import pytest
from django.urls import reverse

from fulfillment.services import (
    shipment_confirm_packed,
    shipment_confirm_picked,
    shipment_ship,
    shipments_create,
)
from invoicing.services import payment_record
from returns.services import return_receive, return_request_create

pytestmark = pytest.mark.django_db

STAFF_PAGES = [
    ("dashboard:home", []),
    ("orders:list", []),
    ("orders:new", []),
    ("fulfillment:queue", []),
    ("returns:list", []),
    ("invoicing:list", []),
    ("inventory:products", []),
    ("customers:list", []),
]


@pytest.mark.parametrize(("name", "args"), STAFF_PAGES)
def test_anonymous_user_gets_the_login_page(client, name, args):
    url = reverse(name, args=args)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_anonymous_user_cannot_act_on_an_order(client, placed_order):
    response = client.post(reverse("orders:cancel", args=[placed_order.number]), {"reason": "x"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    placed_order.refresh_from_db()
    assert placed_order.status == "open"


def test_signed_in_user_without_a_role_is_refused(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nobody", password="x"))
    assert client.get(reverse("orders:list")).status_code == 403


@pytest.fixture
def received_return(placed_order, manager, carrier):
    for s in shipments_create(order=placed_order, actor=manager):
        shipment_confirm_picked(shipment=s, actor=manager)
        shipment_confirm_packed(shipment=s, actor=manager)
        shipment_ship(shipment=s, carrier=carrier, tracking_number="T1", actor=manager)
    payment_record(order=placed_order, amount=placed_order.total, method="card", actor=manager)
    line = placed_order.lines.get()
    rma = return_request_create(
        order=placed_order, quantities={line.pk: 1}, reason="damaged", actor=manager
    )
    return return_receive(return_request=rma, actor=manager)


def test_warehouse_user_cannot_issue_refunds(client, warehouse_user, received_return):
    client.force_login(warehouse_user)
    response = client.post(reverse("returns:refund", args=[received_return.number]), follow=True)
    assert "Only Finance or a Manager may issue refunds." in response.content.decode()
    received_return.refresh_from_db()
    assert received_return.status == "received"
    assert not received_return.order.refunds.exists()
    assert not received_return.order.credit_notes.exists()


def test_finance_user_can_refund(client, finance_user, received_return):
    client.force_login(finance_user)
    client.post(reverse("returns:refund", args=[received_return.number]))
    received_return.refresh_from_db()
    assert received_return.status == "refunded"


def test_warehouse_user_cannot_place_orders_or_record_payments(
    client, warehouse_user, placed_order
):
    client.force_login(warehouse_user)
    assert client.get(reverse("orders:new")).status_code == 403
    response = client.post(
        reverse("invoicing:record_payment", args=[placed_order.number]),
        {"amount": "10.00", "method": "card"},
    )
    assert response.status_code in (302, 403)
    assert not placed_order.payments.exists()


def test_wrong_status_token_gets_404(client, placed_order):
    good = placed_order.status_token
    assert client.get(reverse("status:page", args=[good])).status_code == 200
    wrong = good[:-1] + ("A" if good[-1] != "A" else "B")
    for token in (wrong, "nope", "x" * 43):
        assert client.get(reverse("status:page", args=[token])).status_code == 404
