"""A real Celery worker, on the configured broker (Redis in CI), sends the acknowledgment
email after commit, once. Not eager mode: a separate process reads the committed rows."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from orders.models import Notification
from orders.services import LineInput, order_place

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def worker(tmp_path):
    mail_dir = tmp_path / "mail"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "EMAIL_URL": f"filemail:///{mail_dir}",  # environ drops one leading slash
        "ORDERLINE_VAR_DIR": str(settings.VAR_DIR),
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--loglevel=INFO",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"test-{os.getpid()}@%h",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc, mail_dir
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_worker_sends_acknowledgment_after_commit_once(
    worker, channel, stocked_product, manager, address
):
    proc, mail_dir = worker
    order = order_place(
        channel=channel,
        email="ada@example.com",
        name="Ada Lovelace",
        address=address,
        lines=[LineInput(stocked_product, 1)],
        actor=manager,
    )
    notification = Notification.objects.get(order=order, kind="order_confirmation")

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        notification.refresh_from_db()
        if notification.status == "sent":
            break
        if proc.poll() is not None:
            pytest.fail("worker died:\n" + proc.stdout.read())
        time.sleep(0.3)
    else:
        proc.terminate()
        pytest.fail(
            "the worker did not send the email in 60 s:\n" + proc.communicate(timeout=20)[0][-4000:]
        )

    time.sleep(1.5)  # give a duplicate delivery the chance to show up
    files = list(Path(mail_dir).glob("*.log"))
    bodies = [f.read_text() for f in files]
    sent = [b for b in bodies if order.number in b]
    assert len(sent) == 1, bodies
    assert order.status_url() in sent[0]
    notification.refresh_from_db()
    assert notification.attempts == 1
    assert order.events.filter(type="email_sent").count() == 1
