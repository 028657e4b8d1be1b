"""The signer's side: OTP, Signing, and the embedded web view's callback.

* The OTP is typed by the signer and goes straight to Peruri's Signing call: it is never stored,
  logged or put in a task (R8, R15). The Get OTP ``token`` that goes with it lives in the shared
  cache for the OTP's lifetime.
* OTP requests have a resend cool-down; OTP entry is rate limited per user and per document in the
  shared cache (R15).
* Signing commits the in-flight state SIGNING before the call; an unknown outcome goes to
  NEEDS_RECONCILIATION, settled by Check Document Status (R2, R6).
* Get OTP and Signing run inside the signer's web request, so they wait on Peruri at most
  SIGNING_WEB_READ_TIMEOUT seconds (R1; set for those two operations through PERURI_TIMEOUTS, which
  signing.gateway reads). A Signing call that times out is an unknown outcome like any other: the
  page says "we are checking", and Peruri's "WAITING_SIGNATURE" counts as "not signed" only after
  SIGNING_UNKNOWN_OUTCOME_GRACE seconds, since Peruri may finish the call after we stopped waiting.
* A web-view callback is only a hint: it asks for a status check now (R11).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from documents.models import Document, DocumentEvent
from documents.services import (
    DocumentError,
    _backoff,
    _check_box,
    _client,
    _error_text,
    _lease,
    _outcome,
    document_check_now,
    document_transition,
    event_record,
    peruri_call,
    signer_for,
)
from signing import ratelimit

logger = logging.getLogger(__name__)

S = Document.Status
OTP_RE = re.compile(r"^\d{6}$")


class SigningError(Exception):
    """The signer's action did not work. ``message`` is translated and safe to show; ``kind`` lets
    pages and tests tell the cases apart."""

    def __init__(self, kind: str, message: str, *, seconds: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.seconds = seconds


@dataclass(frozen=True)
class OtpSent:
    cooldown: int
    phone_hint: str = ""


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _otp_key(document: Document, user: Any) -> str:
    return f"signing:otp:{document.pk}:{user.pk}"


def otp_cooldown_left(*, document: Document) -> int:
    return ratelimit.cooldown_left(f"otp:{document.pk}")


def otp_pending(*, document: Document, user: Any) -> bool:
    """True while a code requested by this signer for this document can still be used."""
    return cache.get(_otp_key(document, user)) is not None


def _unavailable(exc: Any) -> SigningError:
    return SigningError("unavailable", _("Peruri is not available right now. Please try again in a few minutes."))


def _require_awaiting(document: Document) -> None:
    if document.status != S.AWAITING_SIGNATURE:
        raise SigningError("not_ready", _("This document cannot be signed right now."))


# ------------------------------------------------------------------------------------ OTP


def otp_request(*, document: Document, user: Any) -> OtpSent:
    """Get OTP: Peruri sends a 6-digit code to the signer's e-mail/phone. Raises SigningError
    (cooldown, rate_limited, unavailable, failed, not_ready)."""
    _require_awaiting(document)
    cooldown = _setting("SIGNING_OTP_RESEND_SECONDS", 60)
    left = ratelimit.cooldown_start(f"otp:{document.pk}", seconds=cooldown)
    if left:
        raise SigningError(
            "cooldown",
            ngettext(
                "A code was just sent. You can ask for a new one in %(seconds)d second.",
                "A code was just sent. You can ask for a new one in %(seconds)d seconds.",
                left,
            )
            % {"seconds": left},
            seconds=left,
        )
    if not (
        ratelimit.hit(f"otp-doc:{document.pk}", limit=_setting("SIGNING_OTP_REQUESTS_PER_HOUR", 5), window=3600)
        and ratelimit.hit(f"otp-user:{user.pk}", limit=_setting("SIGNING_OTP_REQUESTS_PER_HOUR_USER", 15), window=3600)
    ):
        raise SigningError("rate_limited", _("Too many codes were requested. Please wait an hour and try again."))

    from peruri import PeruriError, PeruriRejected

    order_id = document.peruri_order_id
    assert order_id
    try:
        challenge = peruri_call(document, "get_otp", lambda: _client().get_otp(order_id=order_id), actor=user)
    except PeruriRejected as exc:
        ratelimit.cooldown_clear(f"otp:{document.pk}")
        event_record(document=document, kind=DocumentEvent.Kind.OTP_REQUESTED, actor=user, outcome="rejected", code=exc.code)
        if exc.code == "03":
            # Already signed or expired at Peruri: find out which.
            document_check_now(document=document, actor=user, reason="otp_03")
            raise SigningError("checking", _("Peruri says this document is already signed or has expired. We are checking.")) from exc
        raise SigningError(
            "failed", _("Peruri could not send a code (code %(code)s).") % {"code": exc.code or "?"}
        ) from exc
    except PeruriError as exc:
        if _outcome(exc) != "unknown":
            ratelimit.cooldown_clear(f"otp:{document.pk}")
        event_record(document=document, kind=DocumentEvent.Kind.OTP_REQUESTED, actor=user, outcome=_outcome(exc))
        if _outcome(exc) == "unknown":
            raise SigningError(
                "unknown",
                _("We could not confirm that a code was sent. If none arrives, ask for a new one in a minute."),
            ) from exc
        raise _unavailable(exc) from exc
    # A new code replaces the previous one; its wrong-try count starts again.
    cache.set(
        _otp_key(document, user),
        {"token": challenge.token, "at": time.time(), "wrong": 0},
        timeout=_setting("SIGNING_OTP_TTL", 300),
    )
    event_record(document=document, kind=DocumentEvent.Kind.OTP_REQUESTED, actor=user, outcome="ok")
    phone = getattr(challenge, "phone", None) or ""
    return OtpSent(cooldown=cooldown, phone_hint=("•••" + phone[-3:]) if len(phone) >= 3 else "")


# ------------------------------------------------------------------------------------ signing


def _back_to_awaiting(document: Document, *, exc: Any = None) -> None:
    document_transition(
        document,
        frm=(S.SIGNING,),
        to=S.AWAITING_SIGNATURE,
        kind=None,
        inflight_since=None,
        next_poll_at=timezone.now() + _backoff(S.AWAITING_SIGNATURE, document.poll_count + 1),
        last_error=_error_text(exc) if exc is not None else "",
        last_error_code=(getattr(exc, "code", None) or "") if exc is not None else "",
    )


def _to_reconciliation(document: Document, exc: Any, *, actor: Any, outcome_unknown: bool) -> None:
    """Settle the Signing call through Check Document Status. When its outcome is unknown (a
    timeout, a lost reply), ``inflight_since`` stays: Peruri may still be working on the call, so
    the poller does not read "WAITING_SIGNATURE" as "not signed" too early."""
    now = timezone.now()
    with transaction.atomic():
        moved = document_transition(
            document,
            frm=(S.SIGNING,),
            to=S.NEEDS_RECONCILIATION,
            kind=DocumentEvent.Kind.NEEDS_RECONCILIATION,
            actor=actor,
            operation="sign",
            reconcile_operation=Document.Reconcile.SIGN,
            inflight_since=document.inflight_since if outcome_unknown else None,
            last_error=_error_text(exc),
            last_error_code=getattr(exc, "code", None) or "",
            poll_count=0,
            poll_queued=True,
            next_poll_at=now + _lease(),
        )
        if moved:
            from documents.tasks import document_poll

            document_poll.delay_on_commit(document.pk)


def document_sign(*, document: Document, user: Any, otp_code: str, box: dict[str, int] | None = None) -> None:
    """Signing with the OTP the signer typed. ``box`` only when the signer places the signature.

    Returns when Peruri accepted the signature (the document is CONFIRMING and the follow-through
    task is enqueued). Raises SigningError: rate_limited, no_code, wrong_otp, too_many_wrong,
    expired, busy, unavailable, checking (outcome unknown: reconciling), failed, not_ready,
    placement.
    """
    _require_awaiting(document)
    if document.signer_id != user.pk:
        raise SigningError("not_ready", _("This document cannot be signed right now."))
    if not OTP_RE.match(otp_code or ""):
        raise SigningError("wrong_otp", _("Enter the 6-digit code."))
    if not (
        ratelimit.hit(f"sign-doc:{document.pk}", limit=_setting("SIGNING_ATTEMPTS_PER_WINDOW", 5), window=900)
        and ratelimit.hit(f"sign-user:{user.pk}", limit=_setting("SIGNING_ATTEMPTS_PER_WINDOW_USER", 10), window=900)
    ):
        raise SigningError("rate_limited", _("Too many attempts. Please wait 15 minutes and try again."))
    state = cache.get(_otp_key(document, user))
    if not state:
        raise SigningError("no_code", _("Your code has expired or was not requested yet. Ask for a new code."))

    signers = None
    if document.placed_by == Document.PlacedBy.SIGNER:
        if not box:
            raise SigningError("placement", _("Draw where your signature goes first."))
        try:
            _check_box(document, box["page"], box["llx"], box["lly"], box["urx"], box["ury"])
            signers = [signer_for(document, box)]
        except (DocumentError, KeyError, TypeError, ValueError) as exc:
            message = exc.message if isinstance(exc, DocumentError) else _("The signature box is not valid.")
            raise SigningError("placement", message) from exc
    else:
        # Staff placed the signature: a box in the request is not used, nor recorded.
        box = None

    # In flight: committed before the call; a crash leaves SIGNING for housekeeping to reconcile.
    started = timezone.now()
    if not Document.objects.filter(pk=document.pk, status=S.AWAITING_SIGNATURE).update(
        status=S.SIGNING, inflight_since=started, next_poll_at=None, poll_queued=False, updated_at=started
    ):
        raise SigningError("not_ready", _("This document cannot be signed right now."))
    document.status = S.SIGNING
    document.inflight_since = started
    event_record(
        document=document,
        kind=DocumentEvent.Kind.SIGN_ATTEMPTED,
        actor=user,
        box=[box["llx"], box["lly"], box["urx"], box["ury"]] if box else None,
        page=box["page"] if box else None,
    )

    from peruri import PeruriError, PeruriRejected, PeruriUnavailable

    order_id = document.peruri_order_id
    assert order_id
    try:
        peruri_call(
            document,
            "sign",
            lambda: _client().sign(order_id=order_id, otp_code=otp_code, token=state["token"], signers=signers),
            actor=user,
        )
    except PeruriRejected as exc:
        _sign_rejected(document, user, exc, state)
    except PeruriUnavailable as exc:
        _back_to_awaiting(document, exc=exc)
        raise _unavailable(exc) from exc
    except PeruriError as exc:
        if _outcome(exc) == "unknown":
            cache.delete(_otp_key(document, user))
            _to_reconciliation(document, exc, actor=user, outcome_unknown=True)
            raise SigningError(
                "checking", _("We could not confirm your signature with Peruri yet. We are checking — this page will update.")
            ) from exc
        _back_to_awaiting(document, exc=exc)
        if exc.retryable:
            raise SigningError("busy", _("Peruri's signing service is busy. Please try again in a minute.")) from exc
        logger.error("document %s: Signing failed without reaching Peruri: %s", document.pk, type(exc).__name__)
        raise _unavailable(exc) from exc
    except (TypeError, ValueError) as exc:
        _back_to_awaiting(document)
        raise SigningError("placement", _("The signature box is not valid.")) from exc

    cache.delete(_otp_key(document, user))
    now = timezone.now()
    with transaction.atomic():
        moved = document_transition(
            document,
            frm=(S.SIGNING,),
            to=S.CONFIRMING,
            kind=DocumentEvent.Kind.SIGNED_AT_PERURI,
            actor=user,
            inflight_since=None,
            signed_at=now,
            peruri_status="",
            poll_count=0,
            poll_queued=True,
            next_poll_at=now + _lease(),
            last_error="",
            last_error_code="",
        )
        if moved:
            if box:
                Document.objects.filter(pk=document.pk).update(
                    sig_page=box["page"], sig_llx=box["llx"], sig_lly=box["lly"], sig_urx=box["urx"], sig_ury=box["ury"]
                )
            # Follow through right away; the beat poller is only the safety net.
            from documents.tasks import document_poll

            document_poll.delay_on_commit(document.pk)


def _sign_rejected(document: Document, user: Any, exc: Any, state: dict[str, Any]) -> None:
    code = exc.code or ""
    key = _otp_key(document, user)
    if code == "01":
        _back_to_awaiting(document, exc=exc)
        wrong = int(state.get("wrong", 0)) + 1
        allowed = _setting("SIGNING_OTP_WRONG_TRIES", 3)
        if wrong >= allowed:
            cache.delete(key)
            raise SigningError("too_many_wrong", _("Too many wrong codes. Ask for a new code.")) from exc
        remaining = max(1, int(state["at"] + _setting("SIGNING_OTP_TTL", 300) - time.time()))
        cache.set(key, {**state, "wrong": wrong}, timeout=remaining)
        left = allowed - wrong
        raise SigningError(
            "wrong_otp",
            ngettext(
                "That code is not right. You have %(left)d more try.",
                "That code is not right. You have %(left)d more tries.",
                left,
            )
            % {"left": left},
        ) from exc
    if code in ("02", "4026"):
        cache.delete(key)
        _back_to_awaiting(document, exc=exc)
        raise SigningError("expired", _("Your code has expired or is no longer valid. Ask for a new code.")) from exc
    if code == "03":
        # "Already signed or expired": Peruri's status says which.
        cache.delete(key)
        _to_reconciliation(document, exc, actor=user, outcome_unknown=False)
        raise SigningError("checking", _("Peruri says this document is already signed or has expired. We are checking.")) from exc
    if code in ("4003", "4004"):
        _back_to_awaiting(document, exc=exc)
        raise SigningError("busy", _("Peruri's signing service is busy. Please try again in a minute.")) from exc
    # Anything else (no certificate, bad coordinates, unknown codes...) is a permanent failure that
    # keeps its code; staff see it and can retry.
    cache.delete(key)
    document_transition(
        document,
        frm=(S.SIGNING,),
        to=S.FAILED,
        kind=DocumentEvent.Kind.FAILED,
        actor=user,
        operation="sign",
        inflight_since=None,
        last_error=_error_text(exc),
        last_error_code=code,
        finished_at=timezone.now(),
    )
    raise SigningError(
        "failed", _("Peruri refused the signature (code %(code)s). The sender has been told.") % {"code": code or "?"}
    ) from exc


# ------------------------------------------------------------------------------------ web view


_CODE_RE = re.compile(r"^[0-9A-Za-z]{1,8}$")


def webview_callback(*, document: Document, user: Any, message: dict[str, Any]) -> bool:
    """The signing web view posted ``signDocument``. Validate the shape, record the hint and ask for
    a status check now (rate limited). Returns True when a check was requested. Raises
    SigningError("invalid") for a malformed message."""
    if not isinstance(message, dict):
        raise SigningError("invalid", _("The message from the signing page was not understood."))
    func = message.get("func")
    if func not in (None, "") and func != settings.PERURI_WEBVIEW_CALLBACKS["signing"]:
        raise SigningError("invalid", _("The message from the signing page was not understood."))
    if message.get("kind") not in (None, "", "signing"):
        raise SigningError("invalid", _("The message from the signing page was not understood."))
    code = message.get("resultCode")
    desc = message.get("resultDesc", "")
    order_id = message.get("orderId")
    if not isinstance(code, str) or not _CODE_RE.match(code):
        raise SigningError("invalid", _("The message from the signing page was not understood."))
    if not isinstance(desc, str) or len(desc) > 255:
        raise SigningError("invalid", _("The message from the signing page was not understood."))
    if order_id not in (None, "") and str(order_id) != document.peruri_order_id:
        raise SigningError("invalid", _("The message from the signing page was not understood."))
    if not ratelimit.hit(f"check-user:{user.pk}", limit=_setting("SIGNING_CHECKS_PER_HOUR", 60), window=3600):
        raise SigningError("rate_limited", _("Too many checks. Please wait a little."))
    # Only the code is kept: the description is untrusted free text from the browser.
    event_record(document=document, kind=DocumentEvent.Kind.CALLBACK, actor=user, code=code)
    if ratelimit.cooldown_start(f"check:{document.pk}", seconds=_setting("SIGNING_CHECK_COOLDOWN", 5)):
        return False
    return document_check_now(document=document, actor=user, reason="webview")


def signer_documents_pending_check(*, document: Document) -> bool:
    """True while Paraf is still finding out the result of a signature (the page refreshes)."""
    return document.status in (S.SIGNING, S.CONFIRMING) or (
        document.status in (S.NEEDS_RECONCILIATION, S.AWAITING_SIGNATURE)
        and document.poll_queued
        and document.peruri_order_id is not None
    ) or (document.status == S.NEEDS_RECONCILIATION and document.reconcile_operation == Document.Reconcile.SIGN)


__all__ = [
    "OtpSent",
    "SigningError",
    "document_sign",
    "otp_cooldown_left",
    "otp_pending",
    "otp_request",
    "webview_callback",
]
