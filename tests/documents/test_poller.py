"""The database-driven poller: due rows only, in batches, claimed once, pushed forward before any
call, never more often than the schedule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from documents import services, tasks
from documents.models import Document
from tests.documents.helpers import make_pdf, upload
from tests.factories import SignerFactory, StaffFactory

pytestmark = pytest.mark.django_db(transaction=True)

S = Document.Status


class FakePeruri:
    def __init__(self, status="WAITING_SIGNATURE", error=None):
        self.status = status
        self.error = error
        self.calls = []

    def check_document_status(self, *, order_id):
        from peruri import DocumentStatus

        self.calls.append(order_id)
        if self.error:
            raise self.error
        return DocumentStatus(order_id=order_id, status=self.status, description="Success")


@pytest.fixture
def fake(monkeypatch):
    client = FakePeruri()
    monkeypatch.setattr(services, "_client", lambda: client)
    return client


@pytest.fixture
def dispatched(monkeypatch):
    ids = []
    monkeypatch.setattr(tasks.document_poll, "delay_on_commit", lambda pk: ids.append(pk))
    return ids


def _rows(n, *, status=S.AWAITING_SIGNATURE, due=True):
    staff = StaffFactory()
    signer = SignerFactory()
    first = services.document_create(uploaded_file=upload(make_pdf(1)), title="t", signer_email=signer.email, actor=staff)
    now = timezone.now()
    Document.objects.filter(pk=first.pk).update(
        status=status, peruri_order_id="1", next_poll_at=now - timedelta(seconds=1) if due else now + timedelta(hours=1)
    )
    rows = []
    for i in range(2, n + 1):
        doc = Document.objects.get(pk=first.pk)
        doc.pk = None
        doc.public_id = __import__("uuid").uuid4()
        doc.peruri_order_id = str(i)
        doc.next_poll_at = now - timedelta(seconds=i) if due else now + timedelta(hours=1)
        rows.append(doc)
    Document.objects.bulk_create(rows)
    return list(Document.objects.order_by("pk"))


def test_only_due_rows_in_polled_states_are_dispatched_once(dispatched):
    due = _rows(4)
    Document.objects.filter(pk=due[0].pk).update(status=S.SIGNED, signed_sha256="0" * 64)
    Document.objects.filter(pk=due[1].pk).update(next_poll_at=timezone.now() + timedelta(minutes=5))
    assert services.document_poll_due() == 2
    assert sorted(dispatched) == sorted([due[2].pk, due[3].pk])
    leased = Document.objects.get(pk=due[2].pk)
    assert leased.poll_queued and leased.next_poll_at > timezone.now() + timedelta(minutes=5)
    # The next beat, 5 s later, finds nothing new: rows are never dispatched twice.
    assert services.document_poll_due() == 0


def test_the_dispatcher_works_in_batches_up_to_a_cap(dispatched, settings):
    settings.DOCUMENT_POLL_BATCH = 3
    settings.DOCUMENT_POLL_MAX_PER_RUN = 7
    _rows(10)
    with CaptureQueriesContext(connection) as queries:
        assert services.document_poll_due() == 7
    selects = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("SELECT") and "documents_document" in q["sql"]]
    assert selects and all("LIMIT" in sql.upper() for sql in selects)
    assert services.document_poll_due() == 3
    assert len(set(dispatched)) == 10


def test_a_lost_task_is_dispatched_again_after_its_lease(dispatched):
    [row] = _rows(1)
    services.document_poll_due()
    Document.objects.filter(pk=row.pk).update(next_poll_at=timezone.now() - timedelta(seconds=1))
    assert services.document_poll_due() == 1
    assert dispatched == [row.pk, row.pk]


def test_a_task_delivered_twice_polls_once(fake, dispatched):
    [row] = _rows(1)
    services.document_poll_due()
    services.document_poll(document_id=row.pk)
    services.document_poll(document_id=row.pk)  # redelivery, or a second worker
    assert fake.calls == ["1"]
    row.refresh_from_db()
    assert not row.poll_queued
    assert row.peruri_status == "WAITING_SIGNATURE"
    assert row.next_poll_at > timezone.now() + timedelta(minutes=5)


def test_next_poll_at_moves_forward_before_the_call(dispatched, monkeypatch):
    [row] = _rows(1)
    seen = {}

    class Crashing(FakePeruri):
        def check_document_status(self, *, order_id):
            seen["next_poll_at"] = Document.objects.get(pk=row.pk).next_poll_at
            raise RuntimeError("worker killed mid-call")

    monkeypatch.setattr(services, "_client", lambda: Crashing())
    services.document_poll_due()
    with pytest.raises(RuntimeError):
        services.document_poll(document_id=row.pk)
    assert seen["next_poll_at"] > timezone.now() + timedelta(minutes=5)
    # No hot loop: the row is not due at the next beat.
    assert services.document_poll_due() == 0


def test_transient_errors_back_off(fake, dispatched):
    from peruri import PeruriTransient

    fake.error = PeruriTransient("timeout", operation="check_document_status")
    [row] = _rows(1, status=S.CONFIRMING)
    delays = []
    for _ in range(4):
        Document.objects.filter(pk=row.pk).update(next_poll_at=timezone.now() - timedelta(seconds=1))
        services.document_poll_due()
        services.document_poll(document_id=row.pk)
        row.refresh_from_db()
        delays.append((row.next_poll_at - timezone.now()).total_seconds())
    assert delays == sorted(delays)
    assert row.status == S.CONFIRMING and "timeout" in row.last_error


def test_a_confirming_row_gives_up_visibly_after_its_budget(fake, dispatched, settings):
    settings.DOCUMENT_CONFIRM_MAX_ATTEMPTS = 3
    [row] = _rows(1, status=S.CONFIRMING)
    for _ in range(3):
        Document.objects.filter(pk=row.pk).update(next_poll_at=timezone.now() - timedelta(seconds=1))
        services.document_poll_due()
        services.document_poll(document_id=row.pk)
    row.refresh_from_db()
    assert row.status == S.FAILED
    assert row.next_poll_at is None
    assert services.document_poll_due() == 0


def test_without_trust_roots_a_confirming_row_fails_visibly_after_its_budget(fake, dispatched, settings):
    """Not a verdict on the signature, but not an endless download loop either: the row ends
    failed with the reason for staff, who retry once the trust roots are configured."""
    settings.DOCUMENT_CONFIRM_MAX_ATTEMPTS = 3
    settings.PERURI_TRUST_ROOTS = []
    settings.PERURI_TRUST_ROOT_URL = ""
    fake.download_document = lambda *, order_id: b"%PDF-1.7 signed bytes"
    [row] = _rows(1, status=S.CONFIRMING)
    Document.objects.filter(pk=row.pk).update(peruri_status="SIGNED")
    for _ in range(3):
        Document.objects.filter(pk=row.pk).update(next_poll_at=timezone.now() - timedelta(seconds=1))
        services.document_poll_due()
        services.document_poll(document_id=row.pk)
    row.refresh_from_db()
    assert row.status == S.FAILED, row.status
    assert "Trust roots unavailable" in row.last_error
    assert row.next_poll_at is None and services.document_poll_due() == 0


def test_peruri_failed_or_expired_orders_end_the_document(fake, dispatched):
    fake.status = "EXPIRED"
    [row] = _rows(1)
    services.document_poll_due()
    services.document_poll(document_id=row.pk)
    row.refresh_from_db()
    assert row.status == S.EXPIRED and row.next_poll_at is None


def test_tasks_are_declared_with_the_expected_names():
    from django.conf import settings

    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"documents.tasks.document_poll_due", "documents.tasks.document_housekeeping"} <= names
    assert tasks.document_poll_due.name == "documents.tasks.document_poll_due"
    assert tasks.document_housekeeping.name == "documents.tasks.document_housekeeping"
