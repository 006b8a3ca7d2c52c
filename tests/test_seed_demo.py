"""``manage.py seed_demo``: a small demo shop, built with the real services, once."""

from io import StringIO
from unittest import mock

import pytest
from celery.app.task import Task
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection, transaction

from core import roles
from core.models import Sequence
from customers.models import Customer
from fulfillment.models import Shipment
from inventory.models import Product, StockMovement
from inventory.selectors import stock_discrepancies
from invoicing.models import Invoice, Payment
from orders.choices import FulfillmentStatus, NotificationStatus, OrderStatus
from orders.models import Notification, Order, OrderEvent
from returns.models import ReturnRequest

SMALL = 14  # one order pinned to each stage, and one more


@pytest.fixture(autouse=True)
def _fast_and_contained(settings, tmp_path):
    settings.VAR_DIR = tmp_path  # demo-logins.txt goes here
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def counts() -> dict:
    models = [User, Customer, Product, StockMovement, Order, OrderEvent, Notification, Shipment, Invoice,
              Payment, ReturnRequest, Sequence]  # fmt: skip
    return {m.__name__: m.objects.count() for m in models}


@pytest.mark.django_db(transaction=True)
def test_seed_builds_a_shop_in_every_stage_without_enqueuing_work(settings, tmp_path):
    with mock.patch.object(Task, "apply_async") as publish:
        output = seed(orders=SMALL, force_demo_users=True)

    # Nothing reached the broker, and every customer email is marked sent (none left the machine).
    assert publish.call_count == 0
    assert Notification.objects.exists()
    assert not Notification.objects.exclude(status=NotificationStatus.SENT).exists()

    # Demo users, one per role; only the manager may enter the admin, nobody is a superuser.
    expected = {"manager": roles.MANAGER, "service": roles.CUSTOMER_SERVICE,
                "warehouse": roles.WAREHOUSE, "finance": roles.FINANCE}  # fmt: skip
    for username, role in expected.items():
        user = User.objects.get(username=username)
        assert roles.user_roles(user) == {role}
        assert user.check_password("orderline-demo")
        assert not user.is_superuser
        assert user.is_staff == (role == roles.MANAGER)
    logins = (tmp_path / "demo-logins.txt").read_text().splitlines()
    assert logins[0] == "manager / orderline-demo  (Manager)"
    assert len(logins) == 5
    token = logins[4].split(": ", 1)[1].split()[0]
    from orders.tokens import api_token_authenticate

    assert api_token_authenticate(token).channel.slug == "amazon"  # a working demo API token

    # Orders in every fulfillment status the services can reach today (backorders, hence
    # partially_reserved, do not exist yet), and in every order status but draft.
    assert Order.objects.count() == SMALL
    reached = set(Order.objects.values_list("fulfillment_status", flat=True))
    assert reached == set(FulfillmentStatus.values) - {FulfillmentStatus.PARTIALLY_RESERVED}
    statuses = set(Order.objects.values_list("status", flat=True))
    assert statuses == {
        OrderStatus.OPEN,
        OrderStatus.ON_HOLD,
        OrderStatus.CLOSED,
        OrderStatus.CANCELLED,
    }
    assert set(ReturnRequest.objects.values_list("status", flat=True)) >= {"requested", "received", "refunded",
                                                                         "rejected"}  # fmt: skip

    # Stock moved only through the ledger, and the levels agree with it.
    assert stock_discrepancies() == []
    assert "levels match the ledger" in output

    # Everything happened in the last 60 days, in order: numbers grow with time.
    numbers = list(Order.objects.order_by("placed_at").values_list("number", flat=True))
    assert numbers == sorted(numbers)
    first_event = OrderEvent.objects.order_by("created_at").first()
    last_event = OrderEvent.objects.order_by("created_at").last()
    assert (last_event.created_at - first_event.created_at).days <= 60


@pytest.mark.django_db
def test_a_second_run_changes_nothing_and_says_so():
    seed(orders=SMALL, force_demo_users=True)
    before = counts()

    output = seed(orders=SMALL, force_demo_users=True)

    assert counts() == before
    assert "nothing changed" in output


@pytest.mark.django_db
def test_a_database_with_real_orders_is_left_alone(placed_order):
    before = counts()

    output = seed(orders=SMALL, force_demo_users=True)

    assert counts() == before
    assert "only fills an empty database" in output
    assert not User.objects.filter(username="service").exists()


@pytest.mark.django_db
def test_without_debug_no_demo_users_are_created(settings, tmp_path):
    settings.DEBUG = False

    output = seed(orders=3)

    assert not User.objects.filter(
        username__in=["manager", "service", "warehouse", "finance"]
    ).exists()
    assert "no demo users were created" in output
    assert not (tmp_path / "demo-logins.txt").exists()
    assert Order.objects.count() == 3
    assert stock_discrepancies() == []


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_shop():
    def fingerprint():
        return list(
            Order.objects.order_by("number").values_list("number", "email", "total", "status")
        )

    with transaction.atomic():
        seed(orders=5, force_demo_users=True, seed=7)
        first = fingerprint()
        transaction.set_rollback(True)
    assert not Order.objects.exists()
    if connection.vendor == "postgresql":  # a native sequence is not rolled back
        from orders.services import ORDER_NUMBER_SEQUENCE

        with connection.cursor() as cursor:
            cursor.execute(f"ALTER SEQUENCE {ORDER_NUMBER_SEQUENCE} RESTART WITH 1")

    seed(orders=5, force_demo_users=True, seed=7)

    assert len(first) == 5
    assert fingerprint() == first


@pytest.mark.django_db
def test_the_demo_warehouse_tells_one_consistent_story(client):
    """What a merchant clicking through the demo would notice: picked on pick lists, packed in
    weighed parcels, Orderline Post parcels delivered by the carrier's own events, manual
    carriers marked delivered by staff, feedback asked for and given, the ledger clean."""
    from django.urls import reverse
    from django.utils import timezone

    from fulfillment.choices import IN_FLIGHT_STATUSES, CarrierAdapter
    from fulfillment.models import DeliveryFeedback, PickList, TrackingEvent
    from orders.choices import NotificationKind

    output = seed(orders=40, force_demo_users=True)
    assert "skipped steps" not in output
    shipments = Shipment.objects.select_related("carrier")

    # Packed at the packing station: every packed (or later) shipment has weighed, measured
    # parcels and every unit scanned; no label was bought for a shipment without parcels.
    packed = shipments.filter(packed_at__isnull=False)
    assert packed.exists()
    for s in packed:
        parcels = list(s.parcels.all())
        assert parcels, f"{s.number} was packed without a parcel"
        assert all(
            p.weight_grams > 0 and p.length_mm and p.width_mm and p.height_mm for p in parcels
        )
        assert all(sl.quantity_packed == sl.quantity_picked for sl in s.lines.all())
    assert not shipments.exclude(label="").filter(parcels__isnull=True).exists()

    # The morning pick lists did most of the picking, and all of them were finished.
    assert PickList.objects.exists()
    assert not PickList.objects.exclude(status="completed").exists()
    assert packed.filter(pick_list__isnull=False).count() >= packed.count() // 3

    # Orderline Post: a label (bought through the rate table) and the carrier's events; a
    # delivered parcel was delivered when the carrier said so, not before the label existed.
    post = shipments.filter(carrier__adapter=CarrierAdapter.SIMULATED)
    assert post.filter(status="delivered").exists()
    for s in post:
        assert s.label
        assert s.service_id
        assert s.expected_delivery_date
        assert s.shipping_cost
        assert s.tracking_events.exists(), f"{s.number} shipped with no carrier news"
        if s.status == "delivered":
            delivered = s.tracking_events.get(status="delivered")
            assert s.delivered_at == delivered.occurred_at
            assert s.delivered_at > s.shipped_at
    assert not TrackingEvent.objects.filter(occurred_at__gt=timezone.now()).exists()
    # Manual carriers have no events: customer service marked them delivered, and said how.
    for s in shipments.filter(status="delivered", carrier__adapter=CarrierAdapter.MANUAL):
        assert not s.tracking_events.exists()
        assert "tracking shows it delivered" in s.delivery_note
    # Nothing in flight is waiting for a first carrier scan that the carrier already made.
    for s in post.filter(status__in=IN_FLIGHT_STATUSES):
        assert s.last_event_at is not None
        assert s.last_synced_at is not None

    # Delivery feedback: asked for after delivery, as the beat task does; ratings 1-5 from
    # customers of delivered orders.
    asked = Notification.objects.filter(kind=NotificationKind.FEEDBACK_REQUEST)
    assert asked.exists()
    for feedback in DeliveryFeedback.objects.select_related("order"):
        assert 1 <= feedback.rating <= 5
        assert asked.filter(order=feedback.order, created_at__lt=feedback.created_at).exists()

    assert stock_discrepancies() == []

    # Labels are drawn on first download: it works for a demo parcel, and is stored.
    s = post.order_by("-shipped_at").first()
    assert client.login(username="warehouse", password="orderline-demo")
    response = client.get(reverse("fulfillment:label", args=[s.number]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    s.refresh_from_db()
    with s.label.open("rb") as fh:
        assert fh.read().startswith(b"%PDF")
