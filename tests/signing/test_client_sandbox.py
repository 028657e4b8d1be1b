"""The real client (through signing.gateway) against the sandbox over HTTP: every operation of the
document, end to end, as Paraf will run it against Peruri."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.conf import settings
from django.utils import timezone

from peruri import PeruriAuthError, PeruriClient, PeruriPending, PeruriRejected, PeruriTransient, Signer
from signing.gateway import build_peruri_client, get_peruri_client
from signing.models import PeruriCall
from tests.sandbox.helpers import MP4, WEBM, Api, jpeg, new_ktp, pdf, png

BOX = Signer(page=1, lower_left_x=454, lower_left_y=45, upper_right_x=529, upper_right_y=116, location="JAKARTA")


@pytest.fixture
def peruri(sandbox: str) -> PeruriClient:
    return get_peruri_client()


@pytest.fixture
def outbox(sandbox: str) -> Iterator[Api]:
    api = Api(sandbox)
    yield api
    api.http.close()


def enrol(client: PeruriClient, email: str, name: str = "Fitri Febriana") -> str:
    client.register(
        name=name,
        phone="082326068898",
        email=email,
        ktp=new_ktp(),
        ktp_photo=jpeg(),
        npwp="123456789012345",
        npwp_photo=io.BytesIO(jpeg()),
        address="Jl. Palatehan No. 4",
        city="Jakarta Selatan",
        province="DKI Jakarta",
        gender="F",
        place_of_birth="Bandung",
        date_of_birth="22/02/1990",
    )
    client.activate(email=email)
    client.verify_video(email=email, video=io.BytesIO(WEBM))
    client.send_specimen(email=email, image=png())
    assert client.check_certificate(email=email).valid
    return email


def otp_for(client: PeruriClient, outbox: Api, order_id: str, email: str) -> tuple[str, str]:
    challenge = client.get_otp(order_id=order_id)
    return challenge.token, outbox.latest_otp(email)


def test_enrolment_then_single_document_signing_end_to_end(peruri: PeruriClient, outbox: Api) -> None:
    email = enrol(peruri, "patriadevelopment@yopmail.com")
    original = pdf(2)
    order_id = peruri.send_document(email=email, file_name="sample-dok.pdf", pdf=original, signers=[BOX]).order_id
    viewed = peruri.view_document(order_id=order_id)
    assert viewed.pdf == original and viewed.coordinates_set
    assert peruri.check_document_status(order_id=order_id).status == "WAITING_SIGNATURE"

    token, _ = otp_for(peruri, outbox, order_id, email)
    with pytest.raises(PeruriRejected) as info:
        peruri.sign(order_id=order_id, otp_code="000000", token=token)
    assert info.value.code == "01"

    token, code = otp_for(peruri, outbox, order_id, email)
    peruri.sign(order_id=order_id, otp_code=code, token=token)
    status = peruri.check_document_status(order_id=order_id)
    assert status.status == "SIGNED" and status.is_final
    signed = peruri.download_document(order_id=order_id)
    assert signed.startswith(b"%PDF-") and signed[: len(original)] == original  # an incremental update

    operations = set(PeruriCall.objects.values_list("operation", flat=True))
    assert {"get_jwt", "register", "verify_video", "send_document", "sign", "download_document"} <= operations
    assert PeruriCall.objects.filter(operation="get_jwt").count() == 1


def test_video_in_a_wrong_format_is_rejected_with_1045(peruri: PeruriClient) -> None:
    email = "video@example.com"
    peruri.register(
        name="Video",
        phone="081234567890",
        email=email,
        ktp=new_ktp(),
        ktp_photo=jpeg(),
        address="Jl. A",
        city="Bogor",
        province="Jawa Barat",
        gender="M",
        place_of_birth="Bogor",
        date_of_birth="01/01/1990",
    )
    peruri.activate(email=email)
    with pytest.raises(PeruriRejected) as info:
        peruri.verify_video(email=email, video=b"not a video at all")
    assert info.value.code == "1045"
    peruri.verify_video(email=email, video=MP4)


def test_tier_signing_passes_the_document_to_the_next_signer(peruri: PeruriClient, outbox: Api) -> None:
    first = enrol(peruri, "ekamui04@yopmail.com", "Eka")
    second = enrol(peruri, "ekamui1@yopmail.com", "Kamui")
    order_id = peruri.send_document_tier(
        uploader=first, file_name="1.pdf", pdf=pdf(1), signer_emails=[first, second]
    ).order_id
    token, code = otp_for(peruri, outbox, order_id, first)
    result = peruri.sign_tier(order_id=order_id, otp_code=code, token=token, signer=BOX)
    assert result.next_order_id
    lower = Signer(1, 300, 45, 400, 116, certification_level="NO_CHANGES_ALLOWED")
    token, code = otp_for(peruri, outbox, result.next_order_id, second)
    last = peruri.sign_tier(order_id=result.next_order_id, otp_code=code, token=token, signer=lower)
    assert last.next_order_id is None
    assert peruri.download_document(order_id=result.next_order_id).startswith(b"%PDF-")


def test_bulk_signing_with_one_otp(peruri: PeruriClient, outbox: Api) -> None:
    email = enrol(peruri, "bulk@example.com")
    sent = peruri.send_document_bulk(email=email, files=[("demo1.pdf", pdf(1)), ("demo2.pdf", io.BytesIO(pdf(3)))])
    assert len(sent.order_ids) == 2
    for order_id in sent.order_ids:
        peruri.set_signature(order_id=order_id, signer=BOX)
    challenge = peruri.get_otp_bulk(order_ids=list(sent.order_ids))
    signed = peruri.sign_bulk(
        order_id_bulk=challenge.order_id_bulk, otp_code=outbox.latest_otp(email), token=challenge.token
    )
    assert {d.order_id for d in signed.documents} == set(sent.order_ids)
    for order_id in sent.order_ids:
        assert peruri.check_document_status(order_id=order_id).status == "SIGNED"


def test_signing_system_with_an_hmac_session(peruri: PeruriClient) -> None:
    email = enrol(peruri, "system@example.com")
    key = "k" * 40
    assert peruri.set_key(key=key, minutes=30).expires_at is not None
    ids = [
        peruri.send_document(email=email, file_name=f"{n}.pdf", pdf=pdf(1), signers=[BOX], order_type="SYSTEM").order_id
        for n in range(3)
    ]
    peruri.sign_system(order_ids=ids, key=key)
    assert all(peruri.check_document_status(order_id=i).status == "SIGNED" for i in ids)
    with pytest.raises(PeruriRejected):
        peruri.sign_system(order_ids=ids[:1], key="wrong-key")


def test_a_wrong_api_key_is_an_auth_error_after_one_refresh(sandbox: str, settings: Any) -> None:
    settings.PERURI_API_KEY = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(PeruriAuthError):
        build_peruri_client().check_certificate(email="nobody@example.com")


# --- what the client tells its callers when Peruri is not well --------------------------------------


def inject_fault(sandbox: str, **fault: Any) -> None:
    response = requests.post(
        f"{sandbox}/sandbox/faults", json=fault, headers={"x-Gateway-APIKey": settings.SANDBOX_API_KEY}, timeout=10
    )
    assert response.status_code == 200, response.text


def test_e_kyc_still_verifying_is_pending_not_a_failure(peruri: PeruriClient) -> None:
    email = "rina+kycpending@yopmail.com"
    peruri.register(
        name="Rina",
        phone="081234567890",
        email=email,
        ktp=new_ktp(),
        ktp_photo=jpeg(),
        address="Jl. A",
        city="Bogor",
        province="Jawa Barat",
        gender="F",
        place_of_birth="Bogor",
        date_of_birth="01/01/1990",
    )
    peruri.activate(email=email)
    for _ in range(2):
        with pytest.raises(PeruriPending) as info:
            peruri.verify_video(email=email, video=WEBM)
        assert info.value.pending and info.value.code == "1040" and not info.value.retryable
    peruri.verify_video(email=email, video=WEBM)
    assert list(
        PeruriCall.objects.filter(operation="verify_video").order_by("id").values_list("outcome", flat=True)
    ) == [
        "pending",
        "pending",
        "ok",
    ]


def test_a_busy_signing_worker_is_transient_and_signing_again_works(peruri: PeruriClient, outbox: Api) -> None:
    email = enrol(peruri, "budi+signbusy@yopmail.com")
    order_id = peruri.send_document(email=email, file_name="a.pdf", pdf=pdf(1), signers=[BOX]).order_id
    token, code = otp_for(peruri, outbox, order_id, email)
    with pytest.raises(PeruriTransient) as info:
        peruri.sign(order_id=order_id, otp_code=code, token=token)
    assert info.value.code == "4003" and info.value.retryable and not info.value.outcome_unknown
    peruri.sign(order_id=order_id, otp_code=code, token=token)
    assert peruri.check_document_status(order_id=order_id).status == "SIGNED"


def test_a_send_whose_reply_is_lost_is_not_resent_and_is_reconciled_by_reads(
    sandbox: str, peruri: PeruriClient, outbox: Api
) -> None:
    email = enrol(peruri, "patriadevelopment@yopmail.com")
    inject_fault(sandbox, kinds=["connection_reset"], when="after", operations=["sendDocument"], count=1)
    with pytest.raises(PeruriTransient) as info:
        peruri.send_document(email=email, file_name="a.pdf", pdf=pdf(1), signers=[BOX])
    assert info.value.outcome_unknown and not info.value.retryable and "reconcile" in str(info.value)
    assert list(PeruriCall.objects.filter(operation="send_document").values_list("outcome", flat=True)) == ["unknown"]
    # Peruri did create the order (its e-mail to the signer carries the id): one order, not two.
    requests_to_sign = [m for m in outbox.outbox(email) if m["kind"] == "SIGN_REQUEST"]
    assert len(requests_to_sign) == 1
    assert peruri.check_document_status(order_id=requests_to_sign[0]["orderId"]).status == "WAITING_SIGNATURE"


def test_a_read_that_times_out_is_retried_within_the_timeout_from_settings(
    sandbox: str, settings: Any, outbox: Api
) -> None:
    settings.PERURI_TIMEOUTS = {"checkDocumentStatus": 0.5}
    client = get_peruri_client()
    email = enrol(client, "patriadevelopment@yopmail.com")
    order_id = client.send_document(email=email, file_name="a.pdf", pdf=pdf(1), signers=[BOX]).order_id
    hang = 1.5
    inject_fault(sandbox, kinds=["read_timeout"], hang_seconds=hang, operations=["checkDocumentStatus"], count=1)
    started = time.monotonic()
    assert client.check_document_status(order_id=order_id).status == "WAITING_SIGNATURE"
    assert time.monotonic() - started < hang  # the client gave up after 0.5 s, then asked again
    rows = PeruriCall.objects.filter(operation="check_document_status").order_by("id")
    assert [(r.outcome, r.attempt) for r in rows] == [("transient", 1), ("ok", 2)]
    time.sleep(hang)  # let the sandbox's hung request finish before the database is flushed


def test_a_jwt_the_gateway_refuses_is_refreshed_once_and_the_call_sent_again(peruri: PeruriClient) -> None:
    peruri.token_store.set("forged.jwt.value", timezone.now() + timedelta(hours=12))
    with pytest.raises(PeruriRejected):  # it reached the operation: no certificate for this address
        peruri.check_certificate(email="nobody@example.com")
    rows = list(PeruriCall.objects.order_by("id").values_list("operation", "outcome", "http_status"))
    assert rows == [
        ("check_certificate", "auth", 401),
        ("get_jwt", "ok", 200),
        ("check_certificate", "rejected", 200),
    ]
    stored = peruri.token_store.get()
    assert stored is not None and stored.token != "forged.jwt.value"
