"""The OpenAPI schema and the docs page: public, complete, no CDN."""

import json

import pytest

pytestmark = pytest.mark.django_db

PATHS = {
    "/api/v1/orders": {"get", "post"},
    "/api/v1/orders/{number}": {"get"},
    "/api/v1/orders/{number}/cancel": {"post"},
    "/api/v1/products/{sku}": {"get", "put"},
    "/api/v1/products/{sku}/availability": {"get"},
    "/api/v1/stock/receipts": {"post"},
    "/api/v1/stock/adjustments": {"post"},
}


@pytest.fixture
def schema(client):
    response = client.get("/api/v1/openapi.json")  # no token needed
    assert response.status_code == 200
    return response.json()


def test_schema_lists_every_path_with_title_version_and_description(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Orderline API"
    assert schema["info"]["version"] == "1.0"
    assert "Idempotency-Key" in schema["info"]["description"]
    assert {p: set(ops) for p, ops in schema["paths"].items()} == PATHS


def test_schema_declares_bearer_security_on_every_operation(schema):
    schemes = schema["components"]["securitySchemes"]
    assert [s["scheme"] for s in schemes.values()] == ["bearer"]
    name = next(iter(schemes))
    for ops in schema["paths"].values():
        for op in ops.values():
            assert op["security"] == [{name: []}]
            assert "401" in op["responses"]


def test_every_post_documents_the_idempotency_key_and_its_errors(schema):
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            header = [p for p in op.get("parameters", []) if p["name"] == "Idempotency-Key"]
            if method == "post":
                assert header, path
                assert header[0]["in"] == "header", path
                assert header[0]["required"], path
                assert {"400", "409", "422"} <= set(op["responses"]), path
            else:
                assert not header, path


def test_errors_are_documented_as_problem_json(schema):
    assert schema["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "detail",
    ]
    responses = schema["paths"]["/api/v1/orders"]["post"]["responses"]
    assert "application/problem+json" in responses["422"]["content"]
    assert "201" in responses
    refs = json.dumps(schema)
    for ref in {r.split('"')[0] for r in refs.split('"$ref": "#/components/schemas/')[1:]}:
        assert ref in schema["components"]["schemas"], ref


def test_docs_page_needs_no_login_and_no_cdn(client):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    html = response.content.decode()
    for path in PATHS:
        assert path in html
    assert "Idempotency-Key" in html
    assert "lines[].quantity" in html  # request bodies are listed field by field
    assert 'id="problem-out-of-stock"' in html
    assert "cdn" not in html.lower()
    assert "/static/css/orderline.css" in html


def test_api_root_leads_to_the_docs(client):
    response = client.get("/api/v1/")

    assert response.status_code == 302
    assert response["Location"] == "/api/v1/docs"
