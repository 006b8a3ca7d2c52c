"""The JSON API at /api/v1/: bearer tokens, Idempotency-Key on every POST, and errors as
``application/problem+json`` (RFC 9457) for every failure, ninja's own included.

The routers (``orders.api``, ``inventory.api``) only parse, call a service and describe their
answer; this module owns the protocol around them:

- Authentication: ``Authorization: Bearer <token>``; a token belongs to one sales channel
  (``request.auth`` is the :class:`orders.models.ApiToken`). Missing, unknown and revoked
  tokens get 401 with ``WWW-Authenticate: Bearer``.
- Idempotency: every POST needs an ``Idempotency-Key`` header (400 without one). The first
  answer is stored with the key, in the same transaction as the work; the same key and
  the same request replays it (``Idempotent-Replayed: true``); the same key with another
  request is 422; the same key while the first request still runs is 409. Server errors
  and requests refused before they ran (authentication, malformed input) are not stored,
  so a retry with the same key runs again.
- Errors: one problem document shape; see PROBLEM_TYPES and the docs page.

How domain errors map to HTTP (the routers translate service field names into pointers
into the request body, such as ``lines[0].quantity`` or ``shipping_address.city``):

    ValidationFailed      422 validation-failed, ``errors`` per field
    ValidationFailed from a stock shortage, OutOfStock
                          422 out-of-stock, ``errors`` naming each short line
    InvalidTransition     409 invalid-transition (the order's state does not allow it)
    NotAllowed            403 forbidden
    any other DomainError 422 refused, ``errors`` on its field when it names one
"""

import functools
import json
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import Resolver404, path, re_path, resolve, reverse
from django.views.decorators.cache import never_cache
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer

from core.errors import DomainError, InvalidTransition, NotAllowed, OutOfStock, ValidationFailed
from inventory.api import router as inventory_router
from orders.api import router as orders_router
from orders.idempotency import (
    IN_FLIGHT,
    KEY_MAX_LENGTH,
    MISMATCH,
    REPLAY,
    idempotency_abandon,
    idempotency_begin,
    idempotency_finish,
)
from orders.tokens import api_token_authenticate, api_token_is_revoked

logger = logging.getLogger("orderline.api")

PROBLEM_CONTENT_TYPE = "application/problem+json"
IDEMPOTENCY_HEADER = "Idempotency-Key"

# slug: (status, title, when it happens). The docs page lists these; ``type`` links to them.
PROBLEM_TYPES = {
    "unauthorized": (
        401,
        "Authentication required",
        "No bearer token, an unknown token, or a revoked one. The answer carries "
        "WWW-Authenticate: Bearer.",
    ),
    "forbidden": (403, "Not allowed", "The token may not do this."),
    "not-found": (
        404,
        "Not found",
        "No such resource for your token's channel (orders of other channels are not "
        "visible), or no such endpoint.",
    ),
    "method-not-allowed": (
        405,
        "Method not allowed",
        "The endpoint exists but not for this method; see Allow.",
    ),
    "idempotency-key-missing": (
        400,
        "Idempotency-Key required",
        "Every POST needs an Idempotency-Key header (1 to 255 characters; a UUID is "
        "a good choice).",
    ),
    "idempotency-key-in-flight": (
        409,
        "Request with this key still running",
        "A request with the same Idempotency-Key has not finished yet. Retry "
        "shortly: you will get its answer.",
    ),
    "idempotency-key-reused": (
        422,
        "Idempotency-Key used for another request",
        "The key was first used with another method, path or body. Use a new key "
        "for a new request.",
    ),
    "malformed-request": (
        400,
        "Malformed request",
        "The body is not valid JSON. Send Content-Type: application/json and a JSON object.",
    ),
    "request-too-large": (
        413,
        "Request too large",
        "The body is larger than the server accepts; send fewer lines per order.",
    ),
    "duplicate-external-id": (
        409,
        "Order already exists",
        "An order with this external_id exists in your channel; existing_order points at it.",
    ),
    "invalid-transition": (
        409,
        "Not possible in this state",
        "The order's state does not allow it (e.g. cancelling a cancelled order).",
    ),
    "validation-failed": (
        422,
        "Invalid request",
        "Some fields are missing or invalid; errors names each one (lines[0].quantity).",
    ),
    "out-of-stock": (
        422,
        "Not enough stock",
        "A line asks for more than is available and its product may not be backordered; "
        "errors names each short line and offers substitutes.",
    ),
    "refused": (
        422,
        "Refused",
        "The request is well formed but the business rules refuse it; detail says why.",
    ),
    "server-error": (
        500,
        "Server error",
        "Something failed on our side. Nothing was saved; retry with the same key.",
    ),
}
_STATUS_TYPES = {
    400: "malformed-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "refused",
    422: "validation-failed",
    500: "server-error",
}


def problem_type_uri(slug: str) -> str:
    return f"{settings.SITE_URL}{reverse('api:docs')}#problem-{slug}"


def problem(
    request,
    status: int,
    slug: str,
    detail: str,
    *,
    errors: dict | None = None,
    headers: dict | None = None,
    store: bool = True,
    **extra,
) -> HttpResponse:
    """An ``application/problem+json`` answer. ``store=False`` keeps it out of the idempotency
    record (the request was refused before it ran)."""
    title = PROBLEM_TYPES.get(slug, (status, "Error", ""))[1]
    body = {
        "type": problem_type_uri(slug),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = HttpResponse(
        json.dumps(body, cls=DjangoJSONEncoder), status=status, content_type=PROBLEM_CONTENT_TYPE
    )
    for name, value in (headers or {}).items():
        response[name] = value
    response.orderline_store = store
    return response


# ---------------------------------------------------------------- authentication

_UNSET = object()


class BearerAuth(HttpBearer):
    """``Authorization: Bearer <token>``. The answer is kept on the request, so the
    idempotency wrapper and the operation authenticate once between them."""

    def __call__(self, request):
        cached = getattr(request, "_orderline_token", _UNSET)
        if cached is _UNSET:
            cached = super().__call__(request)
            request._orderline_token = cached
        return cached

    def authenticate(self, request, token):
        found = api_token_authenticate(token.strip())
        if found is None:
            request._orderline_auth_error = (
                "revoked" if api_token_is_revoked(token.strip()) else "invalid"
            )
        return found


token_auth = BearerAuth()

_AUTH_DETAIL = {
    "missing": "Send your API token in the Authorization header: Authorization: Bearer <token>.",
    "invalid": "This API token is not valid. Check that it was copied whole, or ask a manager for a new one.",
    "revoked": "This API token was revoked. Ask a manager for a new one.",
}


# ---------------------------------------------------------------- the API and its schema


class OrderlineAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        return _document_protocol(schema)


API_DESCRIPTION = """\
Orders, catalogue and stock for integrations: marketplaces, web shops, ERPs and supplier feeds.

**Authentication.** Every call sends `Authorization: Bearer <token>`. A manager creates a token
per integration in the back office or with `python manage.py create_api_token NAME --channel SLUG`;
the token is shown once and belongs to one sales channel: the orders you place and read are
that channel's.

**Idempotency.** Every POST needs an `Idempotency-Key` header (1 to 255 characters, a UUID is a
good choice). Retrying with the same key and the same body returns the first answer again
(with `Idempotent-Replayed: true`) and does nothing twice. The same key with a different body
is refused (422); while the first request is still running, a retry gets 409.

**Errors** are `application/problem+json` documents: `type`, `title`, `status`, `detail`,
`instance`, and `errors` mapping each invalid field (as a path into your request body, e.g.
`lines[0].quantity` or `shipping_address.city`) to its messages.

**Money** is sent and returned as decimal strings (`"24.90"`), never floats.
"""

api = OrderlineAPI(
    title="Orderline API",
    version="1.0",
    description=API_DESCRIPTION,
    auth=token_auth,
    urls_namespace="api",
    docs_url=None,
    openapi_url="/openapi.json",
)
api.add_router("/orders", orders_router)
api.add_router("", inventory_router)

PROBLEM_SCHEMA = {
    "title": "Problem",
    "type": "object",
    "description": "An error (RFC 9457). Extra members may appear, e.g. existing_order on 409 duplicate-external-id.",
    "properties": {
        "type": {
            "type": "string",
            "format": "uri",
            "description": "Identifies the kind of problem; links to the docs.",
        },
        "title": {"type": "string", "description": "Short summary of the kind of problem."},
        "status": {"type": "integer", "description": "The HTTP status code."},
        "detail": {"type": "string", "description": "What went wrong here, and how to fix it."},
        "instance": {"type": "string", "description": "The request path."},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "Messages per field, keyed by a path into the request: lines[0].quantity.",
        },
    },
    "required": ["type", "title", "status", "detail"],
}

_ERROR_RESPONSES = {
    400: "Idempotency-Key header missing or too long (problem type idempotency-key-missing).",
    401: "Missing, unknown or revoked token (unauthorized).",
    404: "Not found in your channel (not-found).",
    409: "The same Idempotency-Key is still in flight (idempotency-key-in-flight).",
    422: "Invalid fields (validation-failed), or refused by the business rules; see errors.",
    500: "Server error (server-error); nothing was saved.",
}


def _document_protocol(schema):
    """Add the problem schema, the Idempotency-Key header and the error answers to every operation."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for scheme in schema["components"].get("securitySchemes", {}).values():
        scheme["description"] = (
            "An API token from the back office or `manage.py create_api_token`, "
            "bound to one sales channel."
        )
    problem_content = {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for url, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            responses = {str(k): v for k, v in operation.get("responses", {}).items()}
            codes = [401, 422, 500]
            if "{" in url:
                codes.append(404)
            if method == "post":
                codes += [400, 409]
                params = operation.setdefault("parameters", [])
                if not any(p.get("name") == IDEMPOTENCY_HEADER for p in params):
                    params.insert(
                        0,
                        {
                            "in": "header",
                            "name": IDEMPOTENCY_HEADER,
                            "required": True,
                            "schema": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": KEY_MAX_LENGTH,
                            },
                            "description": "A unique key per request (a UUID). Retrying with the same key and body "
                            "replays the first answer; with another body: 422; while the first is "
                            "still running: 409.",
                        },
                    )
            for code in sorted(codes):
                key = str(code)
                if key in responses:
                    responses[key].setdefault("content", problem_content)
                else:
                    responses[key] = {
                        "description": _ERROR_RESPONSES[code],
                        "content": problem_content,
                    }
            operation["responses"] = dict(sorted(responses.items()))  # by status code
    return schema


# ---------------------------------------------------------------- idempotency around every POST


def _worth_keeping(response) -> bool:
    return response.status_code < 500 and getattr(response, "orderline_store", True)


def _replay(row) -> HttpResponse:
    status = row.response_status
    response = HttpResponse(
        json.dumps(row.response_body, cls=DjangoJSONEncoder),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE if status >= 400 else "application/json; charset=utf-8",
    )
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent_posts(run):
    """Wraps each operation (auth, validation, view): POSTs run once per Idempotency-Key."""

    @functools.wraps(run)
    def wrapper(request, *args, **kwargs):
        try:
            if request.method != "POST" or not token_auth(request):
                return run(
                    request, *args, **kwargs
                )  # GET, PUT; or no valid token: run() answers 401
            return _run_once(run, request, *args, **kwargs)
        except Exception as exc:  # failed outside ninja's own handling: still a problem document
            return api.on_exception(request, exc)

    return wrapper


def _run_once(run, request, *args, **kwargs):
    """The Idempotency-Key protocol around one POST (see the module docstring)."""
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if not key or len(key) > KEY_MAX_LENGTH:
        return problem(
            request,
            400,
            "idempotency-key-missing",
            f"Send an {IDEMPOTENCY_HEADER} header with every POST: a unique value per request, "
            f"1 to {KEY_MAX_LENGTH} characters (a UUID is a good choice). Retrying with the same "
            "key then never does the work twice.",
            store=False,
        )
    state, row = idempotency_begin(
        token=token_auth(request),
        key=key,
        method=request.method,
        path=request.path,
        body_bytes=request.body,
    )
    if state == REPLAY:
        return _replay(row)
    if state == IN_FLIGHT:
        return problem(
            request,
            409,
            "idempotency-key-in-flight",
            f"A request with {IDEMPOTENCY_HEADER} {key!r} is still being processed. "
            "Retry in a moment to get its answer.",
            headers={"Retry-After": "1"},
            store=False,
        )
    if state == MISMATCH:
        return problem(
            request,
            422,
            "idempotency-key-reused",
            f"{IDEMPOTENCY_HEADER} {key!r} was used for a different request "
            f"({row.method} {row.path} with another body). Use a new key for a new request.",
            store=False,
        )
    stored = False
    try:
        with transaction.atomic():
            response = run(request, *args, **kwargs)
            if _worth_keeping(response) and not transaction.get_rollback():
                idempotency_finish(row=row, status=response.status_code, body_json=response.content)
                stored = True
    finally:
        if not stored:
            idempotency_abandon(row=row)
    return response


api.add_decorator(idempotent_posts, mode="view")


# ---------------------------------------------------------------- errors as problem+json


def _pointer(loc) -> str:
    """A pydantic error location as a path into the request: lines[0].quantity."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form", "file"):
        where = parts.pop(0)
        if where == "body" and parts:
            parts.pop(0)  # the view's parameter name
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _message(error: dict) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "This field is required."
    if kind == "extra_forbidden":
        return "Unknown field: remove it (check its spelling against the docs)."
    if kind == "json_invalid":
        return "The body is not valid JSON."
    return error.get("msg", "Invalid value.").removeprefix("Value error, ")


@api.exception_handler(ValidationError)
def _validation_error(request, exc):
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        errors.setdefault(_pointer(error.get("loc", ())), []).append(_message(error))
    if "" in errors and list(errors) == [""]:
        detail = "Send a JSON body (Content-Type: application/json) as described in the docs."
    else:
        names = ", ".join(k for k in errors if k) or "the body"
        detail = f"Fix these fields and send the request again: {names}."
    return problem(request, 422, "validation-failed", detail, errors=errors, store=False)


@api.exception_handler(AuthenticationError)
def _authentication_error(request, exc):
    reason = getattr(request, "_orderline_auth_error", "missing")
    challenge = 'Bearer realm="Orderline API"'
    if reason != "missing":
        challenge += ', error="invalid_token"'
    return problem(
        request,
        401,
        "unauthorized",
        _AUTH_DETAIL[reason],
        headers={"WWW-Authenticate": challenge},
        store=False,
    )


@api.exception_handler(HttpError)
def _http_error(request, exc):
    """Routers raise ninja HttpErrors; they may carry ``problem_type``, ``errors`` and ``extra``."""
    if exc.status_code == 400 and not hasattr(
        exc, "problem_type"
    ):  # ninja could not parse the body
        return problem(
            request,
            400,
            "malformed-request",
            f"{exc.message}: send a JSON object with Content-Type: application/json, as the docs "
            "describe.",
            store=False,
        )
    slug = getattr(exc, "problem_type", None) or _STATUS_TYPES.get(exc.status_code, "refused")
    return problem(
        request,
        exc.status_code,
        slug,
        exc.message,
        errors=getattr(exc, "errors", None),
        **getattr(exc, "extra", {}),
    )


@api.exception_handler(Http404)
def _not_found(request, exc):
    detail = str(exc) if exc.args and str(exc) else f"Nothing at {request.path} in your channel."
    return problem(request, 404, "not-found", detail)


@api.exception_handler(DomainError)
def _domain_error(request, exc):
    if isinstance(exc, NotAllowed):
        return problem(request, 403, "forbidden", exc.message)
    if isinstance(exc, InvalidTransition):
        return problem(request, 409, "invalid-transition", exc.message)
    if isinstance(exc, ValidationFailed):
        slug = "out-of-stock" if exc.code == "out_of_stock" else "validation-failed"
        messages = [m for msgs in exc.errors.values() for m in msgs]
        detail = (
            messages[0]
            if len(messages) == 1
            else f"{len(messages)} problems: " + " ".join(messages)
        )
        return problem(request, 422, slug, detail, errors=exc.errors)
    errors = {exc.field: [exc.message]} if exc.field else None
    return problem(
        request,
        422,
        "out-of-stock" if isinstance(exc, OutOfStock) else "refused",
        exc.message,
        errors=errors,
    )


@api.exception_handler(RequestDataTooBig)
def _too_large(request, exc):
    return problem(request, 413, "request-too-large", "The request body is too large.", store=False)


@api.exception_handler(Exception)
def _server_error(request, exc):
    logger.exception("API request %s %s failed", request.method, request.path, exc_info=exc)
    return problem(
        request,
        500,
        "server-error",
        "Something failed on our side and nothing was saved. Retry later with the same "
        "Idempotency-Key; if it keeps failing, contact the merchant.",
    )


# ---------------------------------------------------------------- the docs page


def _resolve(schema: dict, components: dict) -> dict:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _type_label(schema: dict, components: dict) -> tuple[str, bool]:
    """A short type for people ("decimal string", "list of objects") and whether null is allowed."""
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        nullable = len(options) < len(schema["anyOf"])
        if {s.get("type") for s in options} == {"number", "string"}:
            return "decimal (string or number)", nullable
        labels = [_type_label(s, components)[0] for s in options]
        return " or ".join(dict.fromkeys(labels)), nullable
    if "$ref" in schema:
        target = _resolve(schema, components)
        if "enum" in target:
            return "one of " + ", ".join(str(v) for v in target["enum"]), False
        return "object", False
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"]), False
    kind = schema.get("type", "any")
    if kind == "array":
        item_label = _type_label(schema.get("items", {}), components)[0]
        return (
            f"list of {item_label}s" if item_label == "object" else f"list of {item_label}",
            False,
        )
    fmt = schema.get("format")
    if kind == "string" and fmt in ("date-time", "date", "uri", "email"):
        return {"date-time": "date-time (ISO 8601)", "date": "date (YYYY-MM-DD)"}.get(
            fmt, fmt
        ), False
    if kind == "string" and fmt == "decimal":
        return "decimal string", False
    return {
        "integer": "integer",
        "number": "number",
        "boolean": "boolean",
        "string": "string",
        "object": "object",
    }.get(kind, kind), False


def _constraints(schema: dict) -> str:
    schema = next((s for s in schema.get("anyOf", []) if s.get("type") != "null"), schema)
    notes = []
    for key, text in (
        ("minimum", "≥ {}"),
        ("exclusiveMinimum", "> {}"),
        ("maximum", "≤ {}"),
        ("exclusiveMaximum", "< {}"),
        ("minLength", "at least {} character"),
        ("maxLength", "at most {} character"),
        ("minItems", "at least {} item"),
        ("maxItems", "at most {} item"),
    ):
        if key in schema:
            value = schema[key]
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            note = text.format(value)
            notes.append(
                note + "s" if note.endswith(("character", "item")) and value != 1 else note
            )
    return ", ".join(notes)


def _fields(schema: dict, components: dict, prefix: str = "", depth: int = 0) -> list[dict]:
    """Flatten an object schema into rows: customer.email, lines[].sku ..."""
    schema = _resolve(schema, components)
    required = set(schema.get("required", []))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        label, nullable = _type_label(prop, components)
        default = prop.get("default")
        rows.append(
            {
                "name": f"{prefix}{name}",
                "depth": depth,
                "type": label,
                "nullable": nullable,
                "required": name in required,
                "description": prop.get("description", ""),
                "constraints": _constraints(prop),
                "default": "" if default in (None, "") or name in required else json.dumps(default),
            }
        )
        inner = next((s for s in prop.get("anyOf", []) if s.get("type") != "null"), prop)
        if depth < 3 and "$ref" in inner and "properties" in _resolve(inner, components):
            rows += _fields(inner, components, f"{prefix}{name}.", depth + 1)
        elif (
            depth < 3
            and inner.get("type") == "array"
            and "$ref" in inner.get("items", {})
            and "properties" in _resolve(inner["items"], components)
        ):
            rows += _fields(inner["items"], components, f"{prefix}{name}[].", depth + 1)
    return rows


def docs_context(schema: dict) -> dict:
    components = schema.get("components", {}).get("schemas", {})
    sections: dict[str, list[dict]] = {}
    for url, item in schema.get("paths", {}).items():
        for method, op in item.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            responses = []
            for code, answer in sorted(op.get("responses", {}).items()):
                content = answer.get("content", {})
                media, spec = next(iter(content.items()), ("", {}))
                is_problem = media == PROBLEM_CONTENT_TYPE
                responses.append(
                    {
                        "code": code,
                        "description": answer.get("description", ""),
                        "problem": is_problem,
                        "fields": []
                        if is_problem or "schema" not in spec
                        else _fields(spec["schema"], components),
                    }
                )
            params = []
            for p in op.get("parameters", []):
                if "$ref" in p.get("schema", {}) and "properties" in _resolve(
                    p["schema"], components
                ):
                    continue
                label, _ = _type_label(p.get("schema", {}), components)
                params.append(
                    {
                        "name": p["name"],
                        "in": p["in"],
                        "required": p.get("required", False),
                        "type": label,
                        "description": p.get("description", "")
                        or p.get("schema", {}).get("description", ""),
                        "constraints": _constraints(p.get("schema", {})),
                    }
                )
            paragraphs = [
                " ".join(line.strip() for line in block.splitlines())
                for block in op.get("description", "").split("\n\n")
                if block.strip()
            ]
            tag = (op.get("tags") or ["General"])[0]
            sections.setdefault(tag, []).append(
                {
                    "id": op.get("operationId", f"{method}-{url}"),
                    "method": method.upper(),
                    "path": url,
                    "summary": op.get("summary", ""),
                    "paragraphs": paragraphs,
                    "params": params,
                    "body": _fields(body["schema"], components) if body else [],
                    "example": json.dumps(body["example"], indent=2, ensure_ascii=False)
                    if body.get("example")
                    else "",
                    "responses": responses,
                    "secured": bool(op.get("security", True)),
                    "idempotent": method == "post",
                }
            )
    problems = [
        {
            "slug": slug,
            "status": status,
            "title": title,
            "text": text,
            "uri": problem_type_uri(slug),
        }
        for slug, (status, title, text) in PROBLEM_TYPES.items()
    ]
    return {
        "info": schema.get("info", {}),
        "sections": sections,
        "problems": sorted(problems, key=lambda p: (p["status"], p["slug"])),
        "base_url": f"{settings.SITE_URL}{reverse('api:api-root')}".rstrip("/"),
        "openapi_url": reverse("api:openapi-json"),
        "idempotency_header": IDEMPOTENCY_HEADER,
        "problem_base": problem_type_uri(""),
    }


# ---------------------------------------------------------------- pages around the operations


@never_cache
def docs_view(request):
    """Human documentation, rendered on the server from the OpenAPI schema (no CDN, no login)."""
    schema = api.get_openapi_schema()
    return render(request, "api/docs.html", docs_context(schema))


def root_view(request):
    return HttpResponseRedirect(reverse("api:docs"))


def not_found_view(request, rest=""):
    detail = f"No endpoint at {request.path}."
    if request.path.endswith("/"):
        try:
            resolve(request.path.rstrip("/"))
            detail += f" Did you mean {request.path.rstrip('/')} (without the trailing slash)?"
        except Resolver404:
            pass
    detail += f" The endpoints are listed at {reverse('api:docs')}."
    return problem(request, 404, "not-found", detail)


def _problem_for_405(view):
    """ninja answers a known path with the wrong method in plain text: say it as a problem."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith(
            PROBLEM_CONTENT_TYPE
        ):
            allowed = response.get("Allow", "")
            replaced = problem(
                request,
                405,
                "method-not-allowed",
                f"{request.method} is not allowed on {request.path}; use {allowed}.",
                headers={"Allow": allowed},
            )
            return replaced
        return response

    return wrapped


def _urlpatterns():
    patterns = []
    for pattern in api.urls[0]:
        if pattern.name == "api-root":
            continue
        pattern.callback = _problem_for_405(pattern.callback)
        patterns.append(pattern)
    return [
        path("", root_view, name="api-root"),
        path("docs", docs_view, name="docs"),
        *patterns,
        re_path(r"^(?P<rest>.*)$", not_found_view, name="not-found"),
    ]


app_name = "api"
urlpatterns = _urlpatterns()
