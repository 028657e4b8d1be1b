"""A real Celery worker against Redis: a document goes from "send" to a verified signed copy with
every task travelling through the broker (JSON, ids only), and a task delivered twice has one
effect.

Runs only when REDIS_URL is set (CI). Broker: Redis database 14, its own queue.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from documents import tasks
from documents.models import Document
from signing import services as signing
from tests.documents.fixtures import create_document
from tests.documents.helpers import latest_otp, peruri_calls

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (set REDIS_URL)"),
]

BROKER = "redis://127.0.0.1:6379/14"
QUEUE = "documents-integration"
S = Document.Status


def _drop_pools(app: Any) -> None:
    import kombu.pools

    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    kombu.pools.reset()


@pytest.fixture
def worker(sandbox: str, signer: Any) -> Iterator[Any]:
    """Started after the signer's enrolment (which runs eagerly, as in the other tests)."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    keys = ("task_always_eager", "broker_url", "broker_transport_options", "task_default_queue")
    saved = {k: app.conf.get(k) for k in keys}
    app.conf.update(
        task_always_eager=False,
        broker_url=BROKER,
        broker_transport_options={"visibility_timeout": 3600},
        task_default_queue=QUEUE,
    )
    _drop_pools(app)
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(QUEUE)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30, loglevel="WARNING", queues=[QUEUE]):
        yield app
    app.conf.update(saved)
    _drop_pools(app)


@pytest.fixture
def sent_messages(monkeypatch) -> list[tuple[str, tuple, dict]]:
    """Every task message Paraf publishes, as (task, args, kwargs)."""
    from celery.app.task import Task

    seen: list[tuple[str, tuple, dict]] = []
    original = Task.apply_async

    def spy(self, args=None, kwargs=None, **options):
        seen.append((self.name, tuple(args or ()), dict(kwargs or {})))
        return original(self, args, kwargs, **options)

    monkeypatch.setattr(Task, "apply_async", spy)
    return seen


def wait_for(document: Document, statuses: set[str], timeout: float = 45.0) -> Document:
    deadline = time.monotonic() + timeout
    while True:
        document.refresh_from_db()
        if document.status in statuses:
            return document
        assert time.monotonic() < deadline, (document.status, document.last_error)
        time.sleep(0.2)


def test_a_real_worker_sends_follows_through_and_verifies(worker, sent_messages, sandbox, staff, signer):
    from documents import services

    document = create_document(staff=staff, signer=signer)
    services.document_send_request(document=document, actor=staff)
    wait_for(document, {S.AWAITING_SIGNATURE})
    signing.otp_request(document=document, user=signer)
    signing.document_sign(document=document, user=signer, otp_code=latest_otp(sandbox, signer.email))
    wait_for(document, {S.SIGNED})
    assert document.verification["result"] == "ok"

    ours = [m for m in sent_messages if m[0].startswith("documents.")]
    assert {m[0] for m in ours} >= {"documents.tasks.document_poll", "documents.tasks.document_notify_signer"}
    # Ids only: no OTP, token, e-mail or PDF ever travels through the broker.
    for _name, args, kwargs in ours:
        assert all(isinstance(a, int) for a in args) and not kwargs


def test_a_poll_delivered_twice_through_the_broker_has_one_effect(sent_document, worker, sandbox):
    Document.objects.filter(pk=sent_document.pk).update(poll_queued=True)
    tasks.document_poll.delay(sent_document.pk)
    tasks.document_poll.delay(sent_document.pk)
    deadline = time.monotonic() + 20
    while len(peruri_calls(sent_document, "check_document_status")) < 1:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(2)  # give the second copy time to run (and do nothing)
    assert len(peruri_calls(sent_document, "check_document_status")) == 1
    sent_document.refresh_from_db()
    assert not sent_document.poll_queued and sent_document.status == S.AWAITING_SIGNATURE


def test_the_beat_dispatcher_runs_through_the_broker(sent_document, worker, sandbox):
    from django.utils import timezone

    Document.objects.filter(pk=sent_document.pk).update(next_poll_at=timezone.now())
    tasks.document_poll_due.delay()
    deadline = time.monotonic() + 20
    while not peruri_calls(sent_document, "check_document_status"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    sent_document.refresh_from_db()
    assert sent_document.next_poll_at > timezone.now()
