"""Idempotency keys for the JSON API: a POST sent twice with the same key does its work once.

The first request with a key inserts a row (state ``in_flight``) in its own transaction (one
autocommitted ``INSERT ... ON CONFLICT DO NOTHING``); the unique constraint on (token, key)
makes that insert the lock: a second request inserting the same key inserts nothing and
reads the row.

- same key, same request, first one finished  -> ``replay`` (the stored status and body)
- same key, same request, first still running -> ``in_flight`` (the caller answers 409)
- same key, a different request               -> ``mismatch`` (the caller answers 422)

A request is the method, the path and the body; JSON bodies are compared by content (key
order and whitespace do not matter). A row left ``in_flight`` longer than STALE_AFTER (its
worker died; its work rolled back with it, when the caller finishes the row in the same
transaction as the work) is taken over by the next request with that key."""

import hashlib
import json
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from .models import ApiToken, IdempotencyKey

STARTED = "started"
REPLAY = "replay"
IN_FLIGHT = "in_flight"
MISMATCH = "mismatch"

STALE_AFTER = timedelta(minutes=5)
KEY_MAX_LENGTH = 255


def request_fingerprint(*, method: str, path: str, body_bytes: bytes) -> str:
    """SHA-256 over the method, the path and the body (canonical JSON when it parses)."""
    try:
        canonical = json.dumps(
            json.loads(body_bytes or b"null"), sort_keys=True, separators=(",", ":")
        ).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body_bytes or b""
    digest = hashlib.sha256()
    digest.update(method.upper().encode() + b"\n" + path.encode() + b"\n")
    digest.update(canonical)
    return digest.hexdigest()


def idempotency_begin(
    *, token: ApiToken, key: str, method: str, path: str, body_bytes: bytes
) -> tuple[str, IdempotencyKey | None]:
    """Claim ``key`` for this request. Returns (state, row): STARTED with the new row (finish
    or abandon it), REPLAY with the finished row, IN_FLIGHT or MISMATCH with the existing row.

    Call it outside any transaction: the claim must commit before the work starts, so a
    concurrent request with the same key sees it."""
    fingerprint = request_fingerprint(method=method, path=path, body_bytes=body_bytes)
    table = connection.ops.quote_name(IdempotencyKey._meta.db_table)
    for _ in range(3):
        # One statement in autocommit, so the claim is committed (visible to a concurrent
        # request with the same key) before the work starts. A concurrent insert of the same
        # key waits for this one to commit, then inserts nothing and reads the row below.
        now = timezone.now()
        row = IdempotencyKey(
            token=token,
            key=key,
            method=method.upper(),
            path=path[:255],
            request_hash=fingerprint,
            state=IdempotencyKey.State.IN_FLIGHT,
            created_at=now,
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (token_id, key, method, path, request_hash, state, created_at) "  # noqa: S608
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (token_id, key) DO NOTHING RETURNING id",
                [token.pk, key, row.method, row.path, fingerprint, row.state, now],
            )
            claimed = cursor.fetchone()
        if claimed:
            row.pk = claimed[0]
            return STARTED, row
        row = IdempotencyKey.objects.filter(token=token, key=key).first()
        if row is None:  # abandoned a moment ago: claim it again
            continue
        if row.request_hash != fingerprint:
            return MISMATCH, row
        if row.state == IdempotencyKey.State.DONE:
            return REPLAY, row
        now = timezone.now()
        taken_over = IdempotencyKey.objects.filter(
            pk=row.pk, state=IdempotencyKey.State.IN_FLIGHT, created_at__lt=now - STALE_AFTER
        ).update(created_at=now)
        if taken_over:
            row.created_at = now
            return STARTED, row
        return IN_FLIGHT, row
    return IN_FLIGHT, None


def idempotency_finish(
    *, row: IdempotencyKey, status: int, body=None, body_json: str | bytes | None = None
) -> IdempotencyKey:
    """Store the answer for replays: ``body`` (a JSON value), or ``body_json`` (the answer's
    JSON text as sent, which saves decoding and encoding it again). Call it in the same
    transaction as the work, so the work and its recorded answer commit together."""
    now = timezone.now()
    if body_json is None:
        body_json = json.dumps(body)
    elif isinstance(body_json, bytes):
        body_json = body_json.decode()
    table = connection.ops.quote_name(IdempotencyKey._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET state = %s, response_status = %s, response_body = %s, "  # noqa: S608
            "completed_at = %s WHERE id = %s",
            [IdempotencyKey.State.DONE, status, body_json, now, row.pk],
        )
    if body is None:
        body = json.loads(body_json)
    row.state, row.response_status, row.response_body, row.completed_at = (
        IdempotencyKey.State.DONE,
        status,
        body,
        now,
    )
    return row


def idempotency_abandon(*, row: IdempotencyKey) -> None:
    """The work failed without an answer worth keeping (a server error): free the key so
    the client's retry with the same key runs the request again."""
    IdempotencyKey.objects.filter(pk=row.pk, state=IdempotencyKey.State.IN_FLIGHT).delete()


def idempotency_purge(*, older_than: timedelta = timedelta(days=7)) -> int:
    """Forget finished keys older than ``older_than`` (a periodic sweep). Returns rows deleted."""
    cutoff = timezone.now() - older_than
    deleted, _ = IdempotencyKey.objects.filter(
        state=IdempotencyKey.State.DONE, completed_at__lt=cutoff
    ).delete()
    return deleted
