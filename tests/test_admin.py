"""The back office (Django admin): every model opens for managers; statuses and stock are
read-only; corrections go through actions that call the services."""

from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from core import roles
from fulfillment.models import Shipment
from fulfillment.services import (
    shipment_confirm_packed,
    shipment_confirm_picked,
    shipment_ship,
    shipments_create,
)
from inventory.models import StockLevel, StockMovement
from inventory.selectors import stock_discrepancies
from invoicing.choices import DocumentStatus
from invoicing.models import Invoice
from orders.choices import EventType, NotificationStatus, OrderStatus
from orders.models import Notification, Order, OrderEvent

from .factories import UserFactory

OUR_APPS = {"core", "customers", "inventory", "orders", "invoicing", "fulfillment", "returns"}


@pytest.fixture(autouse=True)
def _fast_passwords(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.VAR_DIR = tmp_path


@pytest.fixture
def boss(manager):
    """A manager who may enter the back office (is_staff), not a superuser."""
    manager.is_staff = True
    manager.save(update_fields=["is_staff"])
    return manager


@pytest.fixture
def boss_client(client, boss):
    client.force_login(boss)
    return client


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def object_action(obj, name) -> str:
    return reverse(
        f"admin:{obj._meta.app_label}_{obj._meta.model_name}_object_action", args=[obj.pk, name]
    )


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def run_action(client, model, name, objects, **data):
    """Post an action from the changelist's action bar (the first step of a form action)."""
    payload = {"action": name, "index": 0, "_selected_action": [o.pk for o in objects]}
    payload.update(data)
    return client.post(changelist(model), payload)


def apply_action(client, model, name, objects, **data):
    """Submit an action's intermediate form (the second step)."""
    payload = {"action": name, "_selected_action": [o.pk for o in objects], "apply": "1"}
    payload.update(data)
    return client.post(changelist(model), payload, follow=True)


def shipped_order(order, user, carrier):
    shipment = shipments_create(order=order, actor=user)[0]
    shipment_confirm_picked(shipment=shipment, actor=user)
    shipment_confirm_packed(shipment=shipment, actor=user)
    shipment_ship(
        shipment=shipment, carrier=carrier, tracking_number="00340434000000000001", actor=user
    )
    return Shipment.objects.get(pk=shipment.pk)


# ---------------------------------------------------------------- every page opens


@pytest.mark.django_db
def test_every_back_office_list_and_page_opens_for_managers(client, settings):
    call_command("seed_demo", orders=14, force_demo_users=True, stdout=StringIO())
    superuser = UserFactory(username="root", roles=[roles.MANAGER])
    superuser.is_superuser = superuser.is_staff = True
    superuser.save()
    demo_manager = User.objects.get(
        username="manager"
    )  # is_staff, manager role, no model permissions

    registered = [m for m in admin.site._registry if m._meta.app_label in OUR_APPS]
    assert len(registered) >= 20
    for user in (superuser, demo_manager):
        client.force_login(user)
        index = client.get(reverse("admin:index"))
        assert index.status_code == 200
        for model in registered:
            listing = client.get(changelist(model))
            assert listing.status_code == 200, (user, model)
            obj = model.objects.first()
            assert obj is not None, f"the seed leaves {model.__name__} empty"
            assert client.get(change(obj)).status_code == 200, (user, model)
        # Search and filters work on the big lists.
        assert (
            client.get(changelist(Order), {"q": "NW-", "status__exact": "open"}).status_code == 200
        )
        assert (
            client.get(
                changelist(StockMovement), {"q": "PO-", "kind__exact": "receipt"}
            ).status_code
            == 200
        )


@pytest.mark.django_db
def test_staff_without_the_manager_role_sees_no_back_office(client, warehouse_user):
    warehouse_user.is_staff = True
    warehouse_user.save(update_fields=["is_staff"])
    client.force_login(warehouse_user)

    assert client.get(changelist(Order)).status_code == 403
    assert "Orders" not in client.get(reverse("admin:index")).content.decode()


@pytest.mark.django_db
def test_orders_ledger_and_documents_cannot_be_added_or_edited_here(
    boss_client, placed_order, manager
):
    level = StockLevel.objects.first()
    assert boss_client.get(reverse("admin:orders_order_add")).status_code == 403
    assert boss_client.get(reverse("admin:inventory_stockmovement_add")).status_code == 403
    assert boss_client.post(change(level), {"on_hand": 999, "reserved": 0}).status_code == 403
    level.refresh_from_db()
    assert level.on_hand == 10
    # The change page of a view-only model shows it without a form to save.
    page = boss_client.get(change(level))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content


@pytest.mark.django_db
def test_order_statuses_and_money_are_read_only_but_the_address_can_be_corrected(
    boss_client, placed_order
):
    total = placed_order.total
    page = boss_client.get(change(placed_order))
    data = form_data(page)
    data.update(
        {
            "ship_line1": "Hafenstraße 14",
            "status": "cancelled",
            "total": "0.00",
            "payment_status": "paid",
        }
    )

    response = boss_client.post(change(placed_order), data)

    assert response.status_code == 302, (
        response.context and response.context["adminform"].form.errors
    )
    placed_order.refresh_from_db()
    assert placed_order.ship_line1 == "Hafenstraße 14"
    assert placed_order.status == OrderStatus.OPEN
    assert placed_order.payment_status == "unpaid"
    assert placed_order.total == total


def form_data(response) -> dict:
    """What the browser would post back from an admin change page, unchanged."""
    data = {}
    form = response.context["adminform"].form
    for name in form.fields:
        value = form[name].value()
        data[name] = "" if value is None else value
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[f"{formset.prefix}-{name}"] = formset.management_form[name].value()
        for sub in formset.forms:
            for name in sub.fields:
                value = sub[name].value()
                data[sub.add_prefix(name)] = "" if value is None else value
    return data


# ---------------------------------------------------------------- order actions


@pytest.mark.django_db
def test_hold_asks_for_a_reason_then_holds_through_the_service(boss_client, boss, placed_order):
    form = run_action(boss_client, Order, "hold_orders", [placed_order])
    assert form.status_code == 200
    assert b'name="reason"' in form.content
    assert placed_order.number.encode() in form.content

    response = apply_action(
        boss_client, Order, "hold_orders", [placed_order], reason="Address looks wrong"
    )

    placed_order.refresh_from_db()
    assert placed_order.status == OrderStatus.ON_HOLD
    assert placed_order.hold_reason == "Address looks wrong"
    event = OrderEvent.objects.get(order=placed_order, type=EventType.HELD)
    assert event.actor == boss
    assert "Address looks wrong" in event.message
    assert f"{placed_order.number}: put on hold (Address looks wrong)." in texts(response)
    # The order's History in the back office records the correction and who made it.
    entry = LogEntry.objects.get(object_id=str(placed_order.pk))
    assert entry.user == boss
    assert "put on hold" in entry.get_change_message()


@pytest.mark.django_db
def test_hold_without_a_reason_says_so_next_to_the_field_and_changes_nothing(
    boss_client, placed_order
):
    response = apply_action(boss_client, Order, "hold_orders", [placed_order], reason="  ")

    assert response.status_code == 200
    assert response.context["form"].errors == {"reason": ["Say why the order is held."]}
    placed_order.refresh_from_db()
    assert placed_order.status == OrderStatus.OPEN
    assert not OrderEvent.objects.filter(order=placed_order, type=EventType.HELD).exists()


@pytest.mark.django_db
def test_release_and_cancel_from_the_order_page_buttons(boss_client, placed_order, manager):
    page = boss_client.get(change(placed_order))
    assert object_action(placed_order, "hold_orders").encode() in page.content
    assert object_action(placed_order, "release_orders").encode() not in page.content  # not held

    boss_client.post(
        object_action(placed_order, "hold_orders"), {"apply": "1", "reason": "Fraud check"}
    )
    placed_order.refresh_from_db()
    assert placed_order.status == OrderStatus.ON_HOLD

    response = boss_client.post(object_action(placed_order, "release_orders"))
    assert response.status_code == 302
    assert response["Location"] == change(placed_order)
    placed_order.refresh_from_db()
    assert placed_order.status == OrderStatus.OPEN

    form = boss_client.post(object_action(placed_order, "cancel_orders"))
    assert form.status_code == 200
    assert b'name="reason"' in form.content
    boss_client.post(
        object_action(placed_order, "cancel_orders"), {"apply": "1", "reason": "Customer called"}
    )
    placed_order.refresh_from_db()
    assert placed_order.status == OrderStatus.CANCELLED
    assert StockLevel.objects.get(product__sku="TEE-BLK-M").reserved == 0  # stock given back
    assert stock_discrepancies() == []


@pytest.mark.django_db
def test_a_refused_action_says_why_per_order(boss_client, placed_order, manager, carrier):
    shipped_order(placed_order, manager, carrier)

    response = apply_action(boss_client, Order, "cancel_orders", [placed_order], reason="Too late")

    placed_order.refresh_from_db()
    assert placed_order.status == OrderStatus.OPEN
    assert any("has shipped already" in t and placed_order.number in t for t in texts(response))


@pytest.mark.django_db
def test_release_skips_orders_that_are_not_held(boss_client, placed_order):
    response = run_action(boss_client, Order, "release_orders", [placed_order])

    assert response.status_code == 302
    follow = boss_client.get(response["Location"])
    assert any("not on hold" in t for t in texts(follow))
    assert not OrderEvent.objects.filter(order=placed_order, type=EventType.RELEASED).exists()


# ---------------------------------------------------------------- other actions


@pytest.mark.django_db
def test_send_again_sends_a_pending_email_and_skips_sent_ones(boss_client, placed_order):
    notification = Notification.objects.get(order=placed_order)
    assert notification.status == NotificationStatus.PENDING  # nothing ran it (no commit in tests)

    run_action(boss_client, Notification, "send_again", [notification])

    notification.refresh_from_db()
    assert notification.status == NotificationStatus.SENT
    assert len(mail.outbox) == 1
    assert placed_order.number in mail.outbox[0].subject

    response = run_action(boss_client, Notification, "send_again", [notification])
    follow = boss_client.get(response["Location"])
    assert any("sent already" in t for t in texts(follow))
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_receive_stock_writes_a_receipt_to_the_ledger(
    boss_client, boss, stocked_product, warehouses
):
    berlin = warehouses[1]
    form = run_action(boss_client, type(stocked_product), "receive_stock", [stocked_product])
    assert form.status_code == 200
    assert b'name="warehouse"' in form.content

    apply_action(boss_client, type(stocked_product), "receive_stock", [stocked_product],
                 warehouse=berlin.pk, quantity=12, reference="PO-2026-0099")  # fmt: skip

    level = StockLevel.objects.get(product=stocked_product, warehouse=berlin)
    assert level.on_hand == 12
    movement = StockMovement.objects.get(product=stocked_product, warehouse=berlin)
    assert (movement.kind, movement.on_hand_delta, movement.reference, movement.actor) == (
        "receipt", 12, "PO-2026-0099", boss,
    )  # fmt: skip
    assert stock_discrepancies() == []


@pytest.mark.django_db
def test_adjusting_away_reserved_stock_is_refused_with_the_reason(
    boss_client, placed_order, stocked_product, warehouses
):
    response = apply_action(boss_client, type(stocked_product), "adjust_stock", [stocked_product],
                            warehouse=warehouses[0].pk, delta=-9, reason="Damaged")  # fmt: skip

    assert any("of which 2 reserved" in t for t in texts(response))
    level = StockLevel.objects.get(product=stocked_product, warehouse=warehouses[0])
    assert (level.on_hand, level.reserved) == (10, 2)
    assert not StockMovement.objects.filter(kind="adjustment").exists()


@pytest.mark.django_db
def test_adjust_needs_a_reason_and_a_change(boss_client, stocked_product, warehouses):
    response = apply_action(boss_client, type(stocked_product), "adjust_stock", [stocked_product],
                            warehouse=warehouses[0].pk, delta=0, reason="")  # fmt: skip

    errors = response.context["form"].errors
    assert "delta" in errors
    assert "reason" in errors


@pytest.mark.django_db
def test_mark_delivered_calls_the_service(boss_client, placed_order, manager, carrier):
    shipment = shipped_order(placed_order, manager, carrier)

    run_action(boss_client, Shipment, "mark_delivered", [shipment])

    shipment.refresh_from_db()
    placed_order.refresh_from_db()
    assert shipment.status == "delivered"
    assert placed_order.fulfillment_status == "delivered"
    assert OrderEvent.objects.filter(order=placed_order, type=EventType.DELIVERED).exists()


@pytest.mark.django_db
def test_rerender_only_touches_failed_pdfs(boss_client, placed_order, manager, carrier):
    shipped_order(placed_order, manager, carrier)  # issues the invoice
    invoice = Invoice.objects.get(order=placed_order)

    response = run_action(boss_client, Invoice, "render_again", [invoice])  # pending: left alone
    follow = boss_client.get(response["Location"])
    assert any("not failed" in t for t in texts(follow))

    Invoice.objects.filter(pk=invoice.pk).update(pdf_status=DocumentStatus.FAILED, pdf_attempts=5)
    boss_client.post(object_action(invoice, "render_again"))

    invoice.refresh_from_db()
    assert invoice.pdf_status == DocumentStatus.RENDERED
    assert invoice.pdf.read().startswith(b"%PDF")
