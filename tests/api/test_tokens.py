"""API tokens: the command and the back office show a token once, store only its hash, and revoke."""

import hashlib
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from core.errors import DomainError, NotAllowed, ValidationFailed
from orders.models import ApiToken
from orders.tokens import api_token_authenticate, api_token_create, api_token_revoke
from tests.factories import ChannelFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_create_api_token_prints_a_token_that_authenticates_and_stores_only_its_hash(
    client, api_channel
):
    out, err = StringIO(), StringIO()

    call_command("create_api_token", "ERP feed", "--channel", "marketplace", stdout=out, stderr=err)

    raw = out.getvalue().strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", raw)  # 32 random bytes, printed alone on stdout
    assert "shown only now" in err.getvalue()
    token = ApiToken.objects.get(name="ERP feed")
    assert token.channel == api_channel
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert token.prefix == raw[:8]
    assert raw not in {
        str(v) for v in ApiToken.objects.values_list("name", "token_hash", "prefix").get()
    }
    response = client.get("/api/v1/orders", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200


def test_create_api_token_names_the_channels_when_the_slug_is_unknown(api_channel):
    with pytest.raises(
        CommandError, match=re.escape("No sales channel 'nope'. Channels: marketplace.")
    ):
        call_command("create_api_token", "ERP feed", "--channel", "nope", stdout=StringIO())


def test_create_refuses_an_empty_name_and_non_managers(api_channel, service_agent):
    with pytest.raises(ValidationFailed) as exc:
        api_token_create(name="  ", channel=api_channel, actor=None)
    assert "name" in exc.value.errors
    with pytest.raises(NotAllowed):
        api_token_create(name="Sync", channel=api_channel, actor=service_agent)


def test_revoke_refuses_twice(api_token, manager):
    token = api_token_revoke(token=api_token[0], actor=manager)
    assert token.revoked_at is not None
    assert api_token_authenticate(api_token[1]) is None
    with pytest.raises(DomainError, match="revoked already"):
        api_token_revoke(token=api_token[0], actor=manager)


@pytest.fixture
def boss_client(client, manager):
    manager.is_staff = True
    manager.save(update_fields=["is_staff"])
    client.force_login(manager)
    return client


def test_admin_add_shows_the_token_once(boss_client, api_channel, manager):
    response = boss_client.post(
        reverse("admin:orders_apitoken_add"),
        {"name": "Marketplace sync", "channel": api_channel.pk},
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw = re.search(rb'id="api-token"[^>]*value="([A-Za-z0-9_-]{43})"', response.content)[
        1
    ].decode()
    token = ApiToken.objects.get()
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert token.created_by == manager
    assert b"shown only this once" in response.content
    change_page = boss_client.get(reverse("admin:orders_apitoken_change", args=[token.pk]))
    assert raw.encode() not in change_page.content
    assert token.prefix.encode() in change_page.content


def test_admin_list_shows_prefix_channel_last_used_and_state(boss_client, api_token, client):
    token, raw = api_token
    client.get("/api/v1/orders", headers={"Authorization": f"Bearer {raw}"})

    response = boss_client.get(reverse("admin:orders_apitoken_changelist"))

    assert response.status_code == 200
    html = response.content.decode()
    assert f"{token.prefix}…" in html
    assert "Marketplace" in html
    assert "Active" in html
    assert raw not in html


def test_admin_revoke_action(boss_client, api_token):
    token, raw = api_token

    response = boss_client.post(
        reverse("admin:orders_apitoken_changelist"),
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "revoked" in response.content.decode()
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert api_token_authenticate(raw) is None


def test_admin_offers_only_active_channels(boss_client):
    ChannelFactory(slug="old", name="Old shop", active=False)
    ChannelFactory(slug="web", name="Web shop")

    response = boss_client.get(reverse("admin:orders_apitoken_add"))

    assert b"Web shop" in response.content
    assert b"Old shop" not in response.content


def test_only_managers_reach_the_token_admin(client):
    clerk = UserFactory(username="clerk", roles=["customer_service"])
    clerk.is_staff = True
    clerk.save()
    client.force_login(clerk)

    assert client.get(reverse("admin:orders_apitoken_changelist")).status_code == 403
