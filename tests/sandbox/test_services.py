"""The services contract the web views code against: same rules as the gateway, no HTTP."""

from __future__ import annotations

import pytest
from django.conf import settings

from sandbox import errors, selectors, services
from sandbox.errors import Rejected
from sandbox.signing import SignerBox
from tests.sandbox.helpers import WEBM, b64, pdf, png, registration

pytestmark = pytest.mark.django_db


def _certified(email: str) -> object:
    user = services.user_register(params=registration(email))
    user = services.user_activate(user=user)
    user = services.user_verify_video(user=user, video=WEBM)
    user = services.user_set_specimen(user=user, image=png())
    assert selectors.user_certificate_ready(user=user)
    return user


def test_the_web_view_path_signs_with_a_placed_box() -> None:
    _certified("wv@yopmail.com")
    order = services.document_send(
        params={
            "email": "wv@yopmail.com",
            "payload": {"fileName": "a.pdf", "base64Document": b64(pdf(2))},
            "systemId": settings.SANDBOX_SYSTEM_ID,
        }
    )
    assert not order.has_coordinates
    assert [p.number for p in selectors.order_pages(order=order)] == [1, 2]
    otp = services.otp_issue(order=order)
    box = SignerBox(lower_left_x=100, lower_left_y=100, upper_right_x=250, upper_right_y=170, page=2)
    with pytest.raises(Rejected) as wrong:
        services.order_sign(
            order=order, otp="000000" if otp.code != "000000" else "111111", token=otp.token, signer_box=box
        )
    assert wrong.value.code == errors.INVALID_OTP
    signed = services.order_sign(order=order, otp=otp.code, token=otp.token, signer_box=box)
    assert selectors.order_status(order=signed) == "SIGNED"
    assert signed.next_signer_order is None
    assert selectors.order_pdf(order=signed) != bytes(signed.document.original)


def test_a_box_off_the_page_is_4012_before_the_otp_is_spent() -> None:
    _certified("wv@yopmail.com")
    order = services.document_send(
        params={
            "email": "wv@yopmail.com",
            "payload": {"fileName": "a.pdf", "base64Document": b64(pdf(1))},
            "systemId": settings.SANDBOX_SYSTEM_ID,
        }
    )
    otp = services.otp_issue(order=order)
    off = SignerBox(lower_left_x=500, lower_left_y=800, upper_right_x=700, upper_right_y=900)
    with pytest.raises(Rejected) as refused:
        services.order_sign(order=order, otp=otp.code, token=otp.token, signer_box=off)
    assert refused.value.code == errors.SIGNING_FAILED
    with pytest.raises(Rejected) as missing:
        services.order_sign(order=order, otp=otp.code, token=otp.token)
    assert missing.value.code == errors.NO_COORDINATES
    services.order_sign(order=order, otp=otp.code, token=otp.token, signer_box=SignerBox(100, 100, 200, 150))


def test_refusals_carry_the_gateways_codes() -> None:
    with pytest.raises(Rejected) as unknown:
        selectors.user_get(email="nobody@yopmail.com")
    assert unknown.value.code == "1008"
    with pytest.raises(Rejected) as bad_system:
        selectors.system_id_check(system_id="PERURI")
    assert bad_system.value.code == "1001"
    with pytest.raises(Rejected) as no_order:
        selectors.order_get(order_id="abc")
    assert no_order.value.code == "4009"
    user = services.user_register(params=registration("rina+kycreject@yopmail.com"))
    with pytest.raises(Rejected) as early:
        services.user_verify_video(user=user, video=WEBM)
    assert early.value.code == "1008"
    user = services.user_activate(user=user)
    with pytest.raises(Rejected) as not_video:
        services.user_verify_video(user=user, video=b"x" * 100)
    assert not_video.value.code == "1045"
    with pytest.raises(Rejected) as rejected:
        services.user_verify_video(user=user, video=WEBM)
    assert rejected.value.code == "1006"


def test_signer_box_parse_reads_peruri_strings() -> None:
    box = services.signer_box_parse(
        raw={"lowerLeftX": "454", "lowerLeftY": "45", "upperRightX": "529", "upperRightY": "116", "page": "2"}
    )
    assert box == SignerBox(454, 45, 529, 116, page=2)
    with pytest.raises(Rejected) as decimal:
        services.signer_box_parse(
            raw={"lowerLeftX": "87.5", "lowerLeftY": "45", "upperRightX": "529", "upperRightY": "116"}
        )
    assert decimal.value.code == "4012"


def _order_ready_to_sign(email: str) -> tuple[object, object]:
    _certified(email)
    order = services.document_send(
        params={
            "email": email,
            "payload": {"fileName": "a.pdf", "base64Document": b64(pdf(1))},
            "systemId": settings.SANDBOX_SYSTEM_ID,
        }
    )
    return order, services.otp_issue(order=order)


@pytest.mark.django_db(transaction=True)
def test_the_signature_is_computed_outside_any_database_transaction(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyHanko takes a while: an open transaction meanwhile would stall every writer of a SQLite file."""
    from django.db import connection

    seen: list[bool] = []
    real = services.sign_pdf

    def spy(**kwargs: object) -> bytes:
        seen.append(connection.in_atomic_block)
        return real(**kwargs)

    monkeypatch.setattr(services, "sign_pdf", spy)
    order, otp = _order_ready_to_sign("wv@yopmail.com")
    signed = services.order_sign(order=order, otp=otp.code, token=otp.token, signer_box=SignerBox(100, 100, 200, 150))
    assert seen == [False]
    assert selectors.order_status(order=signed) == "SIGNED"


@pytest.mark.django_db(transaction=True)
def test_a_signature_made_over_bytes_that_changed_meanwhile_is_not_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox.models import Document

    real = services.sign_pdf

    def racing(**kwargs: object) -> bytes:
        out = real(**kwargs)
        # Another signature is recorded on the same document while this one was being computed.
        Document.objects.update(signature_count=1, content=b"%PDF-1.7 signed by someone else")
        return out

    monkeypatch.setattr(services, "sign_pdf", racing)
    order, otp = _order_ready_to_sign("wv@yopmail.com")
    with pytest.raises(Rejected) as lost:
        services.order_sign(order=order, otp=otp.code, token=otp.token, signer_box=SignerBox(100, 100, 200, 150))
    assert lost.value.code == errors.ALREADY_SIGNED
    order.refresh_from_db()
    assert order.status == "WAITING_SIGNATURE"
    assert bytes(Document.objects.get().content) == b"%PDF-1.7 signed by someone else"
