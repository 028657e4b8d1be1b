"""The periodic dispatcher and the per-row task (R5, R7, R8)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from certificates import services
from certificates.models import Enrolment
from certificates.tasks import enrolment_advance, enrolment_poll_due
from tests.certificates.test_services import invite, send_specimen, send_video, submit
from tests.factories import SignerFactory

S = Enrolment.Status


def make(status, **fields):
    user = SignerFactory()
    return Enrolment.objects.create(
        user=user, email=user.email, license_type="client", mode="native", status=status, **fields
    )


@pytest.mark.django_db
def test_the_dispatcher_pushes_next_poll_at_forward_before_fanning_out(monkeypatch, django_capture_on_commit_callbacks):
    now = timezone.now()
    due = make(S.AWAITING_CERTIFICATE, next_poll_at=now - timedelta(seconds=1))
    later = make(S.AWAITING_CERTIFICATE, next_poll_at=now + timedelta(minutes=5))
    final = make(S.ISSUED, issued_at=now, next_poll_at=now - timedelta(seconds=1))
    sent: list[tuple] = []
    monkeypatch.setattr(enrolment_advance, "delay", lambda *args: sent.append(args))

    def advance_sees_lease(*args):
        # By the time a task runs, the row is no longer due: a crash cannot make a hot loop.
        assert Enrolment.objects.get(pk=args[0]).next_poll_at > timezone.now()
        sent.append(args)

    monkeypatch.setattr(enrolment_advance, "delay", advance_sees_lease)
    with django_capture_on_commit_callbacks(execute=True):
        assert enrolment_poll_due() == 1
    assert sent == [(due.pk,)]  # ids only
    due.refresh_from_db()
    later.refresh_from_db()
    final.refresh_from_db()
    assert due.next_poll_at > now
    assert later.next_poll_at == now + timedelta(minutes=5)
    # Nothing due any more: a second run right away fans out nothing.
    with django_capture_on_commit_callbacks(execute=True):
        assert enrolment_poll_due() == 0


def test_the_poll_index_is_partial_on_non_final_rows():
    index = next(i for i in Enrolment._meta.indexes if i.name == "cert_enrolment_poll_due_idx")
    assert index.fields == ["next_poll_at"]
    assert "issued" in str(index.condition) and "next_poll_at__isnull" in str(index.condition)


def test_the_poller_takes_an_enrolment_to_issued(sandbox, settings):
    settings.SANDBOX_CERT_DELAY = 0
    enrolment = send_video(submit(invite("poller@example.com")))
    # The specimen step and the first check run after commit; make the check fail to see the
    # poller pick it up later.
    from unittest import mock

    with mock.patch.object(services, "_certificate_poll"):
        send_specimen(enrolment)
    assert enrolment.status == S.AWAITING_CERTIFICATE
    Enrolment.objects.filter(pk=enrolment.pk).update(next_poll_at=timezone.now() - timedelta(seconds=1))
    assert enrolment_poll_due() == 1
    enrolment.refresh_from_db()
    assert enrolment.status == S.ISSUED and enrolment.next_poll_at is None


def test_person_steps_expire_at_their_deadline(sandbox):
    enrolment = submit(invite("terlambat@example.com"))
    assert enrolment.status == S.AWAITING_VIDEO
    assert enrolment.next_poll_at == enrolment.deadline_at
    Enrolment.objects.filter(pk=enrolment.pk).update(
        deadline_at=timezone.now() - timedelta(seconds=1), next_poll_at=timezone.now() - timedelta(seconds=1)
    )
    enrolment_poll_due()
    enrolment.refresh_from_db()
    assert enrolment.status == S.EXPIRED
    # Staff retry resumes where the person got to.
    staff = SignerFactory(role="staff")
    services.enrolment_retry(enrolment=enrolment, actor=staff)
    enrolment.refresh_from_db()
    assert enrolment.status == S.AWAITING_VIDEO and enrolment.deadline_at > timezone.now()


def test_a_failed_step_is_resumed_by_staff(sandbox, monkeypatch):
    from peruri import PeruriRejected
    from signing import gateway

    enrolment = submit(invite("gagal@example.com"))

    def refuse(**kwargs):
        raise PeruriRejected("9999", code="9999", description="unknown failure")

    monkeypatch.setattr(gateway.get_peruri_client(), "verify_video", refuse)
    send_video(enrolment)
    assert enrolment.status == S.FAILED and enrolment.last_result_code == "9999"
    assert enrolment.video  # kept for the retry (deleted by the retention schedule otherwise)
    monkeypatch.undo()
    services.enrolment_retry(enrolment=enrolment, actor=SignerFactory(role="staff"))
    enrolment.refresh_from_db()
    assert enrolment.status == S.AWAITING_SPECIMEN


def test_transient_failures_are_retried_then_marked_failed(sandbox, monkeypatch, settings):
    from peruri import PeruriTransient
    from signing import gateway

    settings.CERTIFICATES_STEP_MAX_ATTEMPTS = 3
    client = gateway.get_peruri_client()

    def busy(**kwargs):
        raise PeruriTransient("connection refused", operation="activate")  # not sent: retryable

    monkeypatch.setattr(client, "activate", busy)
    enrolment = submit(invite("sibuk@example.com"))
    assert enrolment.status == S.ACTIVATING and enrolment.step_attempts == 1
    assert enrolment.call_started_at is None and enrolment.next_poll_at > timezone.now()
    services.enrolment_advance(enrolment_id=enrolment.pk)
    services.enrolment_advance(enrolment_id=enrolment.pk)
    enrolment.refresh_from_db()
    assert enrolment.status == S.FAILED and "connection refused" in enrolment.last_error
