"""In real Chromium: sign in, place a phone order, open the status page from the email."""

import re

import pytest
from django.core import mail

from core import roles
from orders.models import Order
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_places_phone_order_and_customer_follows_the_email_link(
    page, live_server, settings, eager_celery, stocked_product, channel, tmp_path
):
    settings.SITE_URL = live_server.url
    UserFactory(username="cs", roles=[roles.CUSTOMER_SERVICE])

    page.goto(f"{live_server.url}/orders/new/")
    assert "/login/" in page.url  # every staff page needs login
    page.fill("input[name=username]", "cs")
    page.fill("input[name=password]", "orderline-demo")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/orders/new/$"))

    page.fill("input[name=email]", "grace@example.com")
    page.fill("input[name=name]", "Grace Hopper")
    page.fill("input[name=ship_name]", "Grace Hopper")
    page.fill("input[name=ship_line1]", "Alte Jakobstraße 5")
    page.fill("input[name=ship_city]", "Berlin")
    page.fill("input[name=ship_postal_code]", "10969")
    page.fill("[name=ship_country]", "DE")
    page.fill("input[name='lines-0-sku']", "TEE-BLK-M")
    page.fill("input[name='lines-0-quantity']", "2")
    page.get_by_role("button", name=re.compile("place order", re.I)).click()

    page.wait_for_url(re.compile(r"/orders/NW-\d+/$"))
    order = Order.objects.get()
    assert order.number in page.inner_text("h1")
    page.screenshot(path=str(tmp_path / "order.png"), full_page=True)
    assert order.lines.get().quantity_reserved == 2

    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+/status/[\w-]+/", mail.outbox[0].body).group(0)
    assert link == order.status_url()

    customer = page.context.browser.new_context(viewport={"width": 390, "height": 844})
    phone = customer.new_page()
    phone.goto(link)
    body = phone.inner_text("body")
    assert order.number in body
    assert "Organic tee" in body
    phone.screenshot(path=str(tmp_path / "status.png"), full_page=True)
    customer.close()
