"""Reliability over the sandbox's fault injection (R2, R4–R7): unknown outcomes are reconciled
through Check Certificate before anything is sent again, so Peruri never sees a duplicate."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from django.db import connections
from django.utils import timezone

from certificates import services
from certificates.models import Enrolment
from sandbox.models import SandboxUser
from tests.certificates.conftest import HANG_SECONDS, drive
from tests.certificates.test_services import invite, send_specimen, send_video, submit

S = Enrolment.Status


def calls(enrolment, operation):
    return list(
        enrolment.events.filter(kind="call", operation=operation).order_by("pk").values_list("outcome", "result_code")
    )


def test_a_registration_timed_out_after_being_applied_is_not_sent_twice(sandbox, faults, quick_timeouts):
    faults.set(kinds=["read_timeout"], operations=["registration"], count=1, when="after", hang_seconds=HANG_SECONDS)
    enrolment = submit(invite("timeout@example.com"))
    # Peruri registered the person, but the answer never came: outcome unknown.
    assert enrolment.status == S.RECONCILING
    assert enrolment.reconcile_step == S.REGISTERING
    assert SandboxUser.objects.filter(email="timeout@example.com").count() == 1
    assert enrolment.ktp_photo  # kept: it may be needed to send again

    drive(enrolment)
    # Check Certificate (no certificate) → Registration again → "already registered" (1002):
    # that is our first one. Then Activation as usual.
    assert enrolment.status == S.AWAITING_VIDEO
    assert calls(enrolment, "register") == [("unknown", ""), ("rejected", "1002")]
    assert calls(enrolment, "check_certificate")[0] == ("rejected", "4001")
    assert SandboxUser.objects.filter(email="timeout@example.com").count() == 1
    assert not enrolment.ktp_photo

    send_specimen(send_video(enrolment))
    drive(enrolment)
    assert enrolment.status == S.ISSUED


def test_a_5xx_before_registration_is_reconciled_then_sent_once_more(sandbox, faults):
    faults.set(kinds=["http500"], operations=["registration"], count=1, when="before")
    enrolment = submit(invite("lima-ratus@example.com"))
    assert enrolment.status == S.RECONCILING  # a 5xx may have been applied: unknown
    assert not SandboxUser.objects.filter(email="lima-ratus@example.com").exists()
    drive(enrolment)
    assert enrolment.status == S.AWAITING_VIDEO
    assert calls(enrolment, "register") == [("unknown", ""), ("ok", "0")]
    assert SandboxUser.objects.filter(email="lima-ratus@example.com").count() == 1


def test_a_connection_reset_after_the_video_is_reconciled(sandbox, faults):
    enrolment = submit(invite("reset@example.com"))
    faults.set(kinds=["connection_reset"], operations=["videoVerification"], count=1, when="after")
    send_video(enrolment)
    assert enrolment.status == S.RECONCILING and enrolment.reconcile_step == S.VERIFYING_VIDEO
    assert enrolment.video  # kept until Peruri confirms it
    drive(enrolment)
    assert enrolment.status == S.AWAITING_SPECIMEN
    assert [o for o, _ in calls(enrolment, "verify_video")] == ["unknown", "ok"]
    assert not enrolment.video


def test_a_garbled_answer_to_the_specimen_is_reconciled_without_sending_again(sandbox, faults):
    enrolment = send_video(submit(invite("garbled@example.com")))
    faults.set(kinds=["malformed_json"], operations=["sendSpeciment"], count=1, when="after")
    send_specimen(enrolment)
    assert enrolment.status == S.RECONCILING
    drive(enrolment)
    # Check Certificate found the certificate: the specimen had arrived.
    assert enrolment.status == S.ISSUED
    assert len(calls(enrolment, "send_specimen")) == 1


def test_errors_while_checking_the_certificate_only_reschedule(sandbox, faults):
    enrolment = send_video(submit(invite("periksa@example.com")))
    faults.set(kinds=["gateway_exception"], operations=["checkCertificate"], when="before")
    send_specimen(enrolment)
    assert enrolment.status == S.AWAITING_CERTIFICATE
    assert enrolment.last_error and enrolment.next_poll_at > timezone.now()
    faults.clear()
    drive(enrolment)
    assert enrolment.status == S.ISSUED and enrolment.last_error == ""


def test_an_open_circuit_reschedules_without_using_up_attempts(sandbox, monkeypatch):
    from signing.gateway import get_peruri_client

    client = get_peruri_client()
    monkeypatch.setattr(client.circuit_breaker, "allow", lambda operation: False)
    enrolment = submit(invite("tutup@example.com"))
    assert enrolment.status == S.REGISTERING
    assert enrolment.call_started_at is None and enrolment.step_attempts == 0
    assert "Unavailable" in enrolment.last_error
    assert enrolment.next_poll_at > timezone.now() + timedelta(seconds=30)
    monkeypatch.undo()
    drive(enrolment)
    assert enrolment.status == S.AWAITING_VIDEO


def test_a_worker_killed_mid_call_is_reconciled_not_resent(sandbox, monkeypatch):
    enrolment = invite("mati@example.com")
    # The worker claimed Registration, Peruri applied it, then the worker died (no outcome).
    real_advance = services._enqueue_advance
    monkeypatch.setattr(services, "_enqueue_advance", lambda pk: None)
    submit(enrolment)
    monkeypatch.setattr(services, "_enqueue_advance", real_advance)
    claimed = timezone.now() - services._STEPS[S.REGISTERING].stale_after - timedelta(minutes=1)
    Enrolment.objects.filter(pk=enrolment.pk).update(call_started_at=claimed)
    from signing.gateway import get_peruri_client

    e = enrolment
    e.refresh_from_db()
    get_peruri_client().register(
        name=e.full_name, phone=e.phone, email=e.email, ktp=e.ktp_number, ktp_photo=services._read_file(e.ktp_photo.name),
        address=e.address, city=e.city, province=e.province, gender=e.gender, place_of_birth=e.place_of_birth,
        date_of_birth=e.date_of_birth,
    )  # fmt: skip
    # Housekeeping finds the stale claim; the row is reconciled, never re-sent blindly.
    from certificates.tasks import enrolment_housekeeping

    enrolment_housekeeping()
    services.enrolment_advance(enrolment_id=enrolment.pk)
    enrolment.refresh_from_db()
    assert enrolment.status in (S.RECONCILING, S.AWAITING_VIDEO)
    drive(enrolment)
    assert enrolment.status == S.AWAITING_VIDEO
    assert [o for o, _ in calls(enrolment, "register")] == ["rejected"]  # the one resend: 1002
    assert SandboxUser.objects.filter(email="mati@example.com").count() == 1


def test_a_live_claim_is_left_alone(sandbox, monkeypatch):
    enrolment = invite("sibuk@example.com")
    monkeypatch.setattr(services, "_enqueue_advance", lambda pk: None)
    submit(enrolment)
    Enrolment.objects.filter(pk=enrolment.pk).update(call_started_at=timezone.now())
    services.enrolment_advance(enrolment_id=enrolment.pk)
    enrolment.refresh_from_db()
    assert enrolment.status == S.REGISTERING
    assert not enrolment.events.filter(kind="call").exists()


def test_two_deliveries_of_the_same_task_make_one_call(sandbox, monkeypatch):
    from signing.gateway import get_peruri_client

    enrolment = invite("dobel@example.com")
    monkeypatch.setattr(services, "_enqueue_advance", lambda pk: None)
    submit(enrolment)
    client = get_peruri_client()
    real_register = client.register

    def slow_register(**kwargs):
        time.sleep(0.5)
        return real_register(**kwargs)

    monkeypatch.setattr(client, "register", slow_register)
    barrier = threading.Barrier(2)

    def deliver():
        try:
            barrier.wait()
            services.enrolment_advance(enrolment_id=enrolment.pk)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    enrolment.refresh_from_db()
    assert len(calls(enrolment, "register")) == 1
    assert SandboxUser.objects.filter(email="dobel@example.com").count() == 1


def test_every_enrolment_ends_issued_under_random_faults(sandbox, faults, quick_timeouts, settings):
    """Errors, garbled replies, resets and timeouts — applied but unanswered — on every
    certificate operation, a third of the time. Every enrolment still ends issued, and Peruri
    has exactly one registration per person."""
    faults.set(
        rate=0.35,
        kinds=["http500", "gateway_exception", "malformed_json", "connection_reset", "read_timeout"],
        operations=["registration", "activation", "videoVerification", "sendSpeciment", "checkCertificate"],
        when="after",
        hang_seconds=HANG_SECONDS,
    )
    emails = [f"acak{i}@example.com" for i in range(3)]
    enrolments = [submit(invite(email)) for email in emails]
    deadline = time.monotonic() + 150
    pending = list(enrolments)
    while pending:
        assert time.monotonic() < deadline, [(e.email, e.status, e.last_error) for e in pending]
        for enrolment in list(pending):
            drive(enrolment, timeout=120)
            if enrolment.status == S.AWAITING_VIDEO:
                send_video(enrolment)
            elif enrolment.status == S.AWAITING_SPECIMEN:
                send_specimen(enrolment)
            elif enrolment.status == S.ISSUED:
                pending.remove(enrolment)
            else:
                raise AssertionError((enrolment.email, enrolment.status, enrolment.last_error))
    assert faults.state()["triggered"] > 0
    for enrolment in enrolments:
        assert SandboxUser.objects.filter(email=enrolment.email).count() == 1
        assert len([o for o, _ in calls(enrolment, "register") if o == "ok"]) <= 1
        assert not enrolment.has_identity_files


def test_staff_retry_leaves_a_call_in_flight_alone(sandbox, monkeypatch):
    """A retry while the worker is still waiting for Peruri must not reconcile (and then re-send)
    behind its back: Check Certificate cannot see a call that has not finished yet."""
    import pytest

    from tests.factories import StaffFactory

    enrolment = invite("masih-jalan@example.com")
    monkeypatch.setattr(services, "_enqueue_advance", lambda pk: None)
    submit(enrolment)
    claimed = timezone.now() - timedelta(seconds=30)  # the worker is mid-call
    Enrolment.objects.filter(pk=enrolment.pk).update(call_started_at=claimed)
    enrolment.refresh_from_db()
    with pytest.raises(services.EnrolmentError):
        services.enrolment_retry(enrolment=enrolment, actor=StaffFactory())
    enrolment.refresh_from_db()
    assert enrolment.status == S.REGISTERING and enrolment.call_started_at == claimed
    # Once the claim is older than any call can last, the same retry reconciles it.
    stale = timezone.now() - services._STEPS[S.REGISTERING].stale_after - timedelta(seconds=1)
    Enrolment.objects.filter(pk=enrolment.pk).update(call_started_at=stale)
    enrolment.refresh_from_db()
    services.enrolment_retry(enrolment=enrolment, actor=StaffFactory())
    enrolment.refresh_from_db()
    assert enrolment.status == S.RECONCILING and enrolment.reconcile_step == S.REGISTERING


def test_a_claim_counts_as_abandoned_only_after_the_task_can_no_longer_be_running():
    """The per-row task is killed at its hard time limit; until then its call may still be in
    flight, so no step may treat its claim as abandoned earlier (R5, R6)."""
    from certificates.tasks import enrolment_advance

    assert enrolment_advance.time_limit and enrolment_advance.soft_time_limit < enrolment_advance.time_limit
    for step, spec in services._STEPS.items():
        assert spec.stale_after.total_seconds() > enrolment_advance.time_limit, step


def test_identity_data_stays_out_of_logs_and_history_when_calls_fail(sandbox, faults, caplog, settings, monkeypatch):
    """R16/R18 on the error paths: 5xx, resets, garbled replies and gateway errors on every
    certificate operation — logs (any level), the history and last_error never carry the
    person's identity data."""
    import logging

    from tests.fixtures_certificates import make_ktp

    settings.PERURI_BREAKER_THRESHOLD = 1000  # every fault reaches the services, none opens the circuit
    monkeypatch.setattr("signing.gateway._client", None)  # a client built with that setting
    caplog.set_level(logging.DEBUG)
    faults.set(
        count=8,  # the first eight certificate calls fail, whichever they are
        kinds=["http500", "gateway_exception", "malformed_json", "connection_reset"],
        operations=["registration", "activation", "videoVerification", "sendSpeciment", "checkCertificate"],
        when="after",
    )
    secret = {"ktp_number": make_ktp(5678), "phone": "081277665544", "address": "Jl. Kanari Gagal 9"}
    enrolment = submit(invite("kanari.gagal@example.com"), npwp_number="876543210987654", **secret)
    for _ in range(40):
        drive(enrolment, timeout=60)
        if enrolment.status == S.AWAITING_VIDEO:
            send_video(enrolment)
        elif enrolment.status == S.AWAITING_SPECIMEN:
            send_specimen(enrolment)
        else:
            break
    assert enrolment.status == S.ISSUED, (enrolment.status, enrolment.last_error)
    assert faults.state()["triggered"] == 8
    values = [*secret.values(), "876543210987654", "kanari.gagal@example.com", "Budi Santoso", "Siti Rahmawati"]
    history = " ".join(f"{e.message} {e.params}" for e in enrolment.events.all())
    for value in values:
        assert value not in caplog.text
        assert value not in history
    assert all(v not in enrolment.last_error for v in values)
