"""Restock alerts: one alert and one email to the managers per crossing of the reorder point."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from core import roles
from inventory.models import RestockAlert
from inventory.selectors import open_restock_alerts
from inventory.services import (
    restock_alert_notify,
    restock_alerts_check,
    stock_adjust,
    stock_count,
    stock_receive,
    stock_transfer,
)
from inventory.tasks import sweep_restock_alerts
from tests.factories import UserFactory


@pytest.fixture
def tee(stocked_product):
    """10 on hand in HAM; alert at 4 available or fewer."""
    stocked_product.reorder_point = 4
    stocked_product.save()
    return stocked_product


def open_alerts(product):
    return list(RestockAlert.objects.filter(product=product, closed_at__isnull=True))


def test_no_alert_above_the_reorder_point(tee):
    assert restock_alerts_check(product_ids=[tee.pk]) == []
    assert not RestockAlert.objects.exists()


def test_alert_opens_at_the_reorder_point_and_only_once(tee, warehouses, manager):
    stock_adjust(product=tee, warehouse=warehouses[0], delta=-6, reason="Damaged", actor=manager)

    # The adjustment checked the alerts itself: one is open, and checking again changes nothing.
    assert restock_alerts_check(product_ids=[tee.pk]) == []
    [alert] = open_alerts(tee)
    assert (alert.product, alert.available_at_open, alert.closed_at) == (tee, 4, None)
    # Still low: the same alert stays open, nothing new.
    stock_adjust(product=tee, warehouse=warehouses[0], delta=-1, reason="Damaged", actor=manager)
    assert restock_alerts_check(product_ids=[tee.pk]) == []
    assert open_alerts(tee) == [alert]


def test_alert_closes_when_availability_rises_and_reopens_on_the_next_crossing(
    tee, warehouses, manager
):
    ham = warehouses[0]
    stock_count(
        product=tee, warehouse=ham, counted=3, actor=manager
    )  # the count checks alerts itself
    [first] = open_alerts(tee)

    stock_receive(product=tee, warehouse=ham, quantity=10, actor=manager)  # checks alerts itself

    first.refresh_from_db()
    assert first.closed_at is not None
    assert open_alerts(tee) == []

    stock_count(product=tee, warehouse=ham, counted=2, actor=manager)
    [second] = open_alerts(tee)
    assert second.pk != first.pk
    assert RestockAlert.objects.filter(product=tee).count() == 2


def test_only_active_warehouses_count(tee, warehouses, manager):
    ham, ber = warehouses
    ber.active = False
    ber.save()

    stock_transfer(product=tee, source=ham, destination=ber, quantity=7, actor=manager)

    [alert] = open_alerts(tee)
    assert alert.available_at_open == 3


def test_reorder_point_zero_or_inactive_product_never_alerts(tee, warehouses, manager):
    tee.reorder_point = 0
    tee.save()
    stock_count(product=tee, warehouse=warehouses[0], counted=0, actor=manager)
    assert open_alerts(tee) == []

    tee.reorder_point = 4
    tee.save()
    restock_alerts_check(product_ids=[tee.pk])
    assert len(open_alerts(tee)) == 1

    tee.active = False
    tee.save()
    restock_alerts_check(product_ids=[tee.pk])
    assert open_alerts(tee) == []  # a product no longer sold needs no reorder


def test_database_allows_one_open_alert_per_product(tee):
    RestockAlert.objects.create(product=tee, available_at_open=1)

    with pytest.raises(IntegrityError), transaction.atomic():
        RestockAlert.objects.create(product=tee, available_at_open=1)


def test_one_email_to_the_managers_per_crossing(
    tee, warehouses, manager, warehouse_user, eager_celery, django_capture_on_commit_callbacks
):
    other_manager = UserFactory(username="boss", roles=[roles.MANAGER])
    UserFactory(username="gone", roles=[roles.MANAGER], is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        stock_count(product=tee, warehouse=warehouses[0], counted=3, actor=warehouse_user)
    with django_capture_on_commit_callbacks(execute=True):
        stock_count(product=tee, warehouse=warehouses[0], counted=2, actor=warehouse_user)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == sorted([manager.email, other_manager.email])
    assert "TEE-BLK-M" in message.subject
    assert "3 left to promise" in message.subject
    assert "reorder point 4" in message.subject
    assert "/inventory/products/TEE-BLK-M/" in message.body
    html = message.alternatives[0][0]
    assert "Organic tee, black, M" in html
    [alert] = open_alerts(tee)
    assert alert.notified_at is not None


def test_the_alert_email_is_queued_after_commit(
    tee, warehouses, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        stock_count(product=tee, warehouse=warehouses[0], counted=3, actor=manager)

    assert len(callbacks) == 1
    assert mail.outbox == []


def test_notify_twice_sends_once(tee, manager):
    alert = RestockAlert.objects.create(product=tee, available_at_open=3)

    restock_alert_notify(alert_id=alert.pk)
    restock_alert_notify(alert_id=alert.pk)

    assert len(mail.outbox) == 1


def test_an_alert_closed_before_its_email_is_not_sent(tee, manager):
    alert = RestockAlert.objects.create(product=tee, available_at_open=3, closed_at=timezone.now())

    restock_alert_notify(alert_id=alert.pk)

    assert mail.outbox == []
    alert.refresh_from_db()
    assert alert.notified_at is None


def test_a_failed_send_leaves_the_alert_pending(tee, manager, settings):
    settings.EMAIL_BACKEND = "tests.inventory.test_restock_alerts.FailingBackend"
    alert = RestockAlert.objects.create(product=tee, available_at_open=3)

    with pytest.raises(OSError, match="mail server down"):
        restock_alert_notify(alert_id=alert.pk)

    alert.refresh_from_db()
    assert alert.notified_at is None


class FailingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise OSError("mail server down")


def test_sweep_re_enqueues_alerts_left_without_email(tee, manager, eager_celery, settings):
    settings.ORDERLINE_SWEEP_AFTER_SECONDS = 60
    stale = RestockAlert.objects.create(product=tee, available_at_open=3)
    RestockAlert.objects.filter(pk=stale.pk).update(opened_at=timezone.now() - timedelta(minutes=5))

    assert sweep_restock_alerts() == 1

    stale.refresh_from_db()
    assert stale.notified_at is not None
    assert len(mail.outbox) == 1
    assert sweep_restock_alerts() == 0  # sent: nothing left to do


def test_sweep_leaves_fresh_and_closed_alerts_alone(tee, manager, settings):
    settings.ORDERLINE_SWEEP_AFTER_SECONDS = 60
    RestockAlert.objects.create(product=tee, available_at_open=3)  # just opened
    closed = RestockAlert.objects.create(product=tee, available_at_open=3, closed_at=timezone.now())
    RestockAlert.objects.filter(pk=closed.pk).update(opened_at=timezone.now() - timedelta(hours=1))

    assert sweep_restock_alerts() == 0


def test_open_restock_alerts_for_the_dashboard(tee, warehouses, manager):
    stock_count(product=tee, warehouse=warehouses[0], counted=3, actor=manager)
    stock_receive(product=tee, warehouse=warehouses[1], quantity=1, actor=manager)

    [alert] = open_restock_alerts()

    assert alert.product == tee
    assert (alert.available_at_open, alert.available_now) == (3, 4)


def test_an_order_that_takes_availability_to_the_reorder_point_opens_an_alert_after_commit(
    channel, manager, address, stocked_product, eager_celery, django_capture_on_commit_callbacks
):
    from inventory.models import RestockAlert
    from orders.services import LineInput, order_cancel, order_place

    stocked_product.reorder_point = 3
    stocked_product.save()
    with django_capture_on_commit_callbacks(execute=True):
        order = order_place(
            channel=channel,
            email="r@example.com",
            name="R",
            address=address,
            lines=[LineInput(stocked_product, 7)],
            actor=manager,
        )
    alert = RestockAlert.objects.get(product=stocked_product, closed_at__isnull=True)
    assert alert.available_at_open == 3

    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order=order, reason="Changed mind", actor=manager)
    alert.refresh_from_db()
    assert alert.closed_at is not None
