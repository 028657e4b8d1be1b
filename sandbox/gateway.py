"""POST /gateway/<namespace>/1.0/<operation>/v1 — Peruri's API gateway, as seen by a partner.

Order of work for every call, like the real gateway: route (unknown path or method -> HTTP 500
`Exception`), API key and JWT (HTTP 401 `Exception`), then the operation, whose refusals are
HTTP 200 replies with a non-"0" resultCode. Injected faults sit around the operation.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from sandbox import errors, faults, jwt, selectors, services, validation
from sandbox.errors import Rejected
from sandbox.signing import signer_box_parse

logger = logging.getLogger(__name__)

JAKARTA = ZoneInfo("Asia/Jakarta")
NAMESPACE = "digitalSignatureFullJwtSandbox"
JWT_PATHS = ("jwtSandbox/1.0/getJsonWebToken/v1", "jwt/1.0/getJsonWebToken/v1")
PARAM = "param"
REQUEST_SIGNING = "requestSigning"
REQUEST_SET_SIGNATURE = "requestSetSignature"
REQUEST_GET_OTP_BULK = "requestGetOtpBulk"


@dataclass(frozen=True)
class Reply:
    desc: str = "Success"
    data: Any = None
    has_data: bool = False


def ok(desc: str = "Success", data: Any = None) -> Reply:
    return Reply(desc=desc, data=data, has_data=data is not None)


def jakarta(moment: dt.datetime) -> str:
    """`"YYYY-MM-DD HH:MM:SS"` in Asia/Jakarta time, as the gateway's `expiredDate`s are."""
    return moment.astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M:%S")


# --------------------------------------------------------------------------------------------- operations


def op_get_jwt(p: Mapping[str, Any]) -> Reply:
    system_id = validation.text(p, "systemId", max_len=100)
    selectors.system_id_check(system_id=system_id)
    token, expires = jwt.issue(system_id=system_id)
    return ok(data={"jwt": token, "expiredDate": jakarta(dt.datetime.fromtimestamp(expires, tz=dt.UTC))})


def _user(p: Mapping[str, Any]) -> Any:
    email = validation.email(p)
    selectors.system_id_check(system_id=validation.text(p, "systemId", max_len=255))
    return selectors.user_get(email=email)


def op_registration(p: Mapping[str, Any]) -> Reply:
    services.user_register(params=p)
    return ok("Success")


def op_activation(p: Mapping[str, Any]) -> Reply:
    services.user_activate(user=_user(p))
    return ok("Sukses aktivasi akun, silakan lanjutkan proses verifikasi")


def op_video_verification(p: Mapping[str, Any]) -> Reply:
    video_b64 = validation.text(p, "videoStream")
    user = _user(p)
    video = validation.base64_bytes(video_b64, "videoStream")
    services.user_verify_video(user=user, video=video)
    return ok("Success")


def op_send_specimen(p: Mapping[str, Any]) -> Reply:
    specimen_b64 = validation.text(p, "speciment")
    user = _user(p)
    services.user_set_specimen(user=user, image=validation.base64_bytes(specimen_b64, "speciment"))
    return ok("Success")


def op_check_certificate(p: Mapping[str, Any]) -> Reply:
    user = services.user_check_certificate(user=_user(p))
    return ok(
        "Success",
        {
            "email": user.email,
            "phone": user.phone,
            "nik": user.ktp,
            "isExpired": selectors.user_certificate_expiry_flag(user=user),
        },
    )


def op_send_document(p: Mapping[str, Any]) -> Reply:
    order = services.document_send(params=p)
    return ok("Success Upload Document", {"orderId": str(order.pk)})


def _order(p: Mapping[str, Any], name: str = "orderId") -> Any:
    return selectors.order_get(order_id=validation.text(p, name, max_len=100))


def op_view_document(p: Mapping[str, Any]) -> Reply:
    order = _order(p)
    pdf = selectors.order_pdf(order=order)
    return ok(
        "Success",
        {"base64Document": base64.b64encode(pdf).decode("ascii"), "signer": "1" if order.has_coordinates else "0"},
    )


def op_get_otp(p: Mapping[str, Any]) -> Reply:
    otp = services.otp_issue(order=_order(p))
    return ok("Success", {"token": otp.token, "systemId": otp.order.system_id, "phone": otp.user.phone})


def _signing_fields(p: Mapping[str, Any]) -> tuple[Any, str, str]:
    order = _order(p)
    otp_code = validation.text(p, "otpCode", max_len=6)
    token = validation.text(p, "token", max_len=32)
    return order, otp_code, token


def op_signing(p: Mapping[str, Any]) -> Reply:
    order, otp_code, token = _signing_fields(p)
    box = None
    raw = p.get("signer")
    if raw not in (None, []):
        if not isinstance(raw, list):
            raise Rejected(errors.INVALID_DATA, "Parameter signer harus berupa array object")
        box = signer_box_parse(raw=raw[0])
    services.order_sign(order=order, otp=otp_code, token=token, signer_box=box)
    return ok("Success")


def op_check_document_status(p: Mapping[str, Any]) -> Reply:
    order = _order(p)
    return ok("Success", {"orderId": str(order.pk), "status": selectors.order_status(order=order)})


def op_download_document(p: Mapping[str, Any]) -> Reply:
    order = _order(p)
    status = selectors.order_status(order=order)
    if order.document.signature_count == 0 or status in (selectors.FAILED, selectors.EXPIRED):
        raise Rejected(errors.NOT_FOUND, f"Dokumen orderId {order.pk} belum ditandatangani (status {status})")
    pdf = selectors.order_pdf(order=order)
    return ok("Success", {"base64Document": base64.b64encode(pdf).decode("ascii")})


def op_send_document_tier(p: Mapping[str, Any]) -> Reply:
    order = services.document_send_tier(params=p)
    return ok("Success", {"orderId": str(order.pk)})


def op_signing_tier(p: Mapping[str, Any]) -> Reply:
    order, otp_code, token = _signing_fields(p)
    raw = validation.array(p, "signer")
    box = signer_box_parse(raw=raw[0], require_all=True)
    signed = services.order_sign(order=order, otp=otp_code, token=token, signer_box=box)
    nxt = signed.next_signer_order
    return ok("Success", {"orderIdNextSigner": str(nxt.pk)} if nxt else None)


def op_send_document_bulk(p: Mapping[str, Any]) -> Reply:
    orders = services.document_send_bulk(params=p)
    return ok("Success", [{"orderId": str(o.pk)} for o in orders])


def op_set_signature(p: Mapping[str, Any]) -> Reply:
    order = _order(p)
    raw = p.get("signer")
    if isinstance(raw, list):
        raise Rejected(errors.INVALID_DATA, "Parameter signer pada Set Signature berupa satu object, bukan array")
    if raw is None:
        raise Rejected(errors.INVALID_DATA, "Parameter signer wajib diisi")
    services.order_set_signer(order=order, signer_box=signer_box_parse(raw=raw))
    return ok("Success", {"orderId": str(order.pk)})


def op_get_otp_bulk(p: Mapping[str, Any]) -> Reply:
    bulk, otp = services.bulk_otp_issue(params=p)
    return ok(
        "Success",
        {"token": otp.token, "systemId": bulk.system_id, "phone": otp.user.phone, "orderIdBulk": str(bulk.pk)},
    )


def op_signing_bulk(p: Mapping[str, Any]) -> Reply:
    bulk = services.bulk_get(order_id_bulk=validation.text(p, "orderIdBulk", max_len=100))
    otp_code = validation.text(p, "otpCodeBulk", max_len=6)
    token = validation.text(p, "tokenBulk", max_len=32)
    orders = services.bulk_sign(bulk=bulk, otp=otp_code, token=token)
    return ok("Success", [{"orderId": str(o.pk), "fileName": f"{o.pk}_{o.document.file_name}"} for o in orders])


def op_set_key(p: Mapping[str, Any]) -> Reply:
    key = services.signing_key_set(params=p)
    return ok("Success", {"expiredDate": jakarta(key.expires_at)})


def op_signing_system(p: Mapping[str, Any]) -> Reply:
    services.system_sign(params=p)
    return ok("Success")


@dataclass(frozen=True)
class Operation:
    name: str
    envelope: str
    handler: Callable[[Mapping[str, Any]], Reply]
    authenticated: bool = True


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("getJsonWebToken", PARAM, op_get_jwt, authenticated=False),
        Operation("registration", PARAM, op_registration),
        Operation("activation", PARAM, op_activation),
        Operation("videoVerification", PARAM, op_video_verification),
        Operation("sendSpeciment", PARAM, op_send_specimen),
        Operation("checkCertificate", PARAM, op_check_certificate),
        Operation("sendDocument", PARAM, op_send_document),
        Operation("viewDocument", PARAM, op_view_document),
        Operation("getOtp", PARAM, op_get_otp),
        Operation("signing", REQUEST_SIGNING, op_signing),
        Operation("checkDocumentStatus", PARAM, op_check_document_status),
        Operation("downloadDocument", PARAM, op_download_document),
        Operation("sendDocumentTier", PARAM, op_send_document_tier),
        Operation("signingTier", REQUEST_SIGNING, op_signing_tier),
        Operation("sendDocumentBulk", PARAM, op_send_document_bulk),
        Operation("setSignature", REQUEST_SET_SIGNATURE, op_set_signature),
        Operation("getOtpBulk", REQUEST_GET_OTP_BULK, op_get_otp_bulk),
        Operation("signingBulk", REQUEST_SIGNING, op_signing_bulk),
        Operation("setKey", PARAM, op_set_key),
        Operation("signingSystem", PARAM, op_signing_system),
    )
}


def namespaces() -> tuple[str, ...]:
    """Accepted namespaces: Peruri's default plus any partner namespace (SANDBOX_NAMESPACES)."""
    extra = tuple(getattr(settings, "SANDBOX_NAMESPACES", ()))
    return (NAMESPACE, *extra)


def resolve(path: str) -> Operation | None:
    path = path.strip("/")
    if path in JWT_PATHS:
        return OPERATIONS["getJsonWebToken"]
    parts = path.split("/")
    if len(parts) != 4 or parts[0] not in namespaces() or parts[1] != "1.0" or parts[3] != "v1":
        return None
    op = OPERATIONS.get(parts[2])
    return op if op is not None and op.authenticated else None


# --------------------------------------------------------------------------------------------- gateway errors


def gateway_error(request: HttpRequest, status: int, message: str, *, path: str = "") -> HttpResponse:
    """The webMethods-style `{"Exception": "API Gateway encountered an error. ..."}` body."""
    parts = path.strip("/").split("/")
    service = parts[0] if parts and parts[0] else "-"
    operation = "/" + "/".join(parts[2:]) if len(parts) > 2 else "/" + path.strip("/")
    now = timezone.now().astimezone(JAKARTA)
    text = (
        f"API Gateway encountered an error. Error Message: {message}. Request Details: "
        f"Service - {service}, Version - 1.0, Operation - {operation}, "
        f"Invocation Time:{now:%H:%M:%S}, Date:{now:%b %d, %Y}, "
        f"Client IP - {request.META.get('REMOTE_ADDR', '-')}, User - Default and Application:null"
    )
    return _quiet(JsonResponse({"Exception": text}, status=status))


def _quiet(response: HttpResponse) -> HttpResponse:
    """A simulated failure is not a server error: keep it out of django.request's ERROR log."""
    if response.status_code >= 500:
        logger.info("sandbox: simulated HTTP %s", response.status_code)
        response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def api_key_ok(request: HttpRequest) -> bool:
    given = request.headers.get("x-Gateway-APIKey", "")
    return bool(given) and hmac.compare_digest(given.encode(), str(settings.SANDBOX_API_KEY).encode())


def _authorize(request: HttpRequest, op: Operation, path: str) -> HttpResponse | None:
    if not api_key_ok(request):
        return gateway_error(request, 401, "Unauthorized application request", path=path)
    if not op.authenticated:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return gateway_error(request, 401, "Unauthorized application request. JWT token is missing", path=path)
    try:
        jwt.decode(token.strip())
    except jwt.InvalidToken as exc:
        message = "JWT token has expired" if exc.reason == "expired" else "JWT token is invalid"
        return gateway_error(request, 401, f"Unauthorized application request. {message}", path=path)
    return None


# --------------------------------------------------------------------------------------------- the view


def _reply_json(reply: Reply | Rejected) -> dict[str, Any]:
    if isinstance(reply, Rejected):
        return {"resultCode": reply.code, "resultDesc": reply.desc}
    body: dict[str, Any] = {"resultCode": errors.OK, "resultDesc": reply.desc}
    if reply.has_data:
        body["data"] = reply.data
    return body


def _all_strings(value: Any, where: str) -> None:
    """Every leaf value must be a string ([doc]: "Every value is a string")."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            _all_strings(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _all_strings(item, f"{where}[{index}]")
    elif value is not None and not isinstance(value, str):
        raise Rejected(errors.INVALID_DATA, f"Parameter {where} harus berupa string")


def _run(request: HttpRequest, op: Operation) -> dict[str, Any]:
    limit = int(getattr(settings, "SANDBOX_MAX_BODY_BYTES", 64 * 1024 * 1024))
    raw = request.read(limit + 1)
    try:
        # The document's header table: `Content-Type: application/json` on every call [assumed: 1008].
        if (request.content_type or "").lower() != "application/json":
            raise Rejected(errors.INVALID_DATA, "Header Content-Type harus application/json")
        if len(raw) > limit:
            raise Rejected(errors.INVALID_DATA, f"Ukuran request melebihi batas {limit // (1024 * 1024)} MB")
        try:
            body = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise Rejected(errors.INVALID_DATA, "Format request tidak valid (JSON)") from exc
        if not isinstance(body, Mapping):
            raise Rejected(errors.INVALID_DATA, "Format request tidak valid (JSON object)")
        params = body.get(op.envelope)
        if not isinstance(params, Mapping):
            raise Rejected(errors.INVALID_DATA, f"Parameter {op.envelope} wajib diisi")
        _all_strings(params, "")
        return _reply_json(op.handler(params))
    except Rejected as rejected:
        return _reply_json(rejected)


@csrf_exempt
def gateway(request: HttpRequest, path: str) -> HttpResponse:
    op = resolve(path)
    if op is None:
        return gateway_error(request, 500, "API resource not found", path=path)
    if request.method != "POST":
        return gateway_error(request, 500, f"HTTP method {request.method} is not supported by this resource", path=path)
    denied = _authorize(request, op, path)
    if denied is not None:
        return denied

    decision = faults.fault_decide(operation=op.name)
    if decision is not None and decision.latency_ms:
        time.sleep(decision.latency_ms / 1000)
    if decision is not None and decision.kind and decision.when == "before":
        return _fault_response(request, decision, path=path, body=None)
    body = _run(request, op)
    if decision is not None and decision.kind:
        return _fault_response(request, decision, path=path, body=body)
    return JsonResponse(body)


def _fault_response(
    request: HttpRequest, decision: faults.Decision, *, path: str, body: dict[str, Any] | None
) -> HttpResponse:
    """The injected fault. `body` is the real reply when the operation was applied ("after")."""
    kind = decision.kind
    logger.info("sandbox: injecting %s (%s) on %s", kind, decision.when, path)
    if kind == "http500":
        return _quiet(
            HttpResponse(
                "<html><head><title>500 Internal Server Error</title></head>"
                "<body><h1>Internal Server Error</h1></body></html>",
                status=500,
                content_type="text/html",
            )
        )
    if kind == "gateway_exception":
        return gateway_error(request, 500, "Native service invocation failed: backend connection error", path=path)
    if kind == "read_timeout":
        time.sleep(decision.hang_seconds)
        if body is None:
            return gateway_error(request, 500, "Native service invocation failed: Read timed out", path=path)
        return JsonResponse(body)
    if kind == "connection_reset":
        if not faults.drop_connection(request):
            return gateway_error(request, 500, "Connection reset by peer", path=path)
        return _quiet(HttpResponse(b"", status=500))
    # malformed_json: a reply cut short, served as JSON.
    text = json.dumps(body if body is not None else {"resultCode": "0", "resultDesc": "Success"})
    return HttpResponse(text[: max(1, len(text) // 2)], content_type="application/json")
