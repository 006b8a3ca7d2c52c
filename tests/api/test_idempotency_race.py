"""Real races on PostgreSQL: threads with their own connections POST at the same moment."""

import json
import threading
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.test import Client

from inventory.models import StockLevel
from inventory.selectors import stock_discrepancies
from inventory.services import stock_receive
from orders.models import IdempotencyKey, Order
from orders.tokens import api_token_create
from tests.factories import ChannelFactory, ProductFactory, UserFactory, WarehouseFactory

from .conftest import order_body

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="concurrent inserts need PostgreSQL (CI runs it)"
    ),
]


@pytest.fixture
def raw_token():
    manager = UserFactory(username="race-manager", is_superuser=True)
    channel = ChannelFactory(slug="marketplace", name="Marketplace", kind="marketplace")
    ham = WarehouseFactory(code="HAM", priority=1)
    product = ProductFactory(sku="TEE-BLK-M", price=Decimal("25.00"))
    stock_receive(product=product, warehouse=ham, quantity=100, actor=manager)
    return api_token_create(name="Racer", channel=channel, actor=None)[1]


def post_at_once(n, raw_token, make_request):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def worker(i):
        try:
            path, body, key = make_request(i)
            client = Client()
            barrier.wait(timeout=10)
            response = client.post(
                path,
                data=json.dumps(body),
                content_type="application/json",
                headers={"Authorization": f"Bearer {raw_token}", "Idempotency-Key": key},
            )
            results.append(response)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors
    return results


@pytest.mark.parametrize("clients", [2, 8])
def test_same_key_at_once_places_exactly_one_order(raw_token, clients):
    body = order_body(lines=[{"sku": "TEE-BLK-M", "quantity": 2}])

    results = post_at_once(clients, raw_token, lambda i: ("/api/v1/orders", body, "same-key"))

    assert Order.objects.count() == 1
    number = Order.objects.get().number
    created = [r for r in results if r.status_code == 201]
    others = [r for r in results if r.status_code != 201]
    assert len(created) >= 1
    assert (
        sum(1 for r in created if "Idempotent-Replayed" not in r) == 1
    )  # the one that did the work
    assert all(r.json()["number"] == number for r in created)
    assert all(r.status_code == 409 for r in others), [r.content for r in others]
    assert all(json.loads(r.content)["type"].endswith("idempotency-key-in-flight") for r in others)
    assert StockLevel.objects.get().reserved == 2
    assert IdempotencyKey.objects.get().state == IdempotencyKey.State.DONE
    assert stock_discrepancies() == []


def test_same_external_id_with_different_keys_at_once_places_one_order(raw_token):
    body = order_body(lines=[{"sku": "TEE-BLK-M", "quantity": 1}])

    results = post_at_once(4, raw_token, lambda i: ("/api/v1/orders", body, f"key-{i}"))

    assert Order.objects.count() == 1
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201, 409, 409, 409]
    number = Order.objects.get().number
    for r in results:
        if r.status_code == 409:
            assert json.loads(r.content)["existing_order"]["number"] == number
    assert StockLevel.objects.get().reserved == 1
