"""Pages: the person's journey through Django's test client over the sandbox, staff pages, and
access scoping (R13: someone else's enrolment is a 404, never data)."""

from __future__ import annotations

import base64
import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from certificates.models import Consent, Enrolment, EnrolmentEvent
from sandbox.models import SandboxUser
from tests.certificates.test_services import invite, submit
from tests.factories import SignerFactory, StaffFactory
from tests.fixtures_certificates import make_ktp, sample_photo, sample_specimen, sample_webm

S = Enrolment.Status


def follow_invitation(client) -> None:
    """Open the sign-in link of the last invitation e-mail (GET shows a button, POST signs in)."""
    link = re.search(r"https?://\S+/akun/tautan/\S+/", mail.outbox[-1].body).group(0)
    path = "/" + link.split("/", 3)[3]
    assert client.get(path).status_code == 200
    response = client.post(path)
    assert response.status_code == 302 and response["Location"] == reverse("certificates:my_enrolment")


def registration_post(**overrides):
    data = {
        "full_name": "Siti Rahmawati", "phone": "0812 3456 7890", "ktp_number": make_ktp(42),
        "npwp_number": "", "address": "Jl. Merdeka 1", "city": "Jakarta Pusat", "province": "DKI Jakarta",
        "gender": "F", "place_of_birth": "Bandung", "date_of_birth": "1990-08-15", "consent": "on",
        "ktp_photo": SimpleUploadedFile("ktp.jpg", sample_photo(), content_type="image/jpeg"),
    }  # fmt: skip
    data.update(overrides)
    return data


def test_the_native_journey_through_the_pages(sandbox, client, staff_user):
    client.force_login(staff_user)
    response = client.post(
        reverse("certificates:enrolment_invite"),
        {"email": "siti@example.com", "full_name": "Siti", "license_type": "client", "mode": "native"},
    )
    assert response.status_code == 302
    client.logout()

    follow_invitation(client)
    page = client.get(reverse("certificates:my_enrolment"))
    assert page.status_code == 200 and reverse("certificates:register") in page.content.decode()

    form_page = client.get(reverse("certificates:register"))
    assert "Dukcapil" in form_page.content.decode() or "biometri" in form_page.content.decode()
    response = client.post(reverse("certificates:register"), registration_post())
    assert response.status_code == 302
    enrolment = Enrolment.objects.get(email="siti@example.com")
    assert enrolment.status == S.AWAITING_VIDEO

    response = client.post(
        reverse("certificates:video"),
        {"video": SimpleUploadedFile("v.webm", sample_webm(), content_type="video/webm")},
        headers={"Accept": "application/json"},
    )
    assert response.json() == {"redirect": reverse("certificates:my_enrolment")}
    enrolment.refresh_from_db()
    assert enrolment.status == S.AWAITING_SPECIMEN

    drawn = "data:image/png;base64," + base64.b64encode(sample_specimen()).decode()
    response = client.post(reverse("certificates:specimen"), {"specimen_data": drawn})
    assert response.status_code == 302
    enrolment.refresh_from_db()
    assert enrolment.status == S.ISSUED
    page = client.get(reverse("certificates:my_enrolment")).content.decode()
    assert 'data-enrolment-status="issued"' in page


def test_registration_errors_are_shown_next_to_the_fields_and_nothing_is_sent(sandbox, client):
    enrolment = invite("salah@example.com")
    client.force_login(enrolment.user)
    response = client.post(reverse("certificates:register"), registration_post(ktp_number="12", consent=""))
    assert response.status_code == 200
    form = response.context["form"]
    assert "ktp_number" in form.errors and "consent" in form.errors
    enrolment.refresh_from_db()
    assert enrolment.status == S.INVITED
    assert not Consent.objects.exists() and not SandboxUser.objects.exists()


def test_the_pages_render_in_english_and_indonesian(db, client):
    enrolment = invite("bahasa@example.com")
    client.force_login(enrolment.user)
    client.cookies["django_language"] = "en"
    assert "Fill in the registration" in client.get(reverse("certificates:my_enrolment")).content.decode()
    for name in ("register",):
        assert client.get(reverse(f"certificates:{name}")).status_code == 200


def test_another_signer_cannot_reach_someone_elses_enrolment(db, client):
    enrolment = invite("pemilik@example.com")
    stranger = SignerFactory()
    client.force_login(stranger)
    assert client.get(reverse("certificates:my_enrolment")).status_code == 404
    assert client.get(reverse("certificates:register")).status_code == 404
    assert client.post(reverse("certificates:activation_confirm")).status_code == 404
    for name in ("enrolment_detail", "enrolment_identity", "enrolment_prefill"):
        assert client.get(reverse(f"certificates:{name}", args=[enrolment.pk])).status_code == 404
    response = client.get(reverse("certificates:enrolment_identity_file", args=[enrolment.pk, "ktp_photo"]))
    assert response.status_code == 404
    assert client.post(reverse("certificates:enrolment_retry", args=[enrolment.pk])).status_code == 404
    assert client.get(reverse("certificates:enrolment_list")).status_code == 403
    assert not EnrolmentEvent.objects.filter(kind="identity_read").exists()


def test_anonymous_visitors_are_sent_to_sign_in(db, client):
    for name in ("my_enrolment", "register", "video", "specimen", "activation", "enrolment_list"):
        response = client.get(reverse(f"certificates:{name}"))
        assert response.status_code == 302 and "/akun/masuk/" in response["Location"]


def test_staff_list_shows_state_and_retries_stuck_enrolments(sandbox, client, staff_user, faults):
    from tests.certificates.test_services import send_specimen, send_video

    enrolment = send_video(submit(invite("macet@example.com")))
    faults.set(kinds=["gateway_exception"], operations=["sendSpeciment"], when="before")
    send_specimen(enrolment)
    assert enrolment.status == S.RECONCILING
    faults.clear()
    client.force_login(staff_user)
    page = client.get(reverse("certificates:enrolment_list"), {"status": "stuck"}).content.decode()
    assert "macet@example.com" in page and reverse("certificates:enrolment_retry", args=[enrolment.pk]) in page

    response = client.post(reverse("certificates:enrolment_retry", args=[enrolment.pk]), {"next": "list"})
    assert response.status_code == 302
    enrolment.refresh_from_db()
    assert enrolment.status == S.ISSUED
    actions = EnrolmentEvent.objects.filter(enrolment=enrolment, actor=staff_user)
    assert actions.exists()
    detail = client.get(reverse("certificates:enrolment_detail", args=[enrolment.pk])).content.decode()
    assert "send_specimen" in detail and "check_certificate" in detail and staff_user.email in detail


def test_staff_reads_of_identity_data_are_recorded(sandbox, client, staff_user, monkeypatch):
    from certificates import services

    monkeypatch.setattr(services, "_enqueue_advance", lambda pk: None)  # keep the KTP photo on file
    enrolment = submit(invite("dibaca@example.com"))
    client.force_login(staff_user)
    page = client.get(reverse("certificates:enrolment_identity", args=[enrolment.pk])).content.decode()
    assert enrolment.ktp_number in page
    photo = client.get(reverse("certificates:enrolment_identity_file", args=[enrolment.pk, "ktp_photo"]))
    assert photo.status_code == 200 and photo.content[:2] == b"\xff\xd8"
    assert photo["Cache-Control"].startswith("no-store")
    reads = EnrolmentEvent.objects.filter(enrolment=enrolment, kind="identity_read", actor=staff_user)
    with translation.override("en"):
        assert sorted(r.text for r in reads) == ["KTP photo shown", "identity data shown"]
    # The list and detail pages show no identity numbers.
    assert enrolment.ktp_number not in client.get(reverse("certificates:enrolment_list")).content.decode()
    assert (
        enrolment.ktp_number
        not in client.get(reverse("certificates:enrolment_detail", args=[enrolment.pk])).content.decode()
    )


def test_the_admin_shows_history_but_masks_identity(sandbox, admin_client):
    enrolment = submit(invite("admin@example.com"))
    page = admin_client.get(reverse("admin:certificates_enrolment_change", args=[enrolment.pk])).content.decode()
    assert "register" in page and "activate" in page and enrolment.ktp_number[-4:] in page
    assert enrolment.ktp_number not in page
    assert admin_client.get(reverse("admin:certificates_enrolment_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:certificates_enrolmentevent_changelist")).status_code == 200


def test_staff_can_fill_in_the_data_and_the_person_sees_it(db, client, staff_user):
    enrolment = invite("prefill@example.com")
    client.force_login(staff_user)
    response = client.post(
        reverse("certificates:enrolment_prefill", args=[enrolment.pk]),
        {"full_name": "Dari Staf", "city": "Surabaya", "ktp_number": make_ktp(7)},
    )
    assert response.status_code == 302
    client.force_login(enrolment.user)
    form = client.get(reverse("certificates:register")).context["form"]
    assert form.initial["city"] == "Surabaya" and form.initial["full_name"] == "Dari Staf"


def test_the_activation_page_frames_the_configured_web_view(sandbox, client, settings):
    enrolment = submit(invite("bingkai@example.com", mode="embedded"))
    client.force_login(enrolment.user)
    response = client.get(reverse("certificates:activation"))
    html = response.content.decode()
    assert f'src="{settings.PERURI_WEBVIEW_URL}/index.php?email=bingkai%40example.com&amp;systemId=' in html
    assert f'data-origin="{sandbox}"' in html and 'data-func-activation="generateCertificate"' in html
    assert f"frame-src {sandbox}" in response["Content-Security-Policy"]
    assert "<script>" not in html and "style=" not in html


def test_the_callback_endpoint_only_triggers_a_check(sandbox, client):
    enrolment = submit(invite("panggil@example.com", mode="embedded"))
    client.force_login(enrolment.user)
    # A forged "success" changes nothing: Peruri has no certificate for this person.
    response = client.post(
        reverse("certificates:activation_confirm"),
        {"kind": "activation", "func": "generateCertificate", "resultCode": "0", "resultDesc": "ok"},
    )
    assert response.status_code == 200 and response.json()["retry"]
    enrolment.refresh_from_db()
    assert enrolment.status == S.AWAITING_WEBVIEW


def test_the_callback_needs_csrf(sandbox):
    from django.test import Client

    enrolment = submit(invite("csrf@example.com", mode="embedded"))
    client = Client(enforce_csrf_checks=True)
    client.force_login(enrolment.user)
    assert client.post(reverse("certificates:activation_confirm")).status_code == 403


@pytest.mark.django_db
def test_invite_page_validates(client, staff_user):
    client.force_login(staff_user)
    response = client.post(
        reverse("certificates:enrolment_invite"),
        {"email": "x@example.com", "full_name": "X", "license_type": "user", "mode": "native"},
    )
    assert response.status_code == 200 and "org_unit" in response.context["form"].errors
    assert not Enrolment.objects.exists()


def test_signer_without_enrolment_sees_a_helpful_page(db, client):
    client.force_login(SignerFactory())
    response = client.get(reverse("certificates:my_enrolment"))
    assert response.status_code == 404
    assert "certificates/my_enrolment_none.html" in [t.name for t in response.templates]


def test_staff_user_can_enrol_themselves(db, client):
    staff = StaffFactory(email="staf.sendiri@example.com")
    enrolment = invite(staff.email, license_type="user")
    assert enrolment.user == staff
