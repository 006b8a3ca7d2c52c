"""orders.idempotency: one POST per (token, key), replays, mismatches, stale keys."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.idempotency import (
    IN_FLIGHT,
    MISMATCH,
    REPLAY,
    STALE_AFTER,
    STARTED,
    idempotency_abandon,
    idempotency_begin,
    idempotency_finish,
    idempotency_purge,
    request_fingerprint,
)
from orders.models import IdempotencyKey
from orders.tokens import api_token_create
from tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def token():
    return api_token_create(name="Feed", channel=ChannelFactory(), actor=None)[0]


def begin(token, key="k", body=b'{"a": 1}', path="/api/v1/orders"):
    return idempotency_begin(token=token, key=key, method="POST", path=path, body_bytes=body)


def test_first_request_starts_then_a_finished_one_replays(token):
    state, row = begin(token)
    assert state == STARTED
    assert row.state == IdempotencyKey.State.IN_FLIGHT

    idempotency_finish(row=row, status=201, body={"number": "NW-1"})
    state, again = begin(token)

    assert state == REPLAY
    assert (again.response_status, again.response_body) == (201, {"number": "NW-1"})


def test_same_key_running_is_in_flight_and_another_body_is_a_mismatch(token):
    begin(token)

    assert begin(token)[0] == IN_FLIGHT
    assert begin(token, body=b'{"a": 2}')[0] == MISMATCH
    assert begin(token, path="/api/v1/stock/receipts")[0] == MISMATCH


def test_json_bodies_compare_by_content():
    one = request_fingerprint(method="POST", path="/p", body_bytes=b'{"a": 1, "b": [1, 2]}')
    two = request_fingerprint(
        method="post", path="/p", body_bytes=b'{\n  "b": [1, 2],\n  "a": 1\n}'
    )
    assert one == two
    assert one != request_fingerprint(method="POST", path="/p", body_bytes=b'{"a": 1, "b": [2, 1]}')
    assert request_fingerprint(method="POST", path="/p", body_bytes=b"not json")  # raw bytes then


def test_abandoned_key_can_run_again(token):
    _, row = begin(token)
    idempotency_abandon(row=row)

    assert begin(token)[0] == STARTED


def test_a_stale_in_flight_key_is_taken_over_once(token):
    _, row = begin(token)
    IdempotencyKey.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - STALE_AFTER - timedelta(seconds=1)
    )

    assert begin(token)[0] == STARTED
    assert begin(token)[0] == IN_FLIGHT


def test_purge_forgets_old_finished_keys_only(token):
    _, old = begin(token, key="old")
    idempotency_finish(row=old, status=201, body={})
    IdempotencyKey.objects.filter(pk=old.pk).update(completed_at=timezone.now() - timedelta(days=8))
    _, recent = begin(token, key="recent")
    idempotency_finish(row=recent, status=201, body={})
    begin(token, key="running")

    assert idempotency_purge(older_than=timedelta(days=7)) == 1
    assert set(IdempotencyKey.objects.values_list("key", flat=True)) == {"recent", "running"}
