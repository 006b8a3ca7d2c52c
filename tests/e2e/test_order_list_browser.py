"""In real Chromium: select orders on the list, hold them with Enter, cancel after confirming."""

import re

import pytest

from orders.models import Order
from orders.services import LineInput, order_place
from tests.factories import ChannelFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_select_all_hold_with_enter_and_confirm_cancel(
    page, live_server, manager, stocked_product, eager_celery
):
    channel = ChannelFactory()
    orders = [
        order_place(
            channel=channel, email=f"b{i}@example.com", name=f"Buyer {i}",
            address={"name": "B", "line1": "Street 1", "city": "Hamburg", "postal_code": "20457",
                     "country": "DE"},
            lines=[LineInput(product=stocked_product, quantity=1)], actor=manager,
        )
        for i in range(3)
    ]  # fmt: skip
    page.goto(f"{live_server.url}/orders/")
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", "orderline-demo")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/orders/$"))

    count = page.locator("[data-bulk-count]")
    page.check("[data-select-all]")
    assert count.inner_text() == "3 orders selected"
    page.uncheck(f'input[name="orders"][value="{orders[0].number}"]')
    assert count.inner_text() == "2 orders selected"
    assert page.eval_on_selector("[data-select-all]", "el => el.indeterminate")

    page.click("summary:has-text('Hold…')")
    page.fill("#bulk-hold-reason", "Address check")
    with page.expect_navigation():
        page.press("#bulk-hold-reason", "Enter")  # Enter holds, it does not pick another action
    assert "2 orders put on hold" in page.inner_text(".messages")
    statuses = dict(Order.objects.values_list("number", "status"))
    assert statuses == {
        orders[0].number: "open", orders[1].number: "on_hold", orders[2].number: "on_hold"
    }  # fmt: skip

    # Cancel asks first; saying no changes nothing.
    page.check(f'input[name="orders"][value="{orders[0].number}"]')
    page.click("summary:has-text('Cancel…')")
    page.fill("#bulk-cancel-reason", "Customer asked")
    page.once("dialog", lambda d: d.dismiss())
    page.click("button:has-text('Cancel selected orders')")
    assert Order.objects.get(pk=orders[0].pk).status == "open"
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        page.click("button:has-text('Cancel selected orders')")
    assert "1 order cancelled" in page.inner_text(".messages")
    assert Order.objects.get(pk=orders[0].pk).status == "cancelled"

    # After an htmx filter swap, selection still counts.
    page.fill("#id_q", "b2@")
    page.wait_for_selector(f'input[name="orders"][value="{orders[2].number}"]')
    page.wait_for_function("document.querySelectorAll('input[name=orders]').length === 1")
    page.check("[data-select-all]")
    assert count.inner_text() == "1 order selected"

    # A select filters at once (its change event), without a page load.
    page.goto(f"{live_server.url}/orders/")
    page.select_option("#id_status", "on_hold")
    page.wait_for_function("document.querySelectorAll('input[name=orders]').length === 2")
    assert "status=on_hold" in page.url
