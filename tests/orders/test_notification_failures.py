import pytest

from invoicing.services import document_render, invoice_issue
from orders.models import Notification
from orders.services import NOTIFICATION_MAX_ATTEMPTS, notification_send

pytestmark = pytest.mark.django_db


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise OSError("mail server refused the connection")


def test_a_failed_send_keeps_its_attempt_and_error_and_gives_up_in_the_end(placed_order, settings):
    settings.EMAIL_BACKEND = "tests.orders.test_notification_failures.BrokenBackend"
    n = Notification.objects.get(order=placed_order, kind="order_confirmation")

    with pytest.raises(OSError, match="refused"):
        notification_send(notification_id=n.pk)
    n.refresh_from_db()
    assert (n.status, n.attempts) == ("pending", 1)
    assert "refused" in n.last_error
    assert not placed_order.events.filter(type="email_sent").exists()

    for _ in range(NOTIFICATION_MAX_ATTEMPTS - 1):
        with pytest.raises(OSError, match="refused"):
            notification_send(notification_id=n.pk)
    n.refresh_from_db()
    assert (n.status, n.attempts) == ("failed", NOTIFICATION_MAX_ATTEMPTS)


def test_a_failed_pdf_render_is_recorded(placed_order, manager, monkeypatch):
    invoice = invoice_issue(order=placed_order, actor=manager)

    def boom(doc):
        raise ValueError("font missing")

    monkeypatch.setattr("invoicing.pdf.render_pdf", boom)
    with pytest.raises(ValueError, match="font missing"):
        document_render(kind="invoice", pk=invoice.pk)
    invoice.refresh_from_db()
    assert (invoice.pdf_status, invoice.pdf_attempts) == ("pending", 1)
    assert "font missing" in invoice.pdf_error
