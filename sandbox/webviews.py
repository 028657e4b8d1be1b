"""Peruri's web views (the iFrames a partner embeds), as the sandbox simulates them.

GET /webview/index.php?email=&systemId=   activation: e-KYC face video, then the handwritten
    specimen; posts {func: "generateCertificate", message: {resultCode, resultDesc}} to
    window.parent.
GET /webview/signing.php?orderId=         signing: the document's pages, placement of the signature
    when the order has no coordinates, OTP, signature; posts {func: "signDocument",
    message: {resultCode, resultDesc, orderId}} to window.parent.

The pages are in Bahasa Indonesia on purpose: they stand for Peruri's own pages, not Paraf's.

Framing: `Content-Security-Policy: frame-ancestors <SANDBOX_FRAME_ANCESTORS>` and no
X-Frame-Options, so only the configured partner origins can embed them. The page posts to
window.parent with targetOrigin = the framing partner's origin (one of those), never "*".

Why the JSON endpoints are csrf_exempt, and what protects them instead: inside a partner's page
the web view is a third-party frame, where browsers withhold SameSite=Lax cookies (and may block
third-party cookies altogether), so Django's cookie-based CSRF check cannot work there. Instead
 1. every page embeds a page token: signed with SECRET_KEY (django.core.signing, its own salt),
    holding the subject (the e-mail for activation, the order id for signing), a random nonce and
    its time; an endpoint accepts it only for that same subject (constant-time compare) and for
    TOKEN_MAX_AGE seconds;
 2. every POST must carry an `Origin` header equal to the sandbox's own origin, so no other site
    can post to these endpoints from a visitor's browser;
 3. the OTP token Get OTP returns travels through the page only inside a signed ticket bound to
    the order, so a page cannot use another order's token (nor forge one).
Like Peruri's, the pages themselves are reachable by whoever knows the e-mail / order id; the
token stops cross-site use of the endpoints, not the owner of the link.
"""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from sandbox import errors, selectors, services
from sandbox.errors import Rejected
from sandbox.models import Order, SandboxUser
from sandbox.signing import signer_box_check

ACTIVATION_FUNC = "generateCertificate"
SIGNING_FUNC = "signDocument"
CERTIFICATE_GENERATED = "Data sertifikat berhasil di-generate"
TOKEN_MAX_AGE = 2 * 3600
OTP_TICKET_MAX_AGE = 15 * 60
VIDEO_MAX_BYTES = 20 * 1024 * 1024
SPECIMEN_MAX_BYTES = 2 * 1024 * 1024
_PAGE_SALT = "sandbox.webview.page"
_OTP_SALT = "sandbox.webview.otp"
_URLCONF = "sandbox.urls"
_OTP = re.compile(r"^[0-9]{6}$")
# Codes after which the signing page is finished and reports to the partner; any other refusal
# (wrong OTP, expired token, busy worker, bad box) lets the user try again inside the page.
_SIGNING_FINAL = {errors.ALREADY_SIGNED, errors.NO_CERTIFICATE, errors.FAILED, errors.NOT_FOUND, errors.INVALID_SYSTEM_ID}
_ACTIVATION_FINAL = {errors.KYC_REJECTED, errors.INVALID_SYSTEM_ID}
SESSION_INVALID = "Sesi halaman tidak valid atau sudah kedaluwarsa. Silakan muat ulang halaman."

# Texts of the shared widgets (static/js/), in Peruri's language: rendered with json_script.
VIDEO_TEXTS = {
    "intro": "Kami memerlukan video singkat wajah Anda untuk verifikasi identitas (e-KYC) dengan data Dukcapil. "
    "Pastikan cahaya cukup, lepaskan kacamata, topi, dan masker, lalu tatap kamera.",
    "start_camera": "Nyalakan kamera",
    "starting": "Menyalakan kamera…",
    "ready": "Posisikan wajah Anda di tengah gambar, lalu mulai merekam.",
    "record": "Mulai merekam",
    "countdown": "Perekaman dimulai dalam {seconds}…",
    "recording": "Merekam… sisa {seconds} detik. Tolehkan kepala perlahan ke kiri, lalu ke kanan.",
    "stop": "Berhenti",
    "review": "Periksa video Anda: wajah harus terlihat jelas. Kirim video, atau rekam ulang.",
    "retake": "Rekam ulang",
    "use": "Kirim video",
    "uploading": "Mengirim video dan memverifikasi wajah…",
    "uploaded": "Video terkirim.",
    "attached": "Video siap dikirim.",
    "too_big": "Video terlalu besar ({size} MB, maksimal {max} MB). Silakan rekam ulang.",
    "denied": "Akses kamera ditolak. Izinkan kamera untuk situs ini di pengaturan browser, lalu coba lagi.",
    "no_camera": "Kamera tidak ditemukan di perangkat ini.",
    "unsupported": "Browser ini tidak dapat merekam video. Gunakan Chrome, Firefox, atau Safari versi terbaru.",
    "camera_error": "Kamera tidak dapat dinyalakan. Tutup aplikasi lain yang memakai kamera, lalu coba lagi.",
    "upload_failed": "Video gagal dikirim. Silakan coba lagi.",
}
SIGNATURE_TEXTS = {
    "hint": "Bubuhkan tanda tangan Anda di dalam kotak menggunakan jari, pena, atau mouse.",
    "clear": "Hapus",
    "undo": "Urungkan",
    "save": "Simpan tanda tangan",
    "saving": "Menyimpan…",
    "saved": "Tanda tangan tersimpan.",
    "upload_instead": "Atau unggah foto tanda tangan Anda (PNG atau JPEG)",
    "empty": "Silakan bubuhkan tanda tangan terlebih dahulu.",
    "image_too_big": "Gambar terlalu besar (maksimal {max} MB).",
    "image_invalid": "Berkas ini bukan gambar PNG atau JPEG.",
    "upload_failed": "Tanda tangan gagal disimpan. Silakan coba lagi.",
    "pad_label": "Area tanda tangan",
}
DOCUMENT_TEXTS = {
    "loading": "Memuat dokumen…",
    "error": "Dokumen tidak dapat ditampilkan.",
    "previous": "Halaman sebelumnya",
    "next": "Halaman berikutnya",
    "page_of": "Halaman {page} dari {pages}",
    "box": "Tanda tangan",
    "box_label": "Kotak tanda tangan: tombol panah untuk memindahkan, Shift + panah untuk mengubah ukuran",
    "resize": "Ubah ukuran",
    "hint": "Geser kotak ke tempat tanda tangan Anda, atau ketuk halaman. Tarik sudutnya untuk mengubah ukuran.",
}


# --------------------------------------------------------------------------------------------- helpers


def _origin(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def partner_origins() -> list[str]:
    """SANDBOX_FRAME_ANCESTORS as origins (scheme://host[:port]), in order, without duplicates."""
    seen: list[str] = []
    for url in settings.SANDBOX_FRAME_ANCESTORS:
        origin = _origin(str(url))
        if origin and origin not in seen:
            seen.append(origin)
    return seen


def content_security_policy() -> str:
    ancestors = " ".join(partner_origins()) or "'none'"
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        f"frame-ancestors {ancestors}",
    ])


def _url(name: str, **query: str) -> str:
    path = reverse(name, urlconf=_URLCONF)
    return f"{path}?{urlencode(query)}" if query else path


def _page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    response = render(request, template, context)
    response["Content-Security-Policy"] = content_security_policy()
    return response


def _page_token(kind: str, subject: str) -> str:
    return signing.dumps({"k": kind, "s": subject, "n": secrets.token_urlsafe(12)}, salt=_PAGE_SALT)


def _token_matches(token: str, kind: str, subject: str) -> bool:
    try:
        data = signing.loads(token, salt=_PAGE_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:  # includes SignatureExpired
        return False
    if not isinstance(data, dict) or data.get("k") != kind:
        return False
    return hmac.compare_digest(str(data.get("s", "")).encode(), subject.encode())


def _same_origin(request: HttpRequest) -> bool:
    origin = request.headers.get("Origin", "")
    return bool(origin) and hmac.compare_digest(origin.encode(), f"{request.scheme}://{request.get_host()}".encode())


def _denied() -> JsonResponse:
    return JsonResponse({"error": SESSION_INVALID}, status=403)


def _rejected(exc: Rejected, *, final: set[str]) -> JsonResponse:
    """A refusal, Peruri-style (HTTP 200), with the text the page shows and whether it is the end."""
    return JsonResponse({
        "resultCode": exc.code,
        "resultDesc": exc.desc,
        "error": f"{exc.desc} (kode {exc.code})",
        "final": exc.code in final,
    })


def _mask_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return "••••" + digits[-4:] if digits else ""


def _mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:2]}••••@{domain}"


def _upload(request: HttpRequest, field: str, max_bytes: int) -> bytes | None:
    upload = request.FILES.get(field)
    if upload is None or upload.size is None or upload.size > max_bytes:
        return None
    return upload.read()


# --------------------------------------------------------------------------------------------- activation


def _activation_step(user: SandboxUser) -> str:
    if user.status in (SandboxUser.Status.REGISTERED, SandboxUser.Status.ACTIVATED):
        return "video"
    if user.status == SandboxUser.Status.VIDEO_VERIFIED:
        return "specimen"
    return "done"


@xframe_options_exempt
@never_cache
@require_GET
def activation(request: HttpRequest) -> HttpResponse:
    """index.php: activation + e-KYC video + specimen, for a registered user."""
    email = request.GET.get("email", "")
    system_id = request.GET.get("systemId", "")
    config: dict[str, Any] = {"page": "activation", "func": ACTIVATION_FUNC, "partnerOrigins": partner_origins()}
    try:
        selectors.system_id_check(system_id=system_id)
        user = selectors.user_get(email=email)
    except Rejected as exc:
        config.update(step="error", callback={"resultCode": exc.code, "resultDesc": exc.desc})
        return _page(request, "sandbox/webview/activation.html", {"error": exc, "config": config})
    step = _activation_step(user)
    config["step"] = step
    if step == "done":
        config["callback"] = {"resultCode": errors.OK, "resultDesc": CERTIFICATE_GENERATED}
    context = {
        "config": config,
        "user": user,
        "system_id": system_id,
        "page_token": _page_token("activation", user.email),
        "video_url": _url("sandbox_webview_video"),
        "specimen_url": _url("sandbox_webview_specimen"),
        "video_max_bytes": VIDEO_MAX_BYTES,
        "video_texts": VIDEO_TEXTS,
        "signature_texts": SIGNATURE_TEXTS,
    }
    return _page(request, "sandbox/webview/activation.html", context)


def _activation_user(request: HttpRequest) -> SandboxUser | JsonResponse:
    email = request.POST.get("email", "").strip().lower()
    if not _same_origin(request) or not _token_matches(request.POST.get("page_token", ""), "activation", email):
        return _denied()
    try:
        selectors.system_id_check(system_id=request.POST.get("systemId", ""))
        return selectors.user_get(email=email)
    except Rejected as exc:
        return _rejected(exc, final=_ACTIVATION_FINAL)


@csrf_exempt
@never_cache
@require_POST
def activation_video(request: HttpRequest) -> JsonResponse:
    """The recorded face video: Activation (idempotent) then Video Verification."""
    user = _activation_user(request)
    if isinstance(user, JsonResponse):
        return user
    video = _upload(request, "video", VIDEO_MAX_BYTES)
    try:
        if video is None:
            raise Rejected(errors.INVALID_VIDEO, "Video tidak ada atau terlalu besar (maksimal 20 MB)")
        user = services.user_activate(user=user)
        services.user_verify_video(user=user, video=video)
    except Rejected as exc:
        return _rejected(exc, final=_ACTIVATION_FINAL)
    return JsonResponse({"resultCode": errors.OK, "resultDesc": "Verifikasi wajah berhasil", "status": "Verifikasi wajah berhasil."})


@csrf_exempt
@never_cache
@require_POST
def activation_specimen(request: HttpRequest) -> JsonResponse:
    """The handwritten specimen (PNG from the pad, or an uploaded JPG/PNG): Send Speciment."""
    user = _activation_user(request)
    if isinstance(user, JsonResponse):
        return user
    image = _upload(request, "specimen", SPECIMEN_MAX_BYTES)
    try:
        if image is None:
            raise Rejected(errors.INVALID_DATA, "Spesimen tanda tangan tidak ada atau terlalu besar (maksimal 2 MB)")
        services.user_set_specimen(user=user, image=image)
    except Rejected as exc:
        return _rejected(exc, final=_ACTIVATION_FINAL)
    return JsonResponse(
        {"resultCode": errors.OK, "resultDesc": CERTIFICATE_GENERATED, "status": "Spesimen tanda tangan tersimpan."}
    )


# --------------------------------------------------------------------------------------------- signing


_STATUS_CALLBACK = {
    Order.Status.SIGNED: (errors.ALREADY_SIGNED, "Dokumen sudah ditandatangani"),
    Order.Status.EXPIRED: (errors.ALREADY_SIGNED, "Dokumen sudah kedaluwarsa"),
    Order.Status.FAILED: (errors.SIGNING_FAILED, "Dokumen gagal ditandatangani sebelumnya"),
}


@xframe_options_exempt
@never_cache
@require_GET
def signing_page(request: HttpRequest) -> HttpResponse:
    """signing.php: view the document, place the signature if needed, OTP, sign."""
    order_id = request.GET.get("orderId", "")
    config: dict[str, Any] = {"page": "signing", "func": SIGNING_FUNC, "partnerOrigins": partner_origins()}
    try:
        order = selectors.order_get(order_id=order_id)
    except Rejected as exc:
        safe_id = order_id if order_id.isdigit() and len(order_id) <= 20 else ""
        config.update(step="error", callback={"resultCode": exc.code, "resultDesc": exc.desc, "orderId": safe_id})
        return _page(request, "sandbox/webview/signing.html", {"error": exc, "config": config})
    status = selectors.order_own_status(order=order)
    config["orderId"] = str(order.pk)
    if status in _STATUS_CALLBACK:
        code, desc = _STATUS_CALLBACK[Order.Status(status)]
        config.update(step="closed", callback={"resultCode": code, "resultDesc": desc, "orderId": str(order.pk)})
        return _page(request, "sandbox/webview/signing.html", {"closed": desc, "order": order, "config": config})
    token = _page_token("signing", str(order.pk))
    config["step"] = "sign"
    context = {
        "config": config,
        "order": order,
        "signer_name": order.user.name,
        "email_masked": _mask_email(order.user.email),
        "needs_placement": not order.has_coordinates,
        "page_token": token,
        "pdf_url": _url("sandbox_webview_document", orderId=str(order.pk), token=token),
        "otp_url": _url("sandbox_webview_otp"),
        "sign_url": _url("sandbox_webview_sign"),
        "document_texts": DOCUMENT_TEXTS,
    }
    return _page(request, "sandbox/webview/signing.html", context)


@xframe_options_exempt
@never_cache
@require_GET
def signing_document(request: HttpRequest) -> HttpResponse:
    """The order's PDF for the page's viewer (token in the query: pdf.js fetches it)."""
    order_id = request.GET.get("orderId", "")
    if not _token_matches(request.GET.get("token", ""), "signing", order_id):
        return HttpResponse(status=403)
    try:
        order = selectors.order_get(order_id=order_id)
    except Rejected:
        return HttpResponse(status=404)
    response = HttpResponse(selectors.order_pdf(order=order), content_type="application/pdf")
    response["Content-Disposition"] = 'inline; filename="dokumen.pdf"'
    return response


def _signing_order(request: HttpRequest) -> Order | JsonResponse:
    order_id = request.POST.get("orderId", "").strip()
    if not _same_origin(request) or not _token_matches(request.POST.get("page_token", ""), "signing", order_id):
        return _denied()
    try:
        return selectors.order_get(order_id=order_id)
    except Rejected as exc:
        return _rejected(exc, final=_SIGNING_FINAL)


def _placed_box(request: HttpRequest, order: Order) -> services.SignerBox | None:
    """The box the user placed (only asked for when the order has no coordinates)."""
    if order.has_coordinates:
        return None
    raw = {
        "isVisualSign": "YES",
        "lowerLeftX": request.POST.get("lower_left_x", ""),
        "lowerLeftY": request.POST.get("lower_left_y", ""),
        "upperRightX": request.POST.get("upper_right_x", ""),
        "upperRightY": request.POST.get("upper_right_y", ""),
        "page": request.POST.get("page", ""),
    }
    box = services.signer_box_parse(raw=raw)
    signer_box_check(box=box, pages=selectors.order_pages(order=order))
    return box


@csrf_exempt
@never_cache
@require_POST
def signing_otp(request: HttpRequest) -> JsonResponse:
    """Get OTP: the code goes to the signer's e-mail and phone (the sandbox outbox)."""
    order = _signing_order(request)
    if isinstance(order, JsonResponse):
        return order
    try:
        _placed_box(request, order)  # a bad box is refused before the user waits for a code
        otp = services.otp_issue(order=order)
    except Rejected as exc:
        return _rejected(exc, final=_SIGNING_FINAL)
    ticket = signing.dumps({"o": order.pk, "t": otp.token}, salt=_OTP_SALT)
    return JsonResponse({
        "resultCode": errors.OK,
        "resultDesc": "OTP terkirim",
        "ticket": ticket,
        "status": f"Kode OTP telah dikirim ke {_mask_email(order.user.email)} dan nomor HP {_mask_phone(otp.phone)}.",
    })


@csrf_exempt
@never_cache
@require_POST
def signing_sign(request: HttpRequest) -> JsonResponse:
    """Signing with the OTP the user typed."""
    order = _signing_order(request)
    if isinstance(order, JsonResponse):
        return order
    try:
        ticket = signing.loads(request.POST.get("ticket", ""), salt=_OTP_SALT, max_age=OTP_TICKET_MAX_AGE)
    except signing.BadSignature:
        ticket = None
    if not isinstance(ticket, dict) or ticket.get("o") != order.pk:
        return _rejected(Rejected(errors.TOKEN_INVALID, "Token OTP tidak valid, silakan minta OTP baru"), final=_SIGNING_FINAL)
    otp = request.POST.get("otp", "").strip()
    if not _OTP.match(otp):
        # Refused here so a typo does not cost one of the three tries.
        return _rejected(Rejected(errors.INVALID_OTP, "Kode OTP harus 6 digit angka"), final=_SIGNING_FINAL)
    try:
        services.order_sign(order=order, otp=otp, token=str(ticket.get("t", "")), signer_box=_placed_box(request, order))
    except Rejected as exc:
        return _rejected(exc, final=_SIGNING_FINAL)
    return JsonResponse({"resultCode": errors.OK, "resultDesc": "Success", "orderId": str(order.pk)})
