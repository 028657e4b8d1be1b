"""Enrolment services over the sandbox via HTTP: the journey, scenario addresses, result codes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from certificates import services
from certificates.consent import consent_text
from certificates.identity import clean_photo
from certificates.models import Consent, Enrolment, EnrolmentEvent
from certificates.selectors import user_has_certificate
from sandbox.models import SandboxUser
from tests.certificates.conftest import drive
from tests.factories import StaffFactory
from tests.fixtures_certificates import (
    enrol_through_sandbox,
    make_ktp,
    registration_data,
    sample_photo,
    sample_specimen,
    sample_webm,
)

S = Enrolment.Status


def invite(email: str, *, mode: str = "native", license_type: str = "client", **kw: Any) -> Enrolment:
    staff = StaffFactory()
    if license_type == "user":
        kw = {"org_unit": "Divisi Hukum", "work_unit": "Kontrak", "position": "Manajer", **kw}
    return services.enrolment_invite(
        email=email, full_name="Budi Santoso", license_type=license_type, invited_by=staff, mode=mode, **kw
    )


def submit(enrolment: Enrolment, **data: Any) -> Enrolment:
    photos = {"ktp_photo": clean_photo(sample_photo())}
    if data.get("npwp_number"):
        photos["npwp_photo"] = clean_photo(sample_photo(size=(500, 300)))
    services.enrolment_registration_submit(
        enrolment=enrolment,
        actor=enrolment.user,
        data=registration_data(**data),
        photos=photos,
        consent_text=consent_text(retention_days=14),
        language="id",
    )
    enrolment.refresh_from_db()
    return enrolment


def send_video(enrolment: Enrolment) -> Enrolment:
    services.enrolment_video_submit(enrolment=enrolment, actor=enrolment.user, video=sample_webm())
    enrolment.refresh_from_db()
    return enrolment


def send_specimen(enrolment: Enrolment) -> Enrolment:
    image = clean_photo(sample_specimen(), keep_alpha=True)
    services.enrolment_specimen_submit(enrolment=enrolment, actor=enrolment.user, image=image)
    enrolment.refresh_from_db()
    return enrolment


def test_the_native_journey_ends_with_an_issued_certificate(sandbox):
    enrolment = invite("siti@example.com")
    assert enrolment.status == S.INVITED
    assert len(mail.outbox) == 1 and "/akun/tautan/" in mail.outbox[0].body

    submit(enrolment)
    # Registration and Activation ran in the (eager) worker after commit.
    assert enrolment.status == S.AWAITING_VIDEO
    assert enrolment.registered_at and enrolment.activated_at
    # The KTP photo went to Peruri: Paraf no longer keeps it.
    assert not enrolment.ktp_photo
    assert Consent.objects.filter(enrolment=enrolment, user=enrolment.user).count() == 1

    send_video(enrolment)
    assert enrolment.status == S.AWAITING_SPECIMEN and not enrolment.video

    send_specimen(enrolment)
    drive(enrolment)
    assert enrolment.status == S.ISSUED
    assert enrolment.issued_at and not enrolment.has_identity_files
    assert enrolment.files_purged_at is not None
    assert user_has_certificate(user=enrolment.user)
    peruri = SandboxUser.objects.get(email="siti@example.com")
    assert peruri.status == SandboxUser.Status.CERTIFIED
    ops = list(enrolment.events.filter(kind="call").values_list("operation", "outcome"))
    assert ops[:4] == [("register", "ok"), ("activate", "ok"), ("verify_video", "ok"), ("send_specimen", "ok")]
    assert ("check_certificate", "ok") in ops


def test_consent_is_recorded_before_any_identity_data_leaves(sandbox):
    enrolment = submit(invite("consent@example.com"))
    consent = Consent.objects.get(enrolment=enrolment)
    first_call = enrolment.events.filter(kind="call").order_by("created_at", "pk").first()
    assert consent.given_at <= first_call.created_at
    assert consent.version and len(consent.text_sha256) == 64


def test_staff_users_are_registered_with_their_units(sandbox):
    enrolment = submit(invite("staf.hukum@example.com", license_type="user"))
    assert enrolment.status == S.AWAITING_VIDEO
    peruri = SandboxUser.objects.get(email="staf.hukum@example.com")
    assert (peruri.org_unit, peruri.work_unit, peruri.position) == ("Divisi Hukum", "Kontrak", "Manajer")


def test_client_users_are_registered_without_units(sandbox):
    submit(invite("pelanggan@example.com"))
    peruri = SandboxUser.objects.get(email="pelanggan@example.com")
    assert (peruri.org_unit, peruri.work_unit, peruri.position) == ("", "", "")


def test_kyc_rejection_lets_the_person_record_again(sandbox):
    enrolment = send_video(submit(invite("ani+kycreject@example.com")))
    assert enrolment.status == S.KYC_REJECTED
    assert enrolment.last_result_code == "1006"
    assert not enrolment.video  # the rejected video is not kept
    # The person may try again; the sandbox keeps rejecting this address.
    send_video(enrolment)
    assert enrolment.status == S.KYC_REJECTED


def test_a_pending_video_keeps_polling_until_verified(sandbox):
    enrolment = send_video(submit(invite("rudi+kycpending@example.com")))
    assert enrolment.status == S.VIDEO_PENDING
    assert enrolment.last_result_code == "1040" and enrolment.video_pending
    assert enrolment.next_poll_at > timezone.now()
    drive(enrolment)
    assert enrolment.status == S.AWAITING_SPECIMEN
    assert not enrolment.video
    send_specimen(enrolment)
    drive(enrolment)
    assert enrolment.status == S.ISSUED


def test_no_certificate_keeps_polling_then_expires(sandbox):
    enrolment = send_specimen(send_video(submit(invite("dewi+nocert@example.com"))))
    assert enrolment.status == S.AWAITING_CERTIFICATE
    services.enrolment_advance(enrolment_id=enrolment.pk)
    enrolment.refresh_from_db()
    assert enrolment.status == S.AWAITING_CERTIFICATE
    assert enrolment.poll_attempts >= 2 and enrolment.last_result_code == "4001"
    assert enrolment.next_poll_at > timezone.now()
    Enrolment.objects.filter(pk=enrolment.pk).update(deadline_at=timezone.now() - timedelta(seconds=1))
    services.enrolment_advance(enrolment_id=enrolment.pk)
    enrolment.refresh_from_db()
    assert enrolment.status == S.EXPIRED and enrolment.next_poll_at is None


def test_backoff_grows_between_checks(sandbox, settings):
    settings.CERTIFICATES_POLL_BASE_SECONDS = 10
    enrolment = send_specimen(send_video(submit(invite("lambat+nocert@example.com"))))
    delays = []
    for _ in range(3):
        before = timezone.now()
        services.enrolment_advance(enrolment_id=enrolment.pk)
        enrolment.refresh_from_db()
        delays.append((enrolment.next_poll_at - before).total_seconds())
    assert delays[0] < delays[1] < delays[2]


def test_an_already_registered_email_can_be_linked(sandbox):
    # Someone registered this address at Peruri before (e.g. through another partner).
    first = enrol_through_sandbox(email="lama@example.com")
    Enrolment.objects.filter(pk=first.pk).delete()
    enrolment = submit(invite("lama@example.com"), ktp_number="3171011508900777")
    assert enrolment.status == S.ALREADY_REGISTERED
    assert enrolment.last_result_code == "1002"
    services.enrolment_link_existing(enrolment=enrolment, actor=enrolment.user)
    enrolment.refresh_from_db()
    # The existing account already has a certificate: found by Check Certificate.
    assert enrolment.status == S.ISSUED


def test_linking_an_account_without_certificate_continues_with_activation(sandbox):
    # Registered at Peruri earlier, never finished: no certificate.
    earlier = submit(invite("setengah@example.com"))
    Enrolment.objects.filter(pk=earlier.pk).delete()
    enrolment = submit(invite("setengah@example.com"), ktp_number="3171011508900555")
    assert enrolment.status == S.ALREADY_REGISTERED
    services.enrolment_link_existing(enrolment=enrolment, actor=enrolment.user)
    enrolment.refresh_from_db()
    assert enrolment.status == S.AWAITING_VIDEO
    assert enrolment.registered_at and enrolment.activated_at
    assert SandboxUser.objects.filter(email="setengah@example.com").count() == 1


def test_the_same_ktp_under_another_address_is_already_registered(sandbox):
    enrolment = submit(invite("dua@example.com"))
    other = submit(invite("tiga@example.com"), ktp_number=enrolment.ktp_number)
    assert other.status == S.ALREADY_REGISTERED and other.last_result_code == "1003"


def test_an_invalid_nik_reopens_the_form(sandbox, monkeypatch):
    from peruri import PeruriRejected

    enrolment = invite("nik@example.com")

    def reject(**kwargs):
        raise PeruriRejected("1004", code="1004", description="NIK tidak valid")

    from signing import gateway

    monkeypatch.setattr(gateway.get_peruri_client(), "register", reject)
    submit(enrolment)
    assert enrolment.status == S.INVITED
    assert enrolment.last_result_code == "1004"


def test_the_embedded_mode_registers_then_waits_for_the_web_view(sandbox):
    from sandbox import services as sandbox_services

    enrolment = submit(invite("embed@example.com", mode="embedded"))
    assert enrolment.status == S.AWAITING_WEBVIEW
    assert enrolment.activated_at is None  # activation happens in Peruri's web view
    # The person goes through the web view (activation, video, specimen at Peruri).
    user = SandboxUser.objects.get(email="embed@example.com")
    sandbox_services.user_activate(user=user)
    sandbox_services.user_verify_video(user=user, video=sample_webm())
    sandbox_services.user_set_specimen(user=user, image=sample_specimen())
    # Its callback is only a hint: the server checks Peruri.
    assert services.enrolment_check_now(enrolment=enrolment, actor=enrolment.user)
    enrolment.refresh_from_db()
    assert enrolment.status == S.ISSUED


def test_check_now_is_rate_limited(sandbox, settings):
    settings.CERTIFICATES_CHECK_NOW_PER_MINUTE = 2
    enrolment = submit(invite("sabar@example.com", mode="embedded"))
    results = [services.enrolment_check_now(enrolment=enrolment, actor=enrolment.user) for _ in range(4)]
    assert results == [True, True, False, False]
    assert enrolment.events.filter(kind="call", operation="check_certificate").count() == 2


def test_a_second_invitation_for_an_issued_person_is_refused(sandbox):
    enrolment = enrol_through_sandbox(email="selesai@example.com")
    with pytest.raises(services.EnrolmentError):
        invite(enrolment.email)


def test_the_invitation_email_is_sent_once_even_if_the_task_runs_twice(db, django_capture_on_commit_callbacks):
    from certificates.tasks import enrolment_invitation_send

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        enrolment = invite("sekali@example.com")
    assert len(callbacks) == 1  # enqueued after commit, with the id only
    assert len(mail.outbox) == 1
    assert "sekali@example.com" in mail.outbox[0].to
    enrolment_invitation_send(enrolment.pk)
    enrolment_invitation_send(enrolment.pk)
    assert len(mail.outbox) == 1
    # Asking again sends one more.
    with django_capture_on_commit_callbacks(execute=True):
        invite("sekali@example.com")
    assert len(mail.outbox) == 2


def test_only_the_person_can_consent(sandbox):
    enrolment = invite("sendiri@example.com")
    staff = StaffFactory()
    with pytest.raises(services.EnrolmentError):
        services.enrolment_registration_submit(
            enrolment=enrolment, actor=staff, data=registration_data(),
            photos={"ktp_photo": clean_photo(sample_photo())}, consent_text="x", language="id",
        )  # fmt: skip
    assert not Consent.objects.exists()
    assert not EnrolmentEvent.objects.filter(kind="call").exists()


def test_staff_prefill_sends_nothing(sandbox):
    enrolment = invite("diisi@example.com")
    services.enrolment_prefill(
        enrolment=enrolment, actor=StaffFactory(), data={"full_name": "Diisi Staf", "city": "Bogor"},
        photos={"ktp_photo": clean_photo(sample_photo())},
    )  # fmt: skip
    enrolment.refresh_from_db()
    assert enrolment.status == S.INVITED and enrolment.city == "Bogor" and enrolment.ktp_photo
    assert not EnrolmentEvent.objects.filter(kind="call").exists()
    assert not SandboxUser.objects.filter(email="diisi@example.com").exists()


def test_identity_data_never_reaches_the_logs(sandbox, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    enrolment = invite("kanari@example.com")
    secret = {"ktp_number": make_ktp(4321), "phone": "081299887766", "address": "Jl. Rahasia 77"}
    submit(enrolment, npwp_number="987654321098765", **secret)
    send_specimen(send_video(enrolment))
    drive(enrolment)
    assert enrolment.status == S.ISSUED
    text = caplog.text
    for value in [*secret.values(), "987654321098765", "kanari@example.com", "Budi Santoso"]:
        assert value not in text


def test_linking_after_1003_does_not_treat_an_unknown_address_as_registered(sandbox, client):
    """1003: Peruri knows the KTP number, here under another e-mail address. Check Certificate by
    this address finds nothing, so there is nothing to activate: the person and staff are told,
    instead of Paraf pretending the address is registered and failing at Activation."""
    first = submit(invite("nik.lama@example.com"))
    other = submit(invite("nik.baru@example.com"), ktp_number=first.ktp_number)
    assert other.status == S.ALREADY_REGISTERED and other.last_result_code == "1003"
    services.enrolment_link_existing(enrolment=other, actor=other.user)
    other.refresh_from_db()
    assert other.status == S.FAILED
    assert other.registered_at is None
    assert not other.events.filter(kind="call", operation="activate").exists()
    assert other.last_result_code == "1003" and other.last_error
    assert not SandboxUser.objects.filter(email="nik.baru@example.com").exists()
    # The person's page says why, not only that something went wrong.
    client.force_login(other.user)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("certificates:my_enrolment")).content.decode()
    assert "possibly under another e-mail address" in page


def test_linking_after_1003_finds_a_certificate_under_this_address(sandbox):
    # Peruri answered 1003 although this very address holds a certificate (NIK checked first).
    enrolment = enrol_through_sandbox(email="nik.sama@example.com")
    Enrolment.objects.filter(pk=enrolment.pk).delete()
    again = submit(invite("nik.sama@example.com"), ktp_number="3171011508900888")
    assert again.status == S.ALREADY_REGISTERED
    Enrolment.objects.filter(pk=again.pk).update(last_result_code="1003")
    again.refresh_from_db()
    services.enrolment_link_existing(enrolment=again, actor=again.user)
    again.refresh_from_db()
    assert again.status == S.ISSUED


def test_an_invitation_that_cannot_be_mailed_is_shown_to_staff_and_can_be_sent_again(
    db, monkeypatch, django_capture_on_commit_callbacks
):
    """The mail server refuses: staff see it on the enrolment (last_error, history) instead of
    an invitation that silently never arrived, and "send again" sends it."""
    import smtplib

    from django.core.mail import EmailMultiAlternatives

    def refuse(self, fail_silently=False):
        raise smtplib.SMTPRecipientsRefused({"putus@example.com": (550, b"no")})

    monkeypatch.setattr(EmailMultiAlternatives, "send", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        enrolment = invite("putus@example.com")
    enrolment.refresh_from_db()
    assert enrolment.last_error and len(mail.outbox) == 0
    assert enrolment.events.filter(operation="invitation_email", outcome="error").exists()
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        invite("putus@example.com")
    enrolment.refresh_from_db()
    assert len(mail.outbox) == 1 and enrolment.last_error == ""
