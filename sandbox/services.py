"""Every state change of the sandbox. Keyword-only; refusals raise `Rejected` with Peruri's code.

The gateway views (sandbox/gateway.py) and the web views call these; the gateway turns a
`Rejected` into `{"resultCode": code, "resultDesc": desc}`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import logging
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from sandbox import ca, errors, selectors, validation
from sandbox.errors import Rejected
from sandbox.models import Bulk, Document, Message, Order, Otp, SandboxUser, SigningKey
from sandbox.signing import SignerBox, sign_pdf, signer_box_check, signer_box_parse
from sandbox.validation import PageBox

__all__ = [
    "SignerBox",
    "bulk_otp_issue",
    "bulk_sign",
    "certificate_issue_if_due",
    "document_send",
    "document_send_bulk",
    "document_send_tier",
    "order_set_signer",
    "order_sign",
    "otp_issue",
    "signer_box_parse",
    "signing_key_set",
    "system_sign",
    "user_activate",
    "user_check_certificate",
    "user_register",
    "user_set_specimen",
    "user_verify_video",
]

logger = logging.getLogger(__name__)

OTP_MAX_TRIES = 3
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_DIGITS = re.compile(r"^[0-9]+$")


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def otp_ttl() -> dt.timedelta:
    return dt.timedelta(seconds=_setting("SANDBOX_OTP_TTL", 300))  # "5 minutes"


def order_ttl() -> dt.timedelta:
    return dt.timedelta(seconds=_setting("SANDBOX_ORDER_TTL", 7 * 24 * 3600))  # [assumed]


def _public_url(path: str, **query: str) -> str:
    base = str(settings.SANDBOX_PUBLIC_URL).rstrip("/")
    return f"{base}{path}" + (f"?{urlencode(query)}" if query else "")


def _message(
    *,
    kind: str,
    to: str,
    subject: str,
    body: str,
    otp: str = "",
    phone: str = "",
    link: str = "",
    order_id: int | None = None,
) -> Message:
    return Message.objects.create(
        kind=kind, to=to.lower(), subject=subject, body=body, otp=otp, phone=phone, link=link, order_id=order_id
    )


# --------------------------------------------------------------------------------------------- users


def user_register(*, params: Mapping[str, Any]) -> SandboxUser:
    """Registration. Raises Rejected 1001/1002/1003/1004/1005/1007/1008 (field table of the doc)."""
    t = validation.text
    system_id = t(params, "systemId", max_len=255)
    selectors.system_id_check(system_id=system_id)
    name = t(params, "name", max_len=100)
    phone = t(params, "phone", max_len=50).strip()
    if not validation.PHONE.match(phone):
        raise Rejected(errors.INVALID_DATA, "Parameter phone bukan nomor HP yang valid")
    email = validation.email(params)
    t(params, "password", required=False, max_len=255)
    if t(params, "type", max_len=50) != "INDIVIDUAL":
        raise Rejected(errors.INVALID_DATA, 'Parameter type harus "INDIVIDUAL"')
    ktp = t(params, "ktp")
    if not validation.KTP.match(ktp):
        raise Rejected(errors.INVALID_NIK, "NIK (ktp) tidak valid: harus 16 digit angka")
    ktp_photo = validation.base64_bytes(t(params, "ktpPhoto"), "ktpPhoto")
    validation.image(ktp_photo, "ktpPhoto")
    npwp = t(params, "npwp", required=False)
    if npwp and not validation.NPWP.match(npwp):
        raise Rejected(errors.INVALID_DATA, "NPWP tidak valid: harus 15 digit angka")
    npwp_photo_b64 = t(params, "npwpPhoto", required=False)
    npwp_photo = None
    if npwp_photo_b64:
        npwp_photo = validation.base64_bytes(npwp_photo_b64, "npwpPhoto")
        validation.image(npwp_photo, "npwpPhoto")
    address = t(params, "address", max_len=255)
    city = t(params, "city", max_len=255)
    province = t(params, "province", max_len=255)
    gender = t(params, "gender", max_len=1)
    if gender not in ("M", "F"):
        raise Rejected(errors.INVALID_DATA, 'Parameter gender harus "M" atau "F"')
    place_of_birth = t(params, "placeOfBirth", max_len=255)
    date_of_birth = validation.date_dmy(t(params, "dateOfBirth", max_len=10), "dateOfBirth")
    org_unit = t(params, "orgUnit", required=False, max_len=255)
    work_unit = t(params, "workUnit", required=False, max_len=255)
    position = t(params, "position", required=False, max_len=255)

    tags = set(email.split("@", 1)[0].split("+")[1:])
    if "blocked" in tags:
        raise Rejected(errors.EMAIL_NOT_ALLOWED, "Email tidak diizinkan")
    if "crmfail" in tags:
        raise Rejected(errors.CRM_FAILED, "Registrasi gagal: CRM tidak dapat memproses data")
    if SandboxUser.objects.filter(email=email).exists():
        raise Rejected(errors.EMAIL_REGISTERED, "Email sudah terdaftar")
    if SandboxUser.objects.filter(ktp=ktp).exists():
        raise Rejected(errors.CUSTOMER_REGISTERED, "Customer sudah terdaftar (NIK sudah digunakan)")
    try:
        with transaction.atomic():
            user = SandboxUser.objects.create(
                email=email,
                name=name.strip(),
                phone=phone,
                ktp=ktp,
                npwp=npwp,
                gender=gender,
                place_of_birth=place_of_birth,
                date_of_birth=date_of_birth,
                address=address,
                city=city,
                province=province,
                org_unit=org_unit,
                work_unit=work_unit,
                position=position,
                system_id=system_id,
                ktp_photo=ktp_photo,
                npwp_photo=npwp_photo,
            )
            link = _public_url("/webview/index.php", email=email, systemId=system_id)
            _message(
                kind=Message.Kind.REGISTRATION,
                to=email,
                subject="Aktivasi akun Peruri Digital Signature",
                body=(
                    f"Halo {user.name},\n\nAkun Anda telah terdaftar. Silakan lakukan aktivasi, "
                    f"verifikasi wajah (e-KYC) dan tanda tangan spesimen melalui tautan berikut:\n{link}"
                ),
                link=link,
            )
    except IntegrityError as exc:  # a concurrent registration won the race
        if SandboxUser.objects.filter(email=email).exists():
            raise Rejected(errors.EMAIL_REGISTERED, "Email sudah terdaftar") from exc
        raise Rejected(errors.CUSTOMER_REGISTERED, "Customer sudah terdaftar (NIK sudah digunakan)") from exc
    return user


def user_activate(*, user: SandboxUser) -> SandboxUser:
    """Activation. Idempotent: an active account answers success again [assumed]."""
    SandboxUser.objects.filter(pk=user.pk, status=SandboxUser.Status.REGISTERED).update(
        status=SandboxUser.Status.ACTIVATED, activated_at=timezone.now()
    )
    user.refresh_from_db()
    return user


def user_verify_video(*, user: SandboxUser, video: bytes) -> SandboxUser:
    """Video Verification (e-KYC against "Dukcapil").

    Raises Rejected 1008 when not activated, 1045 when not a WebM/MP4 container, 1006 for
    `+kycreject`, 1040 ("still being verified") for the first SANDBOX_KYC_PENDING_TRIES calls of
    `+kycpending`. `+dukcapilslow` answers after SANDBOX_DUKCAPIL_SLOW_SECONDS. A user already
    verified gets success again.
    """
    if user.status == SandboxUser.Status.REGISTERED:
        raise Rejected(errors.INVALID_DATA, "Akun belum diaktivasi")
    validation.video_container(video)
    SandboxUser.objects.filter(pk=user.pk).update(video_attempts=F("video_attempts") + 1)
    user.refresh_from_db()
    if user.status != SandboxUser.Status.ACTIVATED:
        return user
    if "dukcapilslow" in user.scenarios:
        time.sleep(float(_setting("SANDBOX_DUKCAPIL_SLOW_SECONDS", 15)))
    if "kycreject" in user.scenarios:
        raise Rejected(errors.KYC_REJECTED, "Verifikasi wajah ditolak: tidak sesuai dengan data Dukcapil")
    if "kycpending" in user.scenarios and user.video_attempts <= int(_setting("SANDBOX_KYC_PENDING_TRIES", 2)):
        raise Rejected(errors.KYC_PENDING, "Data sedang dalam proses verifikasi, silakan coba beberapa saat lagi")
    SandboxUser.objects.filter(pk=user.pk, status=SandboxUser.Status.ACTIVATED).update(
        status=SandboxUser.Status.VIDEO_VERIFIED, video_verified_at=timezone.now()
    )
    user.refresh_from_db()
    return user


def user_set_specimen(*, user: SandboxUser, image: bytes) -> SandboxUser:
    """Send Speciment. The certificate is issued SANDBOX_CERT_DELAY seconds later.

    Raises Rejected 1008 when e-KYC has not passed yet or the image is not a JPG/PNG. A new
    specimen replaces the old one (used by later stamps) without re-issuing the certificate.
    """
    if user.status in (SandboxUser.Status.REGISTERED, SandboxUser.Status.ACTIVATED):
        raise Rejected(errors.INVALID_DATA, "Verifikasi video (e-KYC) belum berhasil dilakukan")
    validation.image(image, "speciment")
    png = validation.to_png(image)
    now = timezone.now()
    SandboxUser.objects.filter(pk=user.pk).update(specimen=png, specimen_at=now)
    due = now + dt.timedelta(seconds=int(settings.SANDBOX_CERT_DELAY))
    SandboxUser.objects.filter(pk=user.pk, status=SandboxUser.Status.VIDEO_VERIFIED).update(
        status=SandboxUser.Status.SPECIMEN_RECEIVED, certificate_due_at=due
    )
    user.refresh_from_db()
    certificate_issue_if_due(user=user)
    return user


def certificate_issue_if_due(*, user: SandboxUser) -> SandboxUser:
    """Issues the user's X.509 certificate once it is due (never for `+nocert`).

    Also re-issues a certificate whose CA no longer exists (the data folder was wiped).
    """
    if user.status == SandboxUser.Status.CERTIFIED:
        if not ca.issued_by_current_ca(user.certificate_pem):
            issued = ca.issue_user_certificate(
                name=user.name,
                email=user.email,
                org_unit=user.org_unit,
                work_unit=user.work_unit,
                position=user.position,
            )
            SandboxUser.objects.filter(pk=user.pk).update(
                certificate_pem=issued.certificate_pem, key_pem=issued.key_pem
            )
            user.refresh_from_db()
        return user
    if (
        user.status != SandboxUser.Status.SPECIMEN_RECEIVED
        or user.certificate_due_at is None
        or user.certificate_due_at > timezone.now()
        or "nocert" in user.scenarios
    ):
        return user
    issued = ca.issue_user_certificate(
        name=user.name, email=user.email, org_unit=user.org_unit, work_unit=user.work_unit, position=user.position
    )
    with transaction.atomic():
        won = SandboxUser.objects.filter(pk=user.pk, status=SandboxUser.Status.SPECIMEN_RECEIVED).update(
            status=SandboxUser.Status.CERTIFIED,
            certificate_pem=issued.certificate_pem,
            key_pem=issued.key_pem,
            certificate_issued_at=timezone.now(),
        )
        if won:
            _message(
                kind=Message.Kind.CERTIFICATE,
                to=user.email,
                subject="Sertifikat elektronik Anda telah terbit",
                body=f"Halo {user.name},\n\nData sertifikat berhasil di-generate. Anda sudah dapat menandatangani dokumen.",
            )
    user.refresh_from_db()
    return user


def user_check_certificate(*, user: SandboxUser) -> SandboxUser:
    """Check Certificate. Raises Rejected 4001 until the certificate is issued [assumed code]."""
    certificate_issue_if_due(user=user)
    if user.status == SandboxUser.Status.CERTIFIED:
        return user
    stage = {
        SandboxUser.Status.REGISTERED: "akun belum diaktivasi",
        SandboxUser.Status.ACTIVATED: "menunggu verifikasi video (e-KYC)",
        SandboxUser.Status.VIDEO_VERIFIED: "menunggu spesimen tanda tangan",
        SandboxUser.Status.SPECIMEN_RECEIVED: "sertifikat sedang dalam proses penerbitan",
    }[SandboxUser.Status(user.status)]
    raise Rejected(errors.NO_CERTIFICATE, f"Sertifikat belum tersedia: {stage}")


# --------------------------------------------------------------------------------------------- documents


def _certified_signer(email: str) -> SandboxUser:
    user = SandboxUser.objects.filter(email=email.strip().lower()).first()
    if user is None:
        raise Rejected(errors.NO_CERTIFICATE, f"Email {email} belum terdaftar / belum memiliki sertifikat")
    certificate_issue_if_due(user=user)
    if user.status != SandboxUser.Status.CERTIFIED:
        raise Rejected(errors.NO_CERTIFICATE, f"Pengguna {email} belum memiliki sertifikat elektronik")
    return user


def _read_pdf(file: Mapping[str, Any], *, prefix: str) -> tuple[str, bytes, list[PageBox]]:
    file_name = validation.text(file, "fileName", max_len=100, prefix=prefix)
    data = validation.base64_bytes(validation.text(file, "base64Document", prefix=prefix), f"{prefix}base64Document")
    limit = int(_setting("SANDBOX_MAX_DOCUMENT_BYTES", 20 * 1024 * 1024))
    if len(data) > limit:
        raise Rejected(errors.INVALID_DATA, f"Ukuran dokumen melebihi batas {limit // (1024 * 1024)} MB")
    pages = validation.pdf_pages(data, f"{prefix}base64Document")
    _pyhanko_can_open(data, f"{prefix}base64Document")
    return file_name, data, pages


def _pyhanko_can_open(data: bytes, label: str) -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    try:
        IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    except Exception as exc:  # noqa: BLE001 - any parser failure means "not a PDF we can sign"
        raise Rejected(errors.INVALID_DATA, f"Parameter {label} bukan dokumen PDF yang dapat ditandatangani") from exc


def _signer_from_list(payload: Mapping[str, Any], pages_list: list[list[PageBox]]) -> SignerBox | None:
    raw = payload.get("signer")
    if raw is None or raw == []:
        return None
    if not isinstance(raw, list):
        raise Rejected(errors.INVALID_DATA, "Parameter signer harus berupa array object")
    if len(raw) > 1:
        raise Rejected(errors.INVALID_DATA, "Parameter signer hanya boleh berisi satu objek penandatangan")
    box = signer_box_parse(raw=raw[0])
    for pages in pages_list:
        signer_box_check(box=box, pages=pages)
    return box


def _order_type(params: Mapping[str, Any]) -> str:
    order_type = validation.text(params, "orderType", required=False, max_len=20)
    if order_type not in ("", "SYSTEM"):
        raise Rejected(errors.INVALID_DATA, 'Parameter orderType hanya boleh "SYSTEM"')
    return order_type


def _expires_at(user: SandboxUser) -> dt.datetime:
    now = timezone.now()
    return now if "docexpired" in user.scenarios else now + order_ttl()


def _sign_request_message(order: Order, *, kind: str = Message.Kind.SIGN_REQUEST) -> None:
    link = _public_url("/webview/signing.php", orderId=str(order.pk))
    if kind == Message.Kind.NEXT_SIGNER:
        subject = "Giliran Anda menandatangani dokumen"
        intro = "Penandatangan sebelumnya telah menandatangani dokumen. Sekarang giliran Anda"
    else:
        subject = "Permintaan tanda tangan dokumen"
        intro = "Anda diminta menandatangani dokumen"
    _message(
        kind=kind,
        to=order.user.email,
        subject=f"{subject}: {order.document.file_name}",
        body=f'Halo {order.user.name},\n\n{intro} "{order.document.file_name}" (orderId {order.pk}).\n{link}',
        link=link,
        order_id=order.pk,
    )


def document_send(*, params: Mapping[str, Any]) -> Order:
    """Send Document. Raises Rejected 1001/1008/4001/4012/4014."""
    system_id = validation.text(params, "systemId", max_len=255)
    selectors.system_id_check(system_id=system_id)
    email = validation.email(params)
    user = _certified_signer(email)
    payload = validation.obj(params, "payload")
    file_name, data, pages = _read_pdf(payload, prefix="payload.")
    box = _signer_from_list(payload, [pages])
    order_type = _order_type(params)
    with transaction.atomic():
        document = Document.objects.create(file_name=file_name, original=data, content=data)
        order = Order.objects.create(
            document=document,
            kind=Order.Kind.SINGLE,
            order_type=order_type,
            user=user,
            system_id=system_id,
            signer=box.as_json() if box else None,
            expires_at=_expires_at(user),
        )
        if order_type != "SYSTEM":
            _sign_request_message(order)
    return order


def document_send_tier(*, params: Mapping[str, Any]) -> Order:
    """Send Document Tier: one order per signer, in signing order; returns the first signer's."""
    system_id = validation.text(params, "systemId", max_len=255)
    selectors.system_id_check(system_id=system_id)
    uploader = validation.email(params, "uploader")
    payload = validation.obj(params, "payload")
    file_name, data, _pages = _read_pdf(payload, prefix="payload.")
    signers_raw = validation.array(payload, "signer", prefix="payload.")
    users: list[SandboxUser] = []
    for index, item in enumerate(signers_raw):
        if not isinstance(item, Mapping):
            raise Rejected(errors.INVALID_DATA, f"Parameter payload.signer[{index}] harus berupa object")
        email = validation.email(item, prefix=f"payload.signer[{index}].")
        if any(u.email == email for u in users):
            raise Rejected(errors.INVALID_DATA, f"Penandatangan {email} tercantum lebih dari sekali")
        users.append(_certified_signer(email))
    with transaction.atomic():
        document = Document.objects.create(file_name=file_name, original=data, content=data)
        orders = [
            Order.objects.create(
                document=document,
                kind=Order.Kind.TIER,
                user=user,
                uploader=uploader,
                system_id=system_id,
                tier_position=position,
                tier_size=len(users),
                expires_at=_expires_at(user),
            )
            for position, user in enumerate(users, start=1)
        ]
        _sign_request_message(orders[0])
    return orders[0]


def document_send_bulk(*, params: Mapping[str, Any]) -> list[Order]:
    """Send Document Bulk: one order per file, all or nothing."""
    system_id = validation.text(params, "systemId", max_len=255)
    selectors.system_id_check(system_id=system_id)
    email = validation.email(params)
    user = _certified_signer(email)
    payload = validation.obj(params, "payload")
    # The table spells it "File", the example "file": accept both.
    key = "file" if "file" in payload else "File"
    files_raw = validation.array(payload, key, prefix="payload.")
    files = []
    for index, item in enumerate(files_raw):
        if not isinstance(item, Mapping):
            raise Rejected(errors.INVALID_DATA, f"Parameter payload.{key}[{index}] harus berupa object")
        files.append(_read_pdf(item, prefix=f"payload.{key}[{index}]."))
    box = _signer_from_list(payload, [pages for _n, _d, pages in files])
    with transaction.atomic():
        orders = []
        for file_name, data, _pages in files:
            document = Document.objects.create(file_name=file_name, original=data, content=data)
            orders.append(
                Order.objects.create(
                    document=document,
                    kind=Order.Kind.BULK,
                    user=user,
                    system_id=system_id,
                    signer=box.as_json() if box else None,
                    expires_at=_expires_at(user),
                )
            )
        names = ", ".join(f"{o.document.file_name} ({o.pk})" for o in orders)
        _message(
            kind=Message.Kind.SIGN_REQUEST,
            to=user.email,
            subject=f"Permintaan tanda tangan {len(orders)} dokumen",
            body=f"Halo {user.name},\n\nAnda diminta menandatangani dokumen berikut: {names}.",
            order_id=orders[0].pk,
        )
    return orders


def _order_signable(order: Order) -> None:
    """Raises Rejected 03 (signed, expired, locked), 4012 (failed), 4009 (not this signer's turn)."""
    status = selectors.order_own_status(order=order)
    if status == Order.Status.SIGNED:
        raise Rejected(errors.ALREADY_SIGNED, "Dokumen sudah ditandatangani")
    if status == Order.Status.EXPIRED:
        raise Rejected(errors.ALREADY_SIGNED, "Dokumen sudah kedaluwarsa")
    if status == Order.Status.FAILED:
        raise Rejected(errors.SIGNING_FAILED, "Dokumen gagal ditandatangani sebelumnya, silakan kirim ulang dokumen")
    if order.kind == Order.Kind.TIER and order.tier_position > 1:
        earlier = Order.objects.filter(document_id=order.document_id, tier_position__lt=order.tier_position)
        if earlier.exclude(status=Order.Status.SIGNED).exists():
            raise Rejected(errors.NOT_FOUND, "Dokumen belum dapat ditandatangani: menunggu penandatangan sebelumnya")
    document = Document.objects.only("locked").get(pk=order.document_id)
    if document.locked:
        raise Rejected(
            errors.ALREADY_SIGNED, "Dokumen sudah dikunci (NO_CHANGES_ALLOWED), tidak dapat ditandatangani lagi"
        )


def _box_for(order: Order, given: SignerBox | None) -> SignerBox:
    """The order's coordinates (set at send / Set Signature win), else the ones given now."""
    box = SignerBox.from_json(order.signer) if order.signer else given
    if box is None:
        raise Rejected(errors.NO_COORDINATES, "Koordinat tanda tangan belum diatur")
    signer_box_check(box=box, pages=selectors.order_pages(order=order))
    if box.locks_document and order.kind == Order.Kind.TIER and order.tier_position < order.tier_size:
        raise Rejected(
            errors.SIGNING_FAILED, "Gagal tanda tangan: NO_CHANGES_ALLOWED hanya untuk penandatangan terakhir"
        )
    return box


def order_set_signer(*, order: Order, signer_box: SignerBox) -> Order:
    """Set Signature: the coordinates of an order that has none yet (or new ones before signing)."""
    _order_signable(order)
    signer_box_check(box=signer_box, pages=selectors.order_pages(order=order))
    Order.objects.filter(pk=order.pk, status=Order.Status.WAITING_SIGNATURE).update(signer=signer_box.as_json())
    order.refresh_from_db()
    return order


def _new_otp(*, user: SandboxUser, order: Order | None = None, bulk: Bulk | None = None, what: str) -> Otp:
    now = timezone.now()
    if order is not None:
        # A new OTP supersedes the previous one for the same order.
        Otp.objects.filter(order=order, used_at__isnull=True, burned_at__isnull=True).update(burned_at=now)
    otp = Otp.objects.create(
        token=secrets.token_hex(16),
        code=f"{secrets.randbelow(1_000_000):06d}",
        user=user,
        order=order,
        bulk=bulk,
        expires_at=now + otp_ttl(),
    )
    minutes = max(1, int(otp_ttl().total_seconds() // 60))
    _message(
        kind=Message.Kind.OTP,
        to=user.email,
        phone=user.phone,
        subject="Kode OTP tanda tangan digital",
        body=(
            f"Kode OTP Anda untuk {what}: {otp.code}. Berlaku {minutes} menit. "
            "JANGAN berikan kode ini kepada siapa pun."
        ),
        otp=otp.code,
        order_id=order.pk if order else None,
    )
    return otp


def otp_issue(*, order: Order) -> Otp:
    """Get OTP: a 6-digit code to the signer's e-mail and phone (the outbox), and its token.

    Raises Rejected 03/4012/4009 (see order_sign) and 4001 when the signer has no certificate.
    """
    _order_signable(order)
    user = _certified_signer(order.user.email)
    return _new_otp(user=user, order=order, what=f"dokumen {order.document.file_name} (orderId {order.pk})")


def _otp_consume(*, token: str, code: str, order: Order | None = None, bulk: Bulk | None = None) -> None:
    otp = Otp.objects.filter(token=token).first() if token else None
    if otp is None or (order is not None and otp.order_id != order.pk) or (bulk is not None and otp.bulk_id != bulk.pk):
        raise Rejected(errors.TOKEN_INVALID, "Token tidak valid")
    if otp.used_at is not None:
        raise Rejected(errors.TOKEN_INVALID, "Token sudah digunakan")
    if otp.burned_at is not None:
        raise Rejected(errors.TOKEN_INVALID, "OTP sudah tidak berlaku, silakan minta OTP baru")
    if otp.expires_at <= timezone.now():
        raise Rejected(errors.TOKEN_INVALID, "OTP sudah kedaluwarsa, silakan minta OTP baru")
    if not hmac.compare_digest(code.encode(), otp.code.encode()):
        counted = Otp.objects.filter(
            pk=otp.pk, used_at__isnull=True, burned_at__isnull=True, attempts__lt=OTP_MAX_TRIES
        ).update(attempts=F("attempts") + 1)
        otp.refresh_from_db()
        if not counted or otp.attempts >= OTP_MAX_TRIES:
            Otp.objects.filter(pk=otp.pk, burned_at__isnull=True).update(burned_at=timezone.now())
            raise Rejected(errors.INVALID_OTP, "Kode OTP salah 3 kali, OTP diblokir. Silakan minta OTP baru")
        left = OTP_MAX_TRIES - otp.attempts
        raise Rejected(errors.INVALID_OTP, f"Kode OTP tidak valid (sisa {left} kali percobaan)")
    used = Otp.objects.filter(pk=otp.pk, used_at__isnull=True, burned_at__isnull=True).update(used_at=timezone.now())
    if not used:
        raise Rejected(errors.TOKEN_INVALID, "Token sudah digunakan")


def _busy_once(order: Order) -> None:
    """`+signbusy`: the signing worker is unavailable (4003, transient) on an order's first attempt."""
    Order.objects.filter(pk=order.pk).update(sign_attempts=F("sign_attempts") + 1)
    order.refresh_from_db(fields=["sign_attempts"])
    if "signbusy" in order.user.scenarios and order.sign_attempts == 1:
        raise Rejected(errors.WORKER_BUSY, "Signing worker sedang sibuk, silakan coba beberapa saat lagi")


def _apply_signature(*, order: Order, box: SignerBox) -> Order:
    """Signs the document for this order (incremental update) and records it. Raises Rejected F/03/4012.

    The signature is computed outside any database transaction (pyHanko takes a while; on SQLite
    an open write transaction would stall every other writer sharing the file, Paraf included),
    then recorded by compare-and-set: the order must still be waiting and the document must still
    carry the signatures it was signed over, so two concurrent signings cannot both win.
    """
    user = order.user
    if "signfail" in user.scenarios:
        Order.objects.filter(pk=order.pk, status=Order.Status.WAITING_SIGNATURE).update(
            status=Order.Status.FAILED, failure="signfail scenario"
        )
        raise Rejected(errors.FAILED, "Gagal tanda tangan")
    authority = ca.ensure_ca()
    certificate_issue_if_due(user=user)  # re-issues when the CA was recreated
    document = Document.objects.get(pk=order.document_id)
    if document.locked:
        raise Rejected(errors.ALREADY_SIGNED, "Dokumen sudah dikunci (NO_CHANGES_ALLOWED)")
    signed_over = document.signature_count
    now = timezone.now()
    try:
        signed = sign_pdf(
            pdf=bytes(document.content),
            box=box,
            field_name=f"Peruri_{order.pk}",
            certificate_pem=user.certificate_pem,
            key_pem=user.key_pem,
            ca_certificate_pem=authority.certificate_pem,
            signer_name=user.name,
            specimen_png=bytes(user.specimen) if user.specimen else None,
            has_signatures=signed_over > 0,
            when=now,
        )
    except Exception as exc:  # noqa: BLE001 - pyHanko/pypdf failures become Peruri's 4012
        logger.exception("sandbox: signing order %s failed", order.pk)
        failure = str(exc)[:255]
        Order.objects.filter(pk=order.pk, status=Order.Status.WAITING_SIGNATURE).update(
            status=Order.Status.FAILED, failure=failure
        )
        raise Rejected(errors.SIGNING_FAILED, f"Gagal tanda tangan: {failure}") from exc
    with transaction.atomic():
        won = Order.objects.filter(pk=order.pk, status=Order.Status.WAITING_SIGNATURE).update(
            status=Order.Status.SIGNED, signed_at=now, signer=box.as_json()
        )
        if not won:
            raise Rejected(errors.ALREADY_SIGNED, "Dokumen sudah ditandatangani")
        recorded = Document.objects.filter(pk=document.pk, signature_count=signed_over, locked=False).update(
            content=signed, signature_count=signed_over + 1, locked=box.locks_document
        )
        if not recorded:  # another signature landed first: this one was made over stale bytes
            raise Rejected(errors.ALREADY_SIGNED, "Dokumen sudah berubah, silakan coba lagi")
    fresh = Order.objects.select_related("user", "document").get(pk=order.pk)
    nxt = fresh.next_signer_order
    if nxt is not None:
        _sign_request_message(nxt, kind=Message.Kind.NEXT_SIGNER)
    elif fresh.kind == Order.Kind.TIER and fresh.uploader:
        _message(
            kind=Message.Kind.SIGNED,
            to=fresh.uploader,
            subject=f"Dokumen selesai ditandatangani: {document.file_name}",
            body=f'Semua penandatangan telah menandatangani dokumen "{document.file_name}".',
            order_id=fresh.pk,
        )
    return fresh


def order_sign(*, order: Order, otp: str, token: str, signer_box: SignerBox | None = None) -> Order:
    """Signing / Signing Tier with the OTP of `otp_issue`.

    Raises Rejected: 4009 not this signer's turn (tier), 03 signed/expired/locked, 4001 no
    certificate, 4014 no coordinates, 4012 coordinates off the page / NO_CHANGES_ALLOWED before the
    last tier signer, 4003 (`+signbusy`, first try), 4026 bad/expired/used token, 01 wrong OTP
    (the third wrong one burns it), F (`+signfail`). Coordinates are checked before the OTP so a
    bad box does not cost the user their code. `order.next_signer_order` is the tier's next order.
    """
    _order_signable(order)
    _certified_signer(order.user.email)
    box = _box_for(order, signer_box)
    _busy_once(order)
    _otp_consume(token=token, code=otp, order=order)
    return _apply_signature(order=order, box=box)


def bulk_otp_issue(*, params: Mapping[str, Any]) -> tuple[Bulk, Otp]:
    """Get OTP Bulk: every order signable by the same signer and with coordinates set."""
    system_id = validation.text(params, "systemId", max_len=255)
    selectors.system_id_check(system_id=system_id)
    orders = _orders_from_data(params)
    user = orders[0].user
    if any(o.user_id != user.pk for o in orders):
        raise Rejected(errors.INVALID_DATA, "Semua dokumen harus untuk penandatangan yang sama")
    for order in orders:
        _order_signable(order)
        if not order.has_coordinates:
            raise Rejected(errors.NO_COORDINATES, f"Koordinat orderId {order.pk} belum diatur (Set Signature)")
        _box_for(order, None)
    user = _certified_signer(user.email)
    with transaction.atomic():
        bulk = Bulk.objects.create(user=user, order_ids=[o.pk for o in orders], system_id=system_id)
        otp = _new_otp(user=user, bulk=bulk, what=f"{len(orders)} dokumen (orderIdBulk {bulk.pk})")
    return bulk, otp


def _orders_from_data(params: Mapping[str, Any]) -> list[Order]:
    items = validation.array(params, "data")
    orders: list[Order] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise Rejected(errors.INVALID_DATA, f"Parameter data[{index}] harus berupa object")
        order_id = validation.text(item, "orderId", max_len=100, prefix=f"data[{index}].")
        order = selectors.order_get(order_id=order_id)
        if any(o.pk == order.pk for o in orders):
            raise Rejected(errors.INVALID_DATA, f"orderId {order_id} tercantum lebih dari sekali")
        orders.append(order)
    return orders


def bulk_get(*, order_id_bulk: str) -> Bulk:
    text = order_id_bulk.strip()
    bulk = (
        Bulk.objects.select_related("user").filter(pk=int(text)).first() if text.isdigit() and len(text) < 19 else None
    )
    if bulk is None:
        raise Rejected(errors.NOT_FOUND, f"orderIdBulk {order_id_bulk} tidak ditemukan")
    return bulk


def bulk_sign(*, bulk: Bulk, otp: str, token: str) -> list[Order]:
    """Signing Bulk: one OTP, every order of the bulk, in order. Raises like order_sign."""
    if bulk.signed_at is not None:
        raise Rejected(errors.ALREADY_SIGNED, "Dokumen bulk sudah ditandatangani")
    orders = [selectors.order_get(order_id=pk) for pk in bulk.order_ids]
    _certified_signer(bulk.user.email)
    boxes = []
    for order in orders:
        _order_signable(order)
        boxes.append(_box_for(order, None))
    _otp_consume(token=token, code=otp, bulk=bulk)
    Bulk.objects.filter(pk=bulk.pk).update(signed_at=timezone.now())
    return [_apply_signature(order=order, box=box) for order, box in zip(orders, boxes, strict=True)]


def signing_key_set(*, params: Mapping[str, Any]) -> SigningKey:
    """Set Key: the partner's hashing key for Signing System, valid `minutes`."""
    key = validation.text(params, "key", max_len=100)
    minutes = validation.text(params, "minutes", max_len=100).strip()
    system_id = validation.text(params, "systemId", max_len=255)
    selectors.system_id_check(system_id=system_id)
    if not _DIGITS.match(minutes) or not 1 <= int(minutes) <= 527_040:
        raise Rejected(errors.INVALID_DATA, "Parameter minutes harus bilangan bulat menit (1 - 527040)")
    expires = timezone.now() + dt.timedelta(minutes=int(minutes))
    signing_key, _ = SigningKey.objects.update_or_create(
        system_id=system_id, defaults={"key": key, "expires_at": expires}
    )
    return signing_key


def session_for(*, key: str, order_ids: list[str]) -> str:
    """`session` = lowercase hex HMAC-SHA256 over the order ids concatenated in request order."""
    return hmac.new(key.encode("utf-8"), "".join(order_ids).encode("utf-8"), hashlib.sha256).hexdigest()


def system_sign(*, params: Mapping[str, Any]) -> list[Order]:
    """Signing System: no OTP, the HMAC session proves the partner. Only `orderType` SYSTEM orders.

    Raises Rejected 1008 (fields, not SYSTEM), 02 no/expired key, 4026 wrong session, 4009, 03,
    4014, 4012, 4001.
    """
    items = validation.array(params, "data")
    session = validation.text(params, "session", max_len=64)
    system_id = validation.text(params, "systemId", max_len=255)
    selectors.system_id_check(system_id=system_id)
    if not _HEX64.match(session):
        raise Rejected(errors.INVALID_DATA, "Parameter session harus 64 karakter heksadesimal")
    order_ids = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise Rejected(errors.INVALID_DATA, f"Parameter data[{index}] harus berupa object")
        order_ids.append(validation.text(item, "orderId", max_len=100, prefix=f"data[{index}]."))
    signing_key = SigningKey.objects.filter(system_id=system_id).first()
    if signing_key is None:
        raise Rejected(errors.EXPIRED_KEY, "Key belum diatur, silakan panggil Set Key")
    if signing_key.expires_at <= timezone.now():
        raise Rejected(errors.EXPIRED_KEY, "Key sudah kedaluwarsa, silakan panggil Set Key")
    expected = session_for(key=signing_key.key, order_ids=order_ids)
    if not hmac.compare_digest(expected.encode("ascii"), session.encode("ascii")):
        raise Rejected(errors.TOKEN_INVALID, "Session tidak valid")
    orders = _orders_from_data(params)
    boxes = []
    for order in orders:
        if order.order_type != "SYSTEM":
            raise Rejected(errors.INVALID_DATA, f"orderId {order.pk} bukan dokumen dengan orderType SYSTEM")
        _order_signable(order)
        _certified_signer(order.user.email)
        boxes.append(_box_for(order, None))
    return [_apply_signature(order=order, box=box) for order, box in zip(orders, boxes, strict=True)]
