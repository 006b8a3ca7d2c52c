"""Bearer tokens, and every error as application/problem+json: 401, 404, 405, 422, 500."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import ApiToken, IdempotencyKey, Order
from orders.tokens import api_token_revoke

from .conftest import assert_problem, order_body

pytestmark = pytest.mark.django_db


def test_missing_token_is_401_with_a_bearer_challenge(api):
    response = api.as_token(None).get("/api/v1/orders")

    body = assert_problem(response, 401, "unauthorized")
    assert response["WWW-Authenticate"] == 'Bearer realm="Orderline API"'
    assert "Authorization: Bearer" in body["detail"]


def test_unknown_token_is_401(api):
    response = api.as_token("not-a-real-token").get("/api/v1/orders")

    body = assert_problem(response, 401, "unauthorized")
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert "not valid" in body["detail"]


def test_other_schemes_are_401(client, api_token):
    response = client.get("/api/v1/orders", headers={"Authorization": f"Token {api_token[1]}"})

    assert_problem(response, 401, "unauthorized")


def test_revoked_token_is_refused_from_then_on(api, api_token, catalogue):
    assert api.get("/api/v1/orders").status_code == 200
    api_token_revoke(token=api_token[0], actor=None)

    response = api.get("/api/v1/orders")
    post = api.post("/api/v1/orders", order_body())

    body = assert_problem(response, 401, "unauthorized")
    assert "revoked" in body["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert_problem(post, 401, "unauthorized")
    assert not Order.objects.exists()
    assert not IdempotencyKey.objects.exists()


def test_401_comes_before_the_missing_key(api, catalogue):
    response = api.as_token(None).post("/api/v1/orders", order_body(), key=None)

    assert_problem(response, 401, "unauthorized")


def test_last_used_is_recorded_at_most_once_a_minute(api, api_token):
    token = api_token[0]
    api.get("/api/v1/orders")
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    api.get("/api/v1/orders")
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first

    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    api.get("/api/v1/orders")
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first


def test_unknown_endpoint_is_a_404_problem_and_suggests_without_slash(api):
    body = assert_problem(api.get("/api/v1/nothing-here"), 404, "not-found")
    assert "/api/v1/docs" in body["detail"]

    body = assert_problem(api.get("/api/v1/orders/"), 404, "not-found")
    assert "Did you mean /api/v1/orders" in body["detail"]


def test_wrong_method_is_a_405_problem_with_allow(api, catalogue):
    response = api.client.delete(
        "/api/v1/orders", headers={"Authorization": f"Bearer {api.raw_token}"}
    )

    body = assert_problem(response, 405, "method-not-allowed")
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    assert "DELETE" in body["detail"]


def test_server_error_is_a_500_problem_and_frees_the_key(api, catalogue, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("orders.api.order_place", broken)

    response = api.post("/api/v1/orders", order_body(), key="k-500")

    body = assert_problem(response, 500, "server-error")
    assert "fire" not in body["detail"]  # no internals leak
    assert not IdempotencyKey.objects.filter(key="k-500").exists()  # a retry runs again
    monkeypatch.undo()
    assert api.post("/api/v1/orders", order_body(), key="k-500").status_code == 201


def test_ninja_validation_errors_are_problems_too(api):
    response = api.get("/api/v1/orders", {"limit": "many"})

    body = assert_problem(response, 422, "validation-failed")
    assert list(body["errors"]) == ["limit"]


def test_problem_types_link_to_the_docs(api, client):
    body = json.loads(api.as_token(None).get("/api/v1/orders").content)
    assert body["type"].endswith("/api/v1/docs#problem-unauthorized")
    assert body["instance"] == "/api/v1/orders"
    page = client.get("/api/v1/docs")
    assert b'id="problem-unauthorized"' in page.content
