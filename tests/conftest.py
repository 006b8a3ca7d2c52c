from decimal import Decimal

import pytest

from core import roles
from inventory.services import stock_receive
from orders.services import LineInput, order_place

from .factories import CarrierFactory, ChannelFactory, ProductFactory, UserFactory, WarehouseFactory

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "Hafenstraße 12",
    "line2": "",
    "city": "Hamburg",
    "region": "",
    "postal_code": "20457",
    "country": "DE",
}


@pytest.fixture(autouse=True)
def _media_and_email(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _order_numbers_start_afresh(request):
    """Order numbers come from a native sequence on PostgreSQL, which a rolled-back test
    does not give back: restart it so every test sees NW-10001 first, as on SQLite."""
    if "django_db_setup" not in request.fixturenames and not request.node.get_closest_marker(
        "django_db"
    ):
        return
    request.getfixturevalue("django_db_setup")
    from django.db import connection

    if connection.vendor == "postgresql":
        from orders.services import ORDER_NUMBER_SEQUENCE

        with request.getfixturevalue("django_db_blocker").unblock(), connection.cursor() as cursor:
            cursor.execute(f"ALTER SEQUENCE {ORDER_NUMBER_SEQUENCE} RESTART WITH 1")


@pytest.fixture
def eager_celery(settings):
    """Run tasks in-process (they still run only after commit)."""
    from config.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def manager(db):
    return UserFactory(username="manager", roles=[roles.MANAGER])


@pytest.fixture
def service_agent(db):
    return UserFactory(username="service", roles=[roles.CUSTOMER_SERVICE])


@pytest.fixture
def warehouse_user(db):
    return UserFactory(username="picker", roles=[roles.WAREHOUSE])


@pytest.fixture
def finance_user(db):
    return UserFactory(username="finance", roles=[roles.FINANCE])


@pytest.fixture
def warehouses(db):
    return [
        WarehouseFactory(code="HAM", name="Hamburg", priority=1),
        WarehouseFactory(code="BER", name="Berlin", priority=2),
    ]


@pytest.fixture
def channel(db):
    return ChannelFactory()


@pytest.fixture
def carrier(db):
    return CarrierFactory()


@pytest.fixture
def stocked_product(db, warehouses, manager):
    """A product with 10 units in the first warehouse."""
    product = ProductFactory(
        sku="TEE-BLK-M",
        name="Organic tee, black, M",
        price=Decimal("25.00"),
        tax_rate=Decimal("0.1900"),
        barcode="4006381333931",
    )
    stock_receive(
        product=product, warehouse=warehouses[0], quantity=10, actor=manager, reference="PO-1"
    )
    return product


@pytest.fixture
def address():
    return dict(ADDRESS)


@pytest.fixture
def placed_order(db, channel, stocked_product, manager, address):
    return order_place(
        channel=channel,
        email="ada@example.com",
        name="Ada Lovelace",
        address=address,
        lines=[LineInput(product=stocked_product, quantity=2)],
        actor=manager,
        shipping_total=Decimal("4.90"),
        payment_method="card",
    )
