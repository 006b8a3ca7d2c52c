"""Restock alerts under concurrency (PostgreSQL): many transactions crossing the reorder point
at once open one alert and send one email, and none of them fails."""

import threading
import time

import pytest
from django.core import mail
from django.db import connection, connections, transaction

from core import roles
from inventory.models import RestockAlert
from inventory.services import restock_alerts_check
from tests.factories import ProductFactory, UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks need PostgreSQL (CI runs it)"
    ),
]


def test_concurrent_checks_open_one_alert_and_send_one_email(eager_celery):
    UserFactory(username="boss", roles=[roles.MANAGER])
    product = ProductFactory(sku="HOT-1", reorder_point=5)  # nothing in stock: at its reorder point
    barrier = threading.Barrier(8)
    opened, errors = [], []

    def worker():
        try:
            barrier.wait(timeout=10)
            with transaction.atomic():
                opened.extend(restock_alerts_check(product_ids=[product.pk]))
                time.sleep(0.3)  # hold the transaction open so the others overlap it
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert len(opened) == 1
    assert RestockAlert.objects.filter(product=product, closed_at__isnull=True).count() == 1
    assert len(mail.outbox) == 1
