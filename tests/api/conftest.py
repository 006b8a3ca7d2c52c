"""Fixtures for the JSON API: a channel with a token, and a client that speaks bearer + JSON."""

import json
import uuid
from decimal import Decimal

import pytest

from orders.tokens import api_token_create
from tests.factories import ChannelFactory, ProductFactory

ORDER_BODY = {
    "external_id": "MP-1001",
    "currency": "EUR",
    "customer": {"email": "ada@example.com", "name": "Ada Lovelace", "phone": "+49 40 1234567"},
    "shipping_address": {
        "name": "Ada Lovelace",
        "line1": "Hafenstraße 12",
        "line2": "",
        "city": "Hamburg",
        "region": "",
        "postal_code": "20457",
        "country": "DE",
    },
    "lines": [{"sku": "TEE-BLK-M", "quantity": 2, "unit_price": "24.90"}],
    "shipping_method": "standard",
    "notes": "Leave at the door.",
}


def order_body(**changes) -> dict:
    body = json.loads(json.dumps(ORDER_BODY))
    body.update(changes)
    return body


class ApiClient:
    """The Django test client with a bearer token; POSTs get a fresh Idempotency-Key unless given."""

    def __init__(self, client, raw_token: str | None):
        self.client = client
        self.raw_token = raw_token

    def _headers(self, headers):
        out = {}
        if self.raw_token:
            out["Authorization"] = f"Bearer {self.raw_token}"
        out.update(headers or {})
        return out

    def get(self, path, params=None, headers=None):
        return self.client.get(path, params or {}, headers=self._headers(headers))

    def post(
        self,
        path,
        body=None,
        *,
        key: str | None = "auto",
        headers=None,
        raw: bytes | str | None = None,
    ):
        headers = dict(headers or {})
        if key == "auto":
            key = str(uuid.uuid4())
        if key is not None:
            headers["Idempotency-Key"] = key
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(
            path, data=data, content_type="application/json", headers=self._headers(headers)
        )

    def put(self, path, body, headers=None):
        return self.client.put(
            path,
            data=json.dumps(body),
            content_type="application/json",
            headers=self._headers(headers),
        )

    def as_token(self, raw_token):
        return ApiClient(self.client, raw_token)


@pytest.fixture
def api_channel(db):
    return ChannelFactory(slug="marketplace", name="Marketplace", kind="marketplace")


@pytest.fixture
def api_token(api_channel):
    """(ApiToken, plain token) for the marketplace channel."""
    return api_token_create(name="Marketplace sync", channel=api_channel, actor=None)


@pytest.fixture
def api(client, api_token):
    return ApiClient(client, api_token[1])


@pytest.fixture
def catalogue(db, stocked_product):
    """TEE-BLK-M: 10 in HAM at 25.00 (conftest); MUG-WHT: 5 in HAM; PRE-ORDER: none, backorderable."""
    from inventory.services import stock_receive
    from tests.factories import UserFactory

    ham = stocked_product.stock_levels.get().warehouse
    system = UserFactory(username="stock-seed", is_superuser=True)
    mug = ProductFactory(
        sku="MUG-WHT", name="Mug, white", price=Decimal("9.50"), tax_rate=Decimal("0.1900")
    )
    stock_receive(product=mug, warehouse=ham, quantity=5, actor=system)
    pre = ProductFactory(
        sku="PRE-ORDER", name="Limited print", price=Decimal("40.00"), allow_backorder=True
    )
    return {"tee": stocked_product, "mug": mug, "pre": pre, "ham": ham}


def assert_problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = json.loads(response.content)
    assert body["status"] == status
    assert body["type"].endswith(f"#problem-{slug}"), body["type"]
    assert body["title"]
    assert body["detail"]
    return body
