"""In real Chromium, keyboard only: a returning customer's phone order with three lines is
ready and placed in well under a minute, with few key presses.

The figure is every key pressed, one per character typed plus each Enter (Ctrl+Enter counts
once); waiting for the page is not a key press. It is printed (run with -s to see it)."""

import re
import time
from decimal import Decimal

import pytest

from core import roles
from customers.models import Address
from inventory.services import stock_receive
from orders.models import Order
from orders.services import LineInput, order_place
from tests.factories import CustomerFactory, ProductFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MAX_SECONDS = 60
MAX_KEYS = 40


class Keyboard:
    """The page's keyboard, counting what is pressed."""

    def __init__(self, page):
        self.page = page
        self.presses = 0

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)
        self.presses += len(text)

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)
        self.presses += 1

    def wait_focus(self, element_id: str) -> None:
        self.page.wait_for_function(
            f"document.activeElement && document.activeElement.id === {element_id!r}"
        )


def test_returning_customer_three_lines_keyboard_only(
    page, live_server, settings, eager_celery, stocked_product, channel, warehouses, manager
):
    settings.SITE_URL = live_server.url
    UserFactory(username="cs", roles=[roles.CUSTOMER_SERVICE])
    mug = ProductFactory(sku="MUG-1", name="Enamel mug, white", price=Decimal("9.50"))
    cap = ProductFactory(sku="CAP-RED", name="Trucker cap, red", price=Decimal("18.00"))
    for product in (mug, cap):
        stock_receive(product=product, warehouse=warehouses[0], quantity=10, actor=manager)
    grace = CustomerFactory(name="Grace Hopper", email="grace@example.com", phone="+1 555 0100")
    home = {
        "name": "Grace Hopper",
        "line1": "Navy Yard 1",
        "city": "Arlington",
        "postal_code": "22201",
        "country": "US",
    }
    Address.objects.create(customer=grace, is_default=True, **home)
    order_place(
        channel=channel,
        customer=grace,
        email=grace.email,
        address=home,
        actor=manager,
        lines=[LineInput(mug, 1)],
        shipping_method="Express",
        shipping_total=Decimal("9.90"),
        payment_method="card",
    )

    page.goto(f"{live_server.url}/login/?next=/orders/new/")
    page.fill("input[name=username]", "cs")
    page.fill("input[name=password]", "orderline-demo")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/orders/new/$"))
    keys = Keyboard(page)

    started = time.monotonic()
    keys.wait_focus("customer-q")  # the search has the focus when the page opens
    keys.type("grace")
    keys.press("Enter")  # picks the first match once the search answers
    page.wait_for_selector(".customer-history")
    keys.wait_focus("id_lines-0-sku")

    keys.type("tee-blk")  # part of a SKU: Enter takes the first suggestion
    keys.press("Enter")
    keys.wait_focus("id_lines-0-quantity")
    keys.type("2")
    keys.press("Enter")
    keys.wait_focus("id_lines-1-sku")

    keys.type("mug")  # part of a name
    keys.press("Enter")
    keys.wait_focus("id_lines-1-quantity")
    keys.press("Enter")  # one is the default
    keys.wait_focus("id_lines-2-sku")

    keys.type("CAP-RED")  # an exact SKU: Enter moves to the quantity
    keys.press("Enter")
    keys.wait_focus("id_lines-2-quantity")
    page.wait_for_selector("#line-2-info .line-name")
    page.wait_for_load_state("networkidle")
    keys.type("3")
    page.wait_for_function("document.querySelector('#line-2-total').textContent.includes('54')")
    keys.press("Control+Enter")  # places the order from anywhere
    page.wait_for_url(re.compile(r"/orders/NW-\d+/$"))
    elapsed = time.monotonic() - started

    print(
        f"\nphone order, returning customer, 3 lines: {keys.presses} key presses, {elapsed:.1f} s"
    )
    assert elapsed < MAX_SECONDS
    assert keys.presses < MAX_KEYS

    order = Order.objects.order_by(
        "-id"
    ).first()  # the one just placed (the first is her last order)
    assert order.customer == grace
    assert {(ln.sku, ln.quantity) for ln in order.lines.all()} == {
        ("TEE-BLK-M", 2),
        ("MUG-1", 1),
        ("CAP-RED", 3),
    }
    # Address from the book, shipping and payment as last time: nothing retyped.
    assert (order.ship_line1, order.ship_city, order.ship_country) == (
        "Navy Yard 1",
        "Arlington",
        "US",
    )
    assert (order.shipping_method, order.shipping_total, order.payment_method) == (
        "Express",
        Decimal("9.90"),
        "card",
    )
    assert order.number in page.inner_text("h1")
