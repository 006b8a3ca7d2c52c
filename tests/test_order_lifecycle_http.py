"""One order through all nine stages of issue A, over HTTP, as staff and customer would."""

import io
import re
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from pypdf import PdfReader

from core import roles
from inventory.models import StockLevel, StockMovement
from inventory.selectors import stock_discrepancies
from orders.models import Notification, Order
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.fixture
def do(client, django_capture_on_commit_callbacks, eager_celery):
    """Make a request and run its after-commit work (emails, PDFs) the way a worker would."""

    def request(method, url, data=None, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return getattr(client, method)(url, data or {}, **kwargs)

    return request


def test_one_order_from_placement_to_refund(
    client, do, stocked_product, warehouses, channel, carrier
):
    service = UserFactory(username="cs", roles=[roles.CUSTOMER_SERVICE])
    picker = UserFactory(username="picker", roles=[roles.WAREHOUSE])
    finance = UserFactory(username="fin", roles=[roles.FINANCE])

    # 1. Staff sign in.
    assert client.get(reverse("orders:list")).status_code == 302
    response = client.post(reverse("login"), {"username": "cs", "password": "orderline-demo"})
    assert response.status_code == 302

    # 2. Catalog and stock.
    response = client.get(reverse("inventory:products"))
    assert response.status_code == 200
    assert "TEE-BLK-M" in response.content.decode()

    # 3. Placement by staff (a phone order).
    response = do(
        "post",
        reverse("orders:new"),
        {
            "channel": "phone",
            "email": "ada@example.com",
            "name": "Ada Lovelace",
            "phone": "+49 40 555",
            "ship_name": "Ada Lovelace",
            "ship_line1": "Hafenstraße 12",
            "ship_line2": "",
            "ship_city": "Hamburg",
            "ship_region": "",
            "ship_postal_code": "20457",
            "ship_country": "DE",
            "lines-0-sku": "TEE-BLK-M",
            "lines-0-quantity": "3",
            "shipping_method": "standard",
            "shipping_total": "4.90",
            "payment_method": "card",
            "notes": "Gift wrap",
        },
    )
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:detail", args=[order.number])
    line = order.lines.get()
    assert (line.quantity, line.quantity_reserved) == (3, 3)
    assert StockLevel.objects.get(product=stocked_product, warehouse=warehouses[0]).reserved == 3
    assert order.events.filter(type="placed", actor=service).exists()

    # 4. Acknowledgment: HTML and text, with the status link, sent once.
    assert len(mail.outbox) == 1
    ack = mail.outbox[0]
    assert order.number in ack.subject
    status_url = order.status_url()
    assert status_url in ack.body
    assert status_url in ack.alternatives[0][0]
    assert Notification.objects.get(order=order, kind="order_confirmation").status == "sent"

    # 5. Fulfillment: create the shipment, pick, pack, ship.
    client.force_login(picker)
    response = do("post", reverse("fulfillment:create_shipments", args=[order.number]))
    assert response.status_code == 302
    shipment = order.shipments.get()
    assert do("post", reverse("fulfillment:pick", args=[shipment.number])).status_code == 302
    station = reverse("fulfillment:pack_shipment", args=[shipment.number])
    for _ in range(3):  # the packer scans every item, weighs the parcel and completes
        assert (
            do("post", station, {"action": "scan", "code": stocked_product.barcode}).status_code
            == 302
        )
    assert do("post", station, {"action": "parcel_add", "weight_grams": "1200"}).status_code == 302
    assert do("post", station, {"action": "complete"}).status_code == 302
    shipment.refresh_from_db()
    assert shipment.status == "packed"
    response = do(
        "post",
        reverse("fulfillment:ship", args=[shipment.number]),
        {"carrier": carrier.pk, "tracking_number": "JJD0001234567"},
    )
    assert response.status_code == 302
    shipment.refresh_from_db()
    assert shipment.status == "shipped"
    level = StockLevel.objects.get(product=stocked_product, warehouse=warehouses[0])
    assert (level.on_hand, level.reserved) == (7, 0)
    assert StockMovement.objects.filter(
        kind="shipment", reference=shipment.number, on_hand_delta=-3
    ).exists()
    shipped_mail = mail.outbox[-1]
    assert "on its way" in shipped_mail.subject.lower()
    assert "JJD0001234567" in shipped_mail.body

    # 6. Delivery, marked by staff; the customer is told.
    response = do(
        "post",
        reverse("fulfillment:deliver", args=[shipment.number]),
        {"note": "Left with neighbour"},
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.fulfillment_status == "delivered"
    assert "delivered" in mail.outbox[-1].subject.lower()

    # 7. Invoice: issued with its number, rendered by the worker, downloadable by staff and customer.
    invoice = order.invoices.get()
    assert re.fullmatch(r"INV-\d{4}-\d{6}", invoice.number)
    client.force_login(finance)
    response = do(
        "post",
        reverse("invoicing:record_payment", args=[order.number]),
        {"amount": str(order.total), "method": "card", "reference": "PSP-42"},
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.payment_status == "paid"
    assert order.status == "closed"
    response = client.get(reverse("invoicing:invoice_pdf", args=[invoice.number]))
    assert response["Content-Type"] == "application/pdf"
    assert invoice.number in pdf_text(b"".join(response.streaming_content))

    # 8. Return: the customer asks from the status page; staff receive, restock and refund.
    client.logout()
    token = order.status_token
    response = do(
        "post",
        reverse("status:return", args=[token]),
        {f"line-{line.pk}": "1", "reason": "size", "note": "Too small"},
    )
    assert response.status_code == 302
    rma = order.return_requests.get()
    assert rma.source == "customer"
    client.force_login(picker)
    response = do(
        "post",
        reverse("returns:receive", args=[rma.number]),
        {f"line-{line.pk}": "1", "restock": "on"},
    )
    assert response.status_code == 302
    assert StockLevel.objects.get(product=stocked_product, warehouse=warehouses[0]).on_hand == 8
    assert do("post", reverse("returns:refund", args=[rma.number])).status_code in (302, 403)
    rma.refresh_from_db()
    assert rma.status == "received"  # the warehouse cannot refund
    client.force_login(finance)
    assert do("post", reverse("returns:refund", args=[rma.number])).status_code == 302
    rma.refresh_from_db()
    assert rma.status == "refunded"
    note = order.credit_notes.get()
    assert note.total == Decimal("29.75")
    assert order.refunds.get().amount == Decimal("29.75")
    response = client.get(reverse("invoicing:credit_note_pdf", args=[note.number]))
    assert note.number in pdf_text(b"".join(response.streaming_content))
    order.refresh_from_db()
    assert (order.fulfillment_status, order.payment_status) == (
        "partially_returned",
        "partially_refunded",
    )
    assert "refund" in mail.outbox[-1].subject.lower()

    # 9. The customer status page: progress, tracking, documents, return.
    client.logout()
    page = client.get(reverse("status:page", args=[token])).content.decode()
    for text in (order.number, "JJD0001234567", invoice.number, note.number, rma.number):
        assert text in page
    response = client.get(reverse("status:document", args=[token, "invoice", invoice.number]))
    assert invoice.number in pdf_text(b"".join(response.streaming_content))

    # 10. The staff order page: every quantity, the three statuses, the timeline with who did what.
    client.force_login(service)
    page = client.get(reverse("orders:detail", args=[order.number])).content.decode()
    for text in (
        "Partially returned",
        "Partially refunded",
        "Closed",
        shipment.number,
        "JJD0001234567",
        invoice.number,
        note.number,
        rma.number,
        picker.get_full_name(),
        finance.get_full_name(),
    ):
        assert text.lower() in page.lower(), text

    assert stock_discrepancies() == []
    kinds = set(Notification.objects.filter(order=order).values_list("kind", flat=True))
    assert kinds == {
        "order_confirmation",
        "order_shipped",
        "order_delivered",
        "return_requested",
        "return_received",
        "refund_issued",
    }
    assert not Notification.objects.exclude(status="sent").exists()
