"""Writes for documents: upload, placement, sending, the follow-through (status → download → verify),
staff actions. Signing itself (OTP, Signing, web-view callbacks) is in ``signing/services.py``.

Rules every function here keeps (RELIABILITY-SECURITY 2, 5–8):

* Peruri is called only through ``signing.gateway.get_peruri_client()``, never inside an open
  transaction.
* A create/sign call starts only after a compare-and-set into an "in flight" status has committed
  (QUEUED → SENDING, AWAITING_SIGNATURE → SIGNING). A call whose outcome is unknown leads to
  NEEDS_RECONCILIATION, never to a blind re-send.
* State changes are compare-and-set updates on the current status: a task that runs twice, or two
  copies at once, has one effect.
* Tasks are enqueued with ``delay_on_commit`` and get ids only.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from documents.models import Document, DocumentEvent
from documents.pdf import PdfInvalid, file_name_sanitize, pdf_inspect
from documents.verification import ExpectedSigner, TrustRootsUnavailable, pdf_verify

logger = logging.getLogger(__name__)

S = Document.Status
T = TypeVar("T")


class DocumentError(Exception):
    """A staff/signer action is not possible now. ``message`` is translated and safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ------------------------------------------------------------------------------------ settings


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def _lease() -> timedelta:
    """How long a dispatched row waits for its task before the poller dispatches it again."""
    return timedelta(seconds=_setting("DOCUMENT_POLL_DISPATCH_LEASE", 600))


def _jitter(seconds: float) -> timedelta:
    # ±10 % so that many documents sent together do not poll in lockstep.
    return timedelta(seconds=seconds * random.uniform(0.9, 1.1))  # noqa: S311 - not security


def _backoff(status: str, attempt: int) -> timedelta:
    """When to look again at a row in ``status`` after its ``attempt``-th look (1-based)."""
    attempt = max(1, attempt)
    if status == S.QUEUED:
        schedule = _setting("DOCUMENT_SEND_RETRY_SECONDS", [10, 30, 60, 120, 300, 600])
        return _jitter(schedule[min(attempt, len(schedule)) - 1])
    if status == S.AWAITING_SIGNATURE:
        first = _setting("DOCUMENT_POLL_AWAITING_FIRST", 600)
        cap = _setting("DOCUMENT_POLL_AWAITING_MAX", 6 * 3600)
        return _jitter(min(cap, first * 2 ** (attempt - 1)))
    # CONFIRMING / NEEDS_RECONCILIATION: Peruri has (probably) signed; fetch the copy soon.
    schedule = _setting("DOCUMENT_POLL_CONFIRM_SECONDS", [2, 5, 15, 30, 60, 120, 300, 600, 1800])
    return _jitter(schedule[min(attempt, len(schedule)) - 1])


def _client() -> Any:
    from signing.gateway import get_peruri_client

    return get_peruri_client()


# ------------------------------------------------------------------------------------ events


def event_record(*, document: Document, kind: str, actor: Any = None, **data: Any) -> DocumentEvent:
    """Append one line to the document's history. ``data``: ids, codes, statuses — never secrets."""
    clean = {k: v for k, v in data.items() if v not in (None, "")}
    return DocumentEvent.objects.create(
        document_id=document.pk,
        kind=kind,
        actor=actor if getattr(actor, "pk", None) else None,
        data=clean,
    )


def _outcome(exc: BaseException) -> str:
    from peruri import outcome_of

    return outcome_of(exc)


def _error_text(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    description = getattr(exc, "description", None) or str(exc)
    text = f"{type(exc).__name__}"
    if code:
        text += f" [{code}]"
    if description:
        text += f": {description}"
    return text[:500]


def peruri_call(document: Document, operation: str, fn: Callable[[], T], *, actor: Any = None) -> T:
    """Run one Peruri call for ``document`` and record it on the timeline (operation, outcome,
    code, duration). The gateway keeps its own PeruriCall row for the admin as well."""
    from peruri import PeruriError
    from signing.gateway import peruri_subject

    started = time.monotonic()
    try:
        with peruri_subject(document, object_type="documents.document", object_id=document.pk):
            result = fn()
    except PeruriError as exc:
        event_record(
            document=document,
            kind=DocumentEvent.Kind.PERURI_CALL,
            actor=actor,
            operation=operation,
            outcome=_outcome(exc),
            code=exc.code,
            ms=int((time.monotonic() - started) * 1000),
        )
        raise
    event_record(
        document=document,
        kind=DocumentEvent.Kind.PERURI_CALL,
        actor=actor,
        operation=operation,
        outcome="ok",
        ms=int((time.monotonic() - started) * 1000),
    )
    return result


def _enqueue_poll(document_id: int) -> None:
    from documents.tasks import document_poll

    document_poll.delay_on_commit(document_id)


def _request_poll(*, document_id: int, statuses: tuple[str, ...] = Document.POLLED_STATUSES) -> bool:
    """Mark the row as "a task is on its way" and enqueue that task after commit."""
    with transaction.atomic():
        updated = Document.objects.filter(pk=document_id, status__in=statuses).update(
            poll_queued=True, next_poll_at=timezone.now() + _lease()
        )
        if updated:
            _enqueue_poll(document_id)
    return bool(updated)


# ------------------------------------------------------------------------------------ upload


def document_create(
    *, uploaded_file: File, title: str, signer_email: str, signer_name: str = "", actor: Any
) -> Document:
    """Store an uploaded PDF after checking it for real (pdf_inspect). Raises PdfInvalid; then
    nothing is left behind (no row, no file, no signer account)."""
    from accounts.services import user_get_or_create_signer

    info = pdf_inspect(stream=uploaded_file, max_bytes=settings.DOCUMENT_MAX_BYTES)
    file_name = file_name_sanitize(getattr(uploaded_file, "name", "") or title or "document.pdf")
    document = Document(
        title=(title or file_name[:-4]).strip()[:200],
        file_name=file_name,
        sha256=info.sha256,
        size_bytes=info.size,
        page_count=info.page_count,
        pages=[p.as_json() for p in info.pages],
        created_by=actor,
    )
    uploaded_file.seek(0)
    document.original.save("original.pdf", File(uploaded_file), save=False)
    try:
        with transaction.atomic():
            document.signer = user_get_or_create_signer(email=signer_email, full_name=signer_name)
            document.save()
            event_record(
                document=document,
                kind=DocumentEvent.Kind.UPLOADED,
                actor=actor,
                sha256=info.sha256,
                pages=info.page_count,
                bytes=info.size,
            )
    except BaseException:
        document.original.delete(save=False)
        raise
    return document


def _check_box(document: Document, page: int, llx: int, lly: int, urx: int, ury: int) -> None:
    """The box must lie on the visible part of the page. Coordinates are whole PDF points in the
    page's own user space (what the signature widget's /Rect uses; static/js/placement.js), so
    they are checked against the crop box as stored, whatever the page's /Rotate."""
    if not 1 <= page <= document.page_count:
        raise DocumentError(_("The page does not exist in this document."))
    x0, y0, x1, y1 = document.pages[page - 1]["crop"]
    # Whole points inside the crop box, as static/js/placement.js rounds them (ceil/floor): Peruri
    # refuses a box that sticks out by a fraction of a point (4012) — and the order would fail.
    x0, x1 = math.ceil(min(x0, x1) - 1e-6), math.floor(max(x0, x1) + 1e-6)
    y0, y1 = math.ceil(min(y0, y1) - 1e-6), math.floor(max(y0, y1) + 1e-6)
    if not (x0 <= llx < urx <= x1 and y0 <= lly < ury <= y1):
        raise DocumentError(_("The signature box must lie inside the page."))
    if max(llx, lly, urx, ury) > 999 or min(llx, lly) < 0:
        raise DocumentError(_("Peruri cannot place a signature this far into the page."))
    if urx - llx < 10 or ury - lly < 10:
        raise DocumentError(_("The signature box is too small."))


def document_place(
    *,
    document: Document,
    actor: Any,
    placed_by: str,
    page: int | None = None,
    llx: int | None = None,
    lly: int | None = None,
    urx: int | None = None,
    ury: int | None = None,
    visible: bool = True,
    certification_level: str = Document.CertificationLevel.NOT_CERTIFIED,
    location: str = "",
    reason: str = "",
) -> Document:
    """Set where and how the signature goes, while the document is a draft. Raises DocumentError."""
    if certification_level not in Document.CertificationLevel.values:
        raise DocumentError(_("Choose a certification level."))
    box: dict[str, int | None] = {"sig_page": None, "sig_llx": None, "sig_lly": None, "sig_urx": None, "sig_ury": None}
    if placed_by == Document.PlacedBy.STAFF:
        if None in (page, llx, lly, urx, ury):
            raise DocumentError(_("Draw the signature box on a page first."))
        assert page is not None and llx is not None and lly is not None and urx is not None and ury is not None
        _check_box(document, page, llx, lly, urx, ury)
        box = {"sig_page": page, "sig_llx": llx, "sig_lly": lly, "sig_urx": urx, "sig_ury": ury}
    elif placed_by != Document.PlacedBy.SIGNER:
        raise DocumentError(_("Choose who places the signature."))
    fields = {
        "placed_by": placed_by,
        **box,
        "sig_visible": bool(visible),
        "certification_level": certification_level,
        "sig_location": (location or "").strip()[:100],
        "sig_reason": (reason or "").strip()[:100],
    }
    with transaction.atomic():
        updated = Document.objects.filter(pk=document.pk, status=S.DRAFT).update(updated_at=timezone.now(), **fields)
        if not updated:
            raise DocumentError(_("The signature can only be placed before the document is sent."))
        event_record(
            document=document,
            kind=DocumentEvent.Kind.PLACED,
            actor=actor,
            placed_by=placed_by,
            page=box["sig_page"],
            box=[box["sig_llx"], box["sig_lly"], box["sig_urx"], box["sig_ury"]] if box["sig_page"] else None,
            visible=bool(visible),
            level=certification_level,
        )
    document.refresh_from_db()
    return document


def signer_for(document: Document, box: dict[str, int] | None = None) -> Any:
    """The peruri.Signer for this document: its stored box, or ``box`` chosen by the signer."""
    from peruri import Signer

    if box is None:
        if document.sig_page is None:
            return None
        box = {
            "page": document.sig_page,
            "llx": document.sig_llx,
            "lly": document.sig_lly,
            "urx": document.sig_urx,
            "ury": document.sig_ury,
        }
    return Signer(
        int(box["page"]),
        int(box["llx"]),
        int(box["lly"]),
        int(box["urx"]),
        int(box["ury"]),
        visible=document.sig_visible,
        certification_level=document.certification_level,  # type: ignore[arg-type]
        location=document.sig_location,
        reason=document.sig_reason,
    )


# ------------------------------------------------------------------------------------ send


def signer_has_certificate(user: Any) -> bool:
    from certificates.selectors import user_has_certificate

    return bool(user_has_certificate(user=user))


def document_send_request(*, document: Document, actor: Any) -> Document:
    """Staff ask to send a draft to its signer. The Send Document call happens in a task.
    Raises DocumentError when the signer has no certificate or the placement is missing."""
    if document.status != S.DRAFT:
        raise DocumentError(_("Only a draft can be sent."))
    if not signer_has_certificate(document.signer):
        raise DocumentError(
            _("%(signer)s has no Peruri certificate yet. Invite them to enrol first.")
            % {"signer": document.signer.email}
        )
    if document.placed_by == Document.PlacedBy.STAFF and not document.has_box:
        raise DocumentError(_("Place the signature box first, or leave the placement to the signer."))
    with transaction.atomic():
        updated = Document.objects.filter(pk=document.pk, status=S.DRAFT).update(
            status=S.QUEUED,
            poll_queued=True,
            poll_count=0,
            next_poll_at=timezone.now() + _lease(),
            last_error="",
            last_error_code="",
        )
        if not updated:
            raise DocumentError(_("Only a draft can be sent."))
        event_record(document=document, kind=DocumentEvent.Kind.SEND_QUEUED, actor=actor)
        _enqueue_poll(document.pk)
    document.refresh_from_db()
    return document


def _send(document: Document) -> None:
    """Send Document for a QUEUED row (called by the poll task after it claimed the row)."""
    from peruri import PeruriError

    now = timezone.now()
    # The in-flight state commits before the call: a crash from here on leaves SENDING, which
    # housekeeping turns into NEEDS_RECONCILIATION — never a second order.
    if not Document.objects.filter(pk=document.pk, status=S.QUEUED).update(
        status=S.SENDING, inflight_since=now, next_poll_at=None, poll_queued=False
    ):
        return
    signers = [signer_for(document)] if document.placed_by == Document.PlacedBy.STAFF else None
    try:
        with document.original.open("rb") as fh:
            result = peruri_call(
                document,
                "send_document",
                lambda: _client().send_document(
                    email=document.signer.email, file_name=document.file_name, pdf=fh, signers=signers
                ),
            )
    except PeruriError as exc:
        _send_failed(document, exc)
        return
    except (TypeError, ValueError) as exc:
        # The client refused our arguments before sending anything.
        document_transition(
            document,
            frm=(S.SENDING,),
            to=S.FAILED,
            kind=DocumentEvent.Kind.FAILED,
            operation="send_document",
            last_error=f"{type(exc).__name__}: {exc}"[:500],
            inflight_since=None,
            finished_at=timezone.now(),
        )
        return
    _send_succeeded(document, str(result.order_id))


def _send_succeeded(document: Document, order_id: str) -> None:
    now = timezone.now()
    try:
        with transaction.atomic():
            # NEEDS_RECONCILIATION too: housekeeping may have given up on a very slow call that did
            # come back with an order id after all — the id settles it.
            updated = Document.objects.filter(
                Q(status=S.SENDING) | Q(status=S.NEEDS_RECONCILIATION, reconcile_operation=Document.Reconcile.SEND),
                pk=document.pk,
                peruri_order_id__isnull=True,
            ).update(
                status=S.AWAITING_SIGNATURE,
                peruri_order_id=order_id,
                reconcile_operation="",
                inflight_since=None,
                sent_at=now,
                poll_count=0,
                poll_queued=False,
                next_poll_at=now + _backoff(S.AWAITING_SIGNATURE, 1),
                last_error="",
                last_error_code="",
            )
            if updated:
                event_record(document=document, kind=DocumentEvent.Kind.SENT, order_id=order_id)
                from documents.tasks import document_notify_signer

                document_notify_signer.delay_on_commit(document.pk)
    except IntegrityError:
        # Another document already holds this order id: the sandbox/gateway was reset, or ids clash.
        logger.error("document %s: Peruri order id %s is already used by another document", document.pk, order_id)
        document_transition(
            document,
            frm=(S.SENDING,),
            to=S.NEEDS_RECONCILIATION,
            kind=DocumentEvent.Kind.NEEDS_RECONCILIATION,
            operation="send_document",
            reconcile_operation=Document.Reconcile.SEND,
            last_error=f"Peruri returned order id {order_id}, which another document already has."[:500],
            inflight_since=None,
        )


def _send_failed(document: Document, exc: Any) -> None:
    outcome = _outcome(exc)
    if outcome in ("unknown",) or (outcome == "contract" and getattr(exc, "outcome_unknown", True)):
        # Peruri may have created the order. Nothing is sent again until staff reconcile (R2).
        document_transition(
            document,
            frm=(S.SENDING,),
            to=S.NEEDS_RECONCILIATION,
            kind=DocumentEvent.Kind.NEEDS_RECONCILIATION,
            operation="send_document",
            reconcile_operation=Document.Reconcile.SEND,
            last_error=_error_text(exc),
            last_error_code=exc.code or "",
            inflight_since=None,
        )
        return
    if exc.retryable:
        # Nothing reached Peruri (connection refused, breaker open, 4003/4004): try again later,
        # on the schedule, up to a limit; then staff see a failure they can retry.
        attempts = document.poll_count
        limit = len(_setting("DOCUMENT_SEND_RETRY_SECONDS", [10, 30, 60, 120, 300, 600]))
        if attempts < limit:
            document_transition(
                document,
                frm=(S.SENDING,),
                to=S.QUEUED,
                kind=None,
                last_error=_error_text(exc),
                last_error_code=exc.code or "",
                inflight_since=None,
                poll_queued=False,
                next_poll_at=timezone.now() + _backoff(S.QUEUED, attempts),
            )
            return
    document_transition(
        document,
        frm=(S.SENDING,),
        to=S.FAILED,
        kind=DocumentEvent.Kind.FAILED,
        operation="send_document",
        last_error=_error_text(exc),
        last_error_code=exc.code or "",
        inflight_since=None,
        finished_at=timezone.now(),
    )


def document_transition(
    document: Document,
    *,
    frm: tuple[str, ...],
    to: str,
    kind: str | None,
    actor: Any = None,
    extra_filter: Q | None = None,
    **fields: Any,
) -> bool:
    """Compare-and-set ``document`` from one of ``frm`` to ``to``; record an event when it moved."""
    # "operation" and "note" describe the event only; every other keyword is a model field.
    event_data = {k: fields.pop(k) for k in ("operation", "note") if k in fields}
    if "peruri_status" in fields:
        event_data["peruri_status"] = fields["peruri_status"]
    with transaction.atomic():
        qs = Document.objects.filter(pk=document.pk, status__in=frm)
        if extra_filter is not None:
            qs = qs.filter(extra_filter)
        updated = qs.update(status=to, updated_at=timezone.now(), **fields)
        if updated and kind:
            event_record(
                document=document,
                kind=kind,
                actor=actor,
                status=to,
                code=fields.get("last_error_code"),
                error=fields.get("last_error"),
                **event_data,
            )
    if updated:
        document.status = to
        for key, value in fields.items():
            if not isinstance(value, F):
                setattr(document, key, value)
    return bool(updated)


# ------------------------------------------------------------------------------------ notify


def document_notify_signer(*, document_id: int, force: bool = False, actor: Any = None) -> bool:
    """E-mail the signer a link that signs them in and opens this document. Sent once, unless
    ``force`` (staff's "send the link again")."""
    from accounts.services import signin_link_create

    document = Document.objects.select_related("signer").filter(pk=document_id).first()
    if document is None or document.status != S.AWAITING_SIGNATURE:
        return False
    qs = Document.objects.filter(pk=document.pk, status=S.AWAITING_SIGNATURE)
    if not force:
        qs = qs.filter(signer_notified_at__isnull=True)
    if not qs.update(signer_notified_at=timezone.now()):
        return False
    signer = document.signer
    try:
        link = signin_link_create(
            user=signer,
            purpose="sign_document",
            next_url=reverse("signing:document", args=[document.public_id]),
        )
        with translation.override(settings.LANGUAGE_CODE):
            context = {"document": document, "signer": signer, "link": link, "site_url": settings.SITE_URL}
            subject = " ".join(render_to_string("signing/email/sign_request_subject.txt", context).split())
            body = render_to_string("signing/email/sign_request_body.txt", context)
            html = render_to_string("signing/email/sign_request_body.html", context)
        message = EmailMultiAlternatives(subject=subject, body=body, to=[signer.email])
        message.attach_alternative(html, "text/html")
        message.send()
    except Exception:
        # Let staff see it and send the link again; clear the marker so a retry may send it.
        Document.objects.filter(pk=document.pk).update(signer_notified_at=None)
        logger.exception("document %s: the signer e-mail could not be sent", document.pk)
        event_record(document=document, kind=DocumentEvent.Kind.SIGNER_NOTIFIED, actor=actor, outcome="error")
        raise
    event_record(document=document, kind=DocumentEvent.Kind.SIGNER_NOTIFIED, actor=actor, outcome="ok")
    return True


# ------------------------------------------------------------------------------------ follow-through


def document_poll(*, document_id: int) -> None:
    """The per-row task's body: claim the row, push next_poll_at forward, then do its due work
    (send a QUEUED document; check/download/verify the others)."""
    document = Document.objects.select_related("signer").filter(pk=document_id).first()
    if document is None or document.status not in Document.POLLED_STATUSES or not document.poll_queued:
        return
    now = timezone.now()
    attempt = document.poll_count + 1
    # Claim: only one copy of the task gets poll_queued=True → False. next_poll_at moves forward
    # *before* any call, so a crash or a hung call cannot make the row due again at once.
    claimed = Document.objects.filter(pk=document.pk, status=document.status, poll_queued=True).update(
        poll_queued=False,
        poll_count=F("poll_count") + 1,
        last_polled_at=now,
        next_poll_at=now + _backoff(document.status, attempt),
    )
    if not claimed:
        return
    document.poll_queued = False
    document.poll_count = attempt
    document.last_polled_at = now
    if document.status == S.QUEUED:
        _send(document)
    else:
        _follow_through(document)


def _reschedule(document: Document, *, seconds: float, undo_attempt: bool = False, error: str = "", code: str = "") -> None:
    fields: dict[str, Any] = {"next_poll_at": timezone.now() + timedelta(seconds=seconds)}
    if undo_attempt:
        fields["poll_count"] = F("poll_count") - 1
    if error:
        fields["last_error"] = error[:500]
        fields["last_error_code"] = code
    Document.objects.filter(pk=document.pk, status__in=Document.POLLED_STATUSES, poll_queued=False).update(**fields)


def _give_up_if_exhausted(document: Document, error: str, code: str = "") -> bool:
    """CONFIRMING has a budget: after DOCUMENT_CONFIRM_MAX_ATTEMPTS looks, staff get a failure."""
    if document.status != S.CONFIRMING:
        return False
    if document.poll_count < _setting("DOCUMENT_CONFIRM_MAX_ATTEMPTS", 30):
        return False
    return document_transition(
        document,
        frm=(S.CONFIRMING,),
        to=S.FAILED,
        kind=DocumentEvent.Kind.FAILED,
        last_error=(error or "Peruri did not deliver a signed copy in time.")[:500],
        last_error_code=code,
        next_poll_at=None,
        finished_at=timezone.now(),
        note="gave_up",
    )


def _follow_through(document: Document) -> None:
    """Check Document Status, and when SIGNED download, verify and store the signed copy."""
    from peruri import PeruriError, PeruriRejected, PeruriUnavailable

    order_id = document.peruri_order_id
    if not order_id:
        return
    # A previous look already saw SIGNED and only the download or verification failed: go
    # straight to the download, without another status check.
    if not (document.status == S.CONFIRMING and document.peruri_status == "SIGNED"):
        try:
            status = peruri_call(
                document, "check_document_status", lambda: _client().check_document_status(order_id=order_id)
            )
        except PeruriUnavailable as exc:
            # The breaker is open: try later without burning this row's budget (R4).
            _reschedule(document, seconds=_setting("DOCUMENT_POLL_UNAVAILABLE_SECONDS", 30), undo_attempt=True, error=_error_text(exc))
            return
        except PeruriRejected as exc:
            # Peruri answered with a code: a permanent failure that keeps its code (R3).
            document_transition(
                document,
                frm=(S.AWAITING_SIGNATURE, S.CONFIRMING, S.NEEDS_RECONCILIATION),
                to=S.FAILED,
                kind=DocumentEvent.Kind.FAILED,
                operation="check_document_status",
                last_error=_error_text(exc),
                last_error_code=exc.code or "",
                inflight_since=None,
                next_poll_at=None,
                finished_at=timezone.now(),
            )
            return
        except PeruriError as exc:
            # Transient, auth, contract: the next look is already scheduled.
            if not _give_up_if_exhausted(document, _error_text(exc), exc.code or ""):
                _reschedule(document, seconds=_backoff(document.status, document.poll_count).total_seconds(), error=_error_text(exc), code=exc.code or "")
            return
        peruri_status = (status.status or "").upper()[:32]
        if peruri_status != document.peruri_status:
            # The timeline already has the call; a line of its own only when the answer changes.
            Document.objects.filter(pk=document.pk).update(peruri_status=peruri_status)
            document.peruri_status = peruri_status
            event_record(document=document, kind=DocumentEvent.Kind.STATUS_CHECKED, peruri_status=peruri_status or "?")
        if peruri_status in ("FAILED", "EXPIRED"):
            target = S.EXPIRED if peruri_status == "EXPIRED" else S.FAILED
            document_transition(
                document,
                frm=(S.AWAITING_SIGNATURE, S.CONFIRMING, S.NEEDS_RECONCILIATION),
                to=target,
                kind=DocumentEvent.Kind.EXPIRED if target == S.EXPIRED else DocumentEvent.Kind.FAILED,
                peruri_status=peruri_status,
                last_error=f"Peruri reports the order as {peruri_status}.",
                inflight_since=None,
                next_poll_at=None,
                finished_at=timezone.now(),
            )
            return
        if peruri_status == "WAITING_SIGNATURE" and document.status == S.NEEDS_RECONCILIATION:
            now = timezone.now()
            grace = timedelta(seconds=_setting("SIGNING_UNKNOWN_OUTCOME_GRACE", 60))
            if document.inflight_since is not None and now < document.inflight_since + grace:
                # The Signing call timed out on our side only a moment ago: Peruri may still be
                # applying it, so "not signed yet" proves nothing. Look again (already scheduled).
                return
            # Reconciled: the Signing call whose outcome was unknown did not happen. The signer
            # may ask for a new code and sign again.
            document_transition(
                document,
                frm=(S.NEEDS_RECONCILIATION,),
                to=S.AWAITING_SIGNATURE,
                kind=DocumentEvent.Kind.RECONCILED,
                extra_filter=Q(reconcile_operation=Document.Reconcile.SIGN),
                reconcile_operation="",
                inflight_since=None,
                peruri_status=peruri_status,
                note="not_signed",
                poll_count=0,
                next_poll_at=now + _backoff(S.AWAITING_SIGNATURE, 1),
            )
            return
        if peruri_status != "SIGNED":
            # Not final yet (WAITING_*, unknown or missing status): the next look is scheduled.
            _give_up_if_exhausted(document, f"Peruri still reports {peruri_status or 'no status'}.")
            return
        if document.status != S.CONFIRMING:
            moved = document_transition(
                document,
                frm=(S.AWAITING_SIGNATURE, S.NEEDS_RECONCILIATION),
                to=S.CONFIRMING,
                kind=DocumentEvent.Kind.SIGNED_AT_PERURI
                if document.status == S.AWAITING_SIGNATURE
                else DocumentEvent.Kind.RECONCILED,
                reconcile_operation="",
                inflight_since=None,
                peruri_status="SIGNED",
                signed_at=document.signed_at or timezone.now(),
                poll_count=1,
            )
            if not moved:
                return
    _download_and_verify(document)


def _download_and_verify(document: Document) -> None:
    from peruri import PeruriError, PeruriUnavailable

    order_id = document.peruri_order_id
    assert order_id
    try:
        pdf = peruri_call(document, "download_document", lambda: _client().download_document(order_id=order_id))
    except PeruriUnavailable as exc:
        _reschedule(document, seconds=_setting("DOCUMENT_POLL_UNAVAILABLE_SECONDS", 30), undo_attempt=True, error=_error_text(exc))
        return
    except PeruriError as exc:
        # A contract error ("0" without a PDF) does not advance the state (R3); try again later.
        if not _give_up_if_exhausted(document, _error_text(exc), exc.code or ""):
            _reschedule(document, seconds=_backoff(S.CONFIRMING, document.poll_count).total_seconds(), error=_error_text(exc), code=exc.code or "")
        return
    event_record(document=document, kind=DocumentEvent.Kind.DOWNLOADED, bytes=len(pdf))
    with document.original.open("rb") as fh:
        original = fh.read()
    expected = [ExpectedSigner(email=document.signer.email, name=document.signer.full_name)]
    try:
        result = pdf_verify(signed=pdf, original=original, expected_signers=expected)
    except TrustRootsUnavailable as exc:
        # Not a verdict on the document: we cannot verify right now (misconfiguration, sandbox down).
        # Within the CONFIRMING budget like any other failure, so it ends visibly failed (staff's
        # retry downloads and verifies again) instead of downloading every half hour for ever.
        logger.error("document %s: cannot verify, trust roots unavailable: %s", document.pk, exc)
        error = f"Trust roots unavailable: {exc}"
        if not _give_up_if_exhausted(document, error, "trust_roots"):
            _reschedule(document, seconds=_backoff(S.CONFIRMING, document.poll_count).total_seconds(), error=error)
        return
    _store_verified(document, pdf, result)


def _store_verified(document: Document, pdf: bytes, result: Any) -> None:
    import hashlib

    sha = hashlib.sha256(pdf).hexdigest()
    # Written before the state changes (outside any transaction); a row that loses the race below
    # deletes what it wrote.
    storage = document.signed_file.storage
    name = storage.save(f"documents/{document.public_id}/received-{sha[:16]}.pdf", ContentFile(pdf))
    now = timezone.now()
    if result.ok:
        moved = document_transition(
            document,
            frm=(S.CONFIRMING,),
            to=S.SIGNED,
            kind=DocumentEvent.Kind.VERIFIED,
            signed_file=name,
            signed_sha256=sha,
            verification=result.summary,
            signer_cert_fingerprint=result.last_fingerprint,
            next_poll_at=None,
            poll_queued=False,
            last_error="",
            last_error_code="",
            finished_at=now,
            note=result.last_fingerprint,
        )
    else:
        moved = document_transition(
            document,
            frm=(S.CONFIRMING,),
            to=S.VERIFICATION_FAILED,
            kind=DocumentEvent.Kind.VERIFICATION_FAILED,
            signed_file=name,
            signed_sha256=sha,
            verification=result.summary,
            signer_cert_fingerprint=result.last_fingerprint,
            next_poll_at=None,
            poll_queued=False,
            last_error=f"The signed copy failed verification: {result.reason}",
            last_error_code=result.reason,
            finished_at=now,
            note=result.reason,
        )
    if not moved:
        if Document.objects.filter(pk=document.pk, signed_file=name).exists():
            return
        storage.delete(name)


# ------------------------------------------------------------------------------------ staff actions


def document_check_now(*, document: Document, actor: Any = None, reason: str = "staff") -> bool:
    """Ask for an immediate look at Peruri (staff's "check now", a web-view callback's hint).
    Changes no state by itself: only Peruri's answer does (R11)."""
    if document.status not in (S.AWAITING_SIGNATURE, S.CONFIRMING, S.NEEDS_RECONCILIATION):
        return False
    if document.status == S.NEEDS_RECONCILIATION and not document.peruri_order_id:
        return False
    return _request_poll(
        document_id=document.pk, statuses=(S.AWAITING_SIGNATURE, S.CONFIRMING, S.NEEDS_RECONCILIATION)
    )


def document_cancel(*, document: Document, actor: Any) -> Document:
    """Stop a document that has not been signed. Refused while a Peruri call is in flight."""
    cancellable = (S.DRAFT, S.QUEUED, S.AWAITING_SIGNATURE, S.NEEDS_RECONCILIATION, S.FAILED, S.EXPIRED, S.VERIFICATION_FAILED)
    if not document_transition(
        document,
        frm=cancellable,
        to=S.CANCELLED,
        kind=DocumentEvent.Kind.CANCELLED,
        actor=actor,
        inflight_since=None,
        next_poll_at=None,
        poll_queued=False,
        finished_at=timezone.now(),
    ):
        raise DocumentError(_("This document cannot be cancelled now."))
    return document


def document_retry(*, document: Document, actor: Any) -> Document:
    """Staff's "retry" on a stuck or failed document — what it does depends on where it stands:

    * failed before Peruri had an order (send rejected / gave up): queue Send Document again;
    * Peruri's order ended FAILED/EXPIRED: a new order (the old id stays in the history);
    * verification failed or the signed copy never came: download and verify again;
    * waiting for the signer / reconciling a Signing call: check the status now.
    A Send Document whose outcome is unknown is never retried here: see document_reconcile_*.
    """
    now = timezone.now()
    if document.status in (S.AWAITING_SIGNATURE, S.CONFIRMING) or (
        document.status == S.NEEDS_RECONCILIATION and document.peruri_order_id
    ):
        event_record(document=document, kind=DocumentEvent.Kind.RETRIED, actor=actor, note="check_now")
        if not document_check_now(document=document, actor=actor):
            raise DocumentError(_("Nothing to retry right now."))
        return document
    if document.status == S.VERIFICATION_FAILED or (
        document.status == S.FAILED and document.peruri_order_id and document.peruri_status == "SIGNED"
    ):
        if not document_transition(
            document,
            frm=(S.VERIFICATION_FAILED, S.FAILED),
            to=S.CONFIRMING,
            kind=DocumentEvent.Kind.RETRIED,
            actor=actor,
            peruri_status="SIGNED",
            poll_count=0,
            poll_queued=True,
            next_poll_at=now + _lease(),
            finished_at=None,
            note="download_again",
        ):
            raise DocumentError(_("Nothing to retry right now."))
        _enqueue_poll_now(document.pk)
        return document
    if document.status in (S.FAILED, S.EXPIRED):
        if document.peruri_order_id and document.peruri_status not in ("FAILED", "EXPIRED"):
            # The order may still be alive at Peruri (a status check failed, a Signing call was
            # refused): look at it again rather than creating a second order.
            if not document_transition(
                document,
                frm=(S.FAILED,),
                to=S.AWAITING_SIGNATURE,
                kind=DocumentEvent.Kind.RETRIED,
                actor=actor,
                poll_count=0,
                poll_queued=True,
                next_poll_at=now + _lease(),
                finished_at=None,
                note="check_order",
            ):
                raise DocumentError(_("Nothing to retry right now."))
            _enqueue_poll_now(document.pk)
            return document
        # No live order: a fresh Send Document (the previous order id, if any, is in the history).
        with transaction.atomic():
            updated = Document.objects.filter(pk=document.pk, status__in=(S.FAILED, S.EXPIRED)).update(
                status=S.QUEUED,
                peruri_order_id=None,
                peruri_status="",
                reconcile_operation="",
                sent_at=None,
                signer_notified_at=None,
                finished_at=None,
                poll_count=0,
                poll_queued=True,
                next_poll_at=now + _lease(),
            )
            if not updated:
                raise DocumentError(_("Nothing to retry right now."))
            event_record(
                document=document,
                kind=DocumentEvent.Kind.RETRIED,
                actor=actor,
                note="send_again",
                previous_order_id=document.peruri_order_id,
            )
            _enqueue_poll(document.pk)
        document.refresh_from_db()
        return document
    raise DocumentError(_("Nothing to retry right now."))


def _enqueue_poll_now(document_id: int) -> None:
    with transaction.atomic():
        _enqueue_poll(document_id)


def document_reconcile_link_order(*, document: Document, actor: Any, order_id: str) -> Document:
    """Settle a Send Document whose outcome was unknown by naming the order Peruri created.

    Peruri's copy (View Document) must be our upload (or extend it, when already signed);
    otherwise DocumentError. Then the document waits for its signer as usual.
    """
    from peruri import PeruriError

    order_id = (order_id or "").strip()
    if document.status != S.NEEDS_RECONCILIATION or document.reconcile_operation != Document.Reconcile.SEND:
        raise DocumentError(_("This document is not waiting for a Send Document to be reconciled."))
    if not order_id.isdigit() or len(order_id) > 64:
        raise DocumentError(_("Enter the Peruri order id (digits only)."))
    if Document.objects.filter(peruri_order_id=order_id).exclude(pk=document.pk).exists():
        raise DocumentError(_("That order id already belongs to another document."))
    try:
        viewed = peruri_call(document, "view_document", lambda: _client().view_document(order_id=order_id), actor=actor)
    except PeruriError as exc:
        raise DocumentError(
            _("Peruri could not show that order (%(error)s).") % {"error": exc.code or type(exc).__name__}
        ) from exc
    with document.original.open("rb") as fh:
        original = fh.read()
    if not (viewed.pdf == original or viewed.pdf.startswith(original)):
        raise DocumentError(_("That Peruri order holds a different document."))
    _send_succeeded(document, order_id)
    document.refresh_from_db()
    if document.peruri_order_id != order_id:
        raise DocumentError(_("The document changed in the meantime; reload the page."))
    event_record(document=document, kind=DocumentEvent.Kind.RECONCILED, actor=actor, order_id=order_id, note="linked")
    return document


def document_reconcile_send_again(*, document: Document, actor: Any) -> Document:
    """Staff confirm that Peruri holds no order for this document (they looked): send it again."""
    with transaction.atomic():
        updated = Document.objects.filter(
            pk=document.pk,
            status=S.NEEDS_RECONCILIATION,
            reconcile_operation=Document.Reconcile.SEND,
            peruri_order_id__isnull=True,
        ).update(
            status=S.QUEUED,
            reconcile_operation="",
            poll_count=0,
            poll_queued=True,
            next_poll_at=timezone.now() + _lease(),
        )
        if not updated:
            raise DocumentError(_("This document is not waiting for a Send Document to be reconciled."))
        event_record(document=document, kind=DocumentEvent.Kind.RECONCILED, actor=actor, note="send_again")
        _enqueue_poll(document.pk)
    document.refresh_from_db()
    return document


# ------------------------------------------------------------------------------------ periodic


def document_poll_due(*, now: datetime | None = None) -> int:
    """Dispatch one task per due row, in batches, never loading all rows (R7).

    Each batch is claimed with SELECT ... FOR UPDATE SKIP LOCKED (two dispatchers never take the
    same rows) and its next_poll_at pushed forward by a lease before the tasks are enqueued, so a
    row is dispatched again only when its task never ran.
    """
    now = now or timezone.now()
    batch = _setting("DOCUMENT_POLL_BATCH", 500)
    limit = _setting("DOCUMENT_POLL_MAX_PER_RUN", 5000)
    lease_until = now + _lease()
    dispatched = 0
    while dispatched < limit:
        with transaction.atomic():
            ids = list(
                Document.objects.select_for_update(skip_locked=True)
                .filter(status__in=Document.POLLED_STATUSES, next_poll_at__lte=now)
                .order_by("next_poll_at")
                .values_list("pk", flat=True)[: min(batch, limit - dispatched)]
            )
            if not ids:
                break
            Document.objects.filter(pk__in=ids).update(poll_queued=True, next_poll_at=lease_until)
            for pk in ids:
                _enqueue_poll(pk)
        dispatched += len(ids)
        if len(ids) < batch:
            break
    return dispatched


def document_housekeeping(*, now: datetime | None = None) -> dict[str, int]:
    """Every few minutes: settle rows stuck past their deadline. Safe to run twice (CAS updates).

    * SENDING for longer than any Send Document can take: the worker died mid-call. The outcome is
      unknown → NEEDS_RECONCILIATION (staff decide; no automatic re-send).
    * SIGNING for longer than any Signing call can take: → NEEDS_RECONCILIATION, which the poller
      reconciles through Check Document Status.
    * A polled row without next_poll_at (should not happen): due now.
    """
    now = now or timezone.now()
    counts = {"send_unknown": 0, "sign_unknown": 0, "rescheduled": 0}
    # (in-flight status, deadline setting and default, count key, reconcile operation, error, extra updates)
    stuck_kinds = (
        (
            S.SENDING, "DOCUMENT_SEND_DEADLINE", 900, "send_unknown", Document.Reconcile.SEND,
            "Send Document did not finish (worker stopped or timed out); the outcome is unknown.",
            {},
        ),
        (
            S.SIGNING, "DOCUMENT_SIGN_DEADLINE", 300, "sign_unknown", Document.Reconcile.SIGN,
            "Signing did not finish; the outcome is unknown. Checking the status with Peruri.",
            {"poll_count": 0, "poll_queued": False, "next_poll_at": now},  # the poller reconciles it
        ),
    )  # fmt: skip
    for status, setting, default, key, reconcile, error, extra in stuck_kinds:
        deadline = now - timedelta(seconds=_setting(setting, default))
        stuck = Document.objects.filter(status=status, inflight_since__lt=deadline).values_list("pk", flat=True)
        for pk in stuck.iterator(chunk_size=200):
            if document_transition(
                Document(pk=pk),
                frm=(status,),
                to=S.NEEDS_RECONCILIATION,
                kind=DocumentEvent.Kind.NEEDS_RECONCILIATION,
                extra_filter=Q(inflight_since__lt=deadline),
                operation="send_document" if status == S.SENDING else "sign",
                reconcile_operation=reconcile,
                last_error=error,
                inflight_since=None,
                **extra,
            ):
                counts[key] += 1
    counts["rescheduled"] = (
        Document.objects.filter(status__in=Document.POLLED_STATUSES, next_poll_at__isnull=True)
        .exclude(status=S.NEEDS_RECONCILIATION, peruri_order_id__isnull=True)
        .update(next_poll_at=now, poll_queued=False)
    )
    return counts


__all__ = [
    "DocumentError",
    "PdfInvalid",
    "document_cancel",
    "document_check_now",
    "document_create",
    "document_housekeeping",
    "document_notify_signer",
    "document_place",
    "document_poll",
    "document_poll_due",
    "document_reconcile_link_order",
    "document_reconcile_send_again",
    "document_retry",
    "document_send_request",
    "document_transition",
    "event_record",
    "peruri_call",
    "signer_for",
]
