"""A real Celery worker against Redis (R5–R8): tasks travel through the broker as JSON with ids
only, the enrolment is driven by the dispatcher, and a task delivered twice has one effect.

Runs only when REDIS_URL is set (CI); the broker is Redis database 15.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from certificates.models import Enrolment
from sandbox.models import SandboxUser
from tests.certificates.test_services import invite, send_specimen, send_video, submit

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (set REDIS_URL)"),
]

BROKER = "redis://127.0.0.1:6379/15"
S = Enrolment.Status


@pytest.fixture
def worker(sandbox: str) -> Iterator[Any]:
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    saved = {k: app.conf.get(k) for k in ("task_always_eager", "broker_url", "broker_transport_options")}
    app.conf.update(task_always_eager=False, broker_url=BROKER, broker_transport_options={"visibility_timeout": 3600})
    _drop_pools(app)
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("celery")
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30, loglevel="WARNING"):
        yield app
    app.conf.update(saved)
    _drop_pools(app)


def _drop_pools(app: Any) -> None:
    """Forget pooled connections to the previous broker (app.close() would deregister the app)."""
    import kombu.pools

    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    kombu.pools.reset()  # kombu's process-wide producer pools still point at the closed one


def wait_for(enrolment: Enrolment, statuses: set[str], timeout: float = 45.0) -> Enrolment:
    deadline = time.monotonic() + timeout
    while True:
        enrolment.refresh_from_db()
        if enrolment.status in statuses:
            return enrolment
        assert time.monotonic() < deadline, (enrolment.status, enrolment.last_error)
        time.sleep(0.2)


def test_a_real_worker_takes_an_enrolment_to_issued(worker, settings):
    from certificates.tasks import enrolment_poll_due

    settings.SANDBOX_CERT_DELAY = 2
    settings.CERTIFICATES_POLL_BASE_SECONDS = 1
    enrolment = submit(invite("pekerja@example.com"))
    wait_for(enrolment, {S.AWAITING_VIDEO})
    send_video(enrolment)
    wait_for(enrolment, {S.AWAITING_SPECIMEN})
    send_specimen(enrolment)
    wait_for(enrolment, {S.AWAITING_CERTIFICATE})
    # Beat's job: the dispatcher, through the broker, until Peruri has issued the certificate.
    deadline = time.monotonic() + 45
    while enrolment.status != S.ISSUED:
        assert time.monotonic() < deadline, (enrolment.status, enrolment.last_error)
        enrolment_poll_due.delay()
        time.sleep(0.7)
        enrolment.refresh_from_db()
    assert SandboxUser.objects.get(email="pekerja@example.com").status == SandboxUser.Status.CERTIFIED


def test_a_task_delivered_twice_registers_once(worker, monkeypatch):
    from certificates import services
    from certificates.tasks import enrolment_advance

    enrolment = invite("dua.kali@example.com")
    monkeypatch.setattr(services, "_enqueue_advance", lambda pk: None)  # queue it ourselves below
    submit(enrolment)
    assert enrolment.status == S.REGISTERING
    monkeypatch.undo()
    enrolment_advance.delay(enrolment.pk)
    enrolment_advance.delay(enrolment.pk)
    wait_for(enrolment, {S.AWAITING_VIDEO})
    time.sleep(1)
    assert enrolment.events.filter(kind="call", operation="register").count() == 1
    assert SandboxUser.objects.filter(email="dua.kali@example.com").count() == 1


def test_task_messages_hold_ids_only(worker):
    from certificates.tasks import enrolment_advance

    with worker.connection_for_write() as conn:
        producer = worker.amqp.Producer(conn)
        captured: list[Any] = []
        original = producer.publish

        def spy(body: Any, **kwargs: Any) -> Any:
            captured.append(body)
            return original(body, **kwargs)

        producer.publish = spy
        enrolment_advance.apply_async((123,), producer=producer)
    args = captured[0][0]
    assert args == [123] or args == (123,)
    assert json.dumps(captured[0])  # JSON-serialisable, no pickles
