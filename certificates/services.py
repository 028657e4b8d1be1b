"""Writes for certificates: the enrolment state machine, and the calls to Peruri behind it.

How a step that creates something at Peruri runs (Registration, Activation, Video Verification,
Send Speciment) — R2, R5, R6:

1. A person's action (or the previous step) commits the row in the step's status ("registering",
   ...) with ``call_started_at`` NULL, and enqueues ``enrolment_advance`` after commit.
2. The task claims the call by compare-and-set (``call_started_at`` NULL → now), outside any
   transaction, then calls Peruri. Two deliveries of the task: one claim, one call.
3. The outcome is written by compare-and-set on (status, call_started_at). A definite answer moves
   the row on; an unknown outcome (timeout or reset after sending, 5xx) moves it to "reconciling".
   A claim found without an outcome after the step's deadline (killed worker) → "reconciling" too.
4. "reconciling" asks Check Certificate first; only when Peruri says there is no certificate is the
   step sent again — and a re-sent Registration that answers "already registered" (1002/1003)
   counts as our first one having gone through. So Registration is never duplicated at Peruri.

Waits (certificate issuance, the embedded web view, a 1040 "still verifying" video, the deadline
of a person's step) live in ``next_poll_at``, served by ``certificates.tasks.enrolment_poll_due``.
"""

from __future__ import annotations

import logging
import random
import secrets
import smtplib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from certificates.consent import CONSENT_VERSION, consent_hash
from certificates.crypto import decrypt_bytes, encrypt_bytes
from certificates.models import Consent, Enrolment, EnrolmentEvent
from peruri import PeruriError, PeruriPending, PeruriRejected, PeruriUnavailable, outcome_of

logger = logging.getLogger(__name__)

S = Enrolment.Status

# How long the dispatcher's lease on a due row lasts: a lost task is picked up again after this.
LEASE = timedelta(seconds=120)
# While Peruri is known to be down (circuit open): look again after this, without using up attempts.
UNAVAILABLE_DELAY = timedelta(seconds=60)
ALREADY_REGISTERED_CODES = frozenset({"1002", "1003"})
# Check Certificate's answer for an account that exists but has no certificate yet [assumed:
# the sandbox's; an address Peruri does not know gets another code].
NO_CERTIFICATE_CODE = "4001"
# reconcile_step while linking an existing Peruri account: after 1002 the address itself is
# registered; after 1003 the KTP number is, possibly under another address.
LINK_BY_EMAIL = "link"
LINK_BY_NIK = "link_nik"
KYC_REJECTED_CODE = "1006"
BAD_VIDEO_CODE = "1045"
# Registration rejections the person can fix by correcting the form.
FIXABLE_REGISTRATION_CODES = frozenset({"1004", "1008"})

RESULT_MESSAGES = {
    "1001": _("Paraf's Peruri system id is not valid. Staff have been told."),
    "1002": _("This e-mail address is already registered at Peruri."),
    "1003": _("Peruri already has an account for this KTP number (NIK), possibly under another e-mail address."),
    "1004": _("Peruri did not accept the KTP number (NIK). Check it and send the form again."),
    "1005": _("Peruri's customer system failed. Try again later."),
    "1006": _("The face verification did not match the national population registry. Record the video again."),
    "1007": _("Peruri does not accept this e-mail address."),
    "1008": _("Peruri found required data missing or not valid. Check the form and send it again."),
    "1040": _("Peruri is still verifying your face video."),
    "1045": _("Peruri could not read the video. Record it again."),
    "4001": _("Peruri has not issued the certificate yet."),
}


class EnrolmentError(Exception):
    """An action that the enrolment's current state does not allow (shown to the user)."""


class _MissingData(Exception):
    """The data a step needs is no longer on file (purged or erased)."""


# Time limits of certificates.tasks.enrolment_advance (video verification can take minutes: the
# client allows ~5 min plus upload time), far below the broker's visibility timeout (1 h).
ADVANCE_SOFT_TIME_LIMIT = 900
ADVANCE_TIME_LIMIT = 960


@dataclass(frozen=True)
class _Step:
    operation: str
    # A claim older than this without an outcome means the worker died mid-call: reconcile.
    # Longer than the task's hard time limit: until then the call may still be in flight, and a
    # Check Certificate made meanwhile cannot see it (reconciling then would re-send behind it).
    stale_after: timedelta


_STALE_AFTER = timedelta(seconds=ADVANCE_TIME_LIMIT) + timedelta(minutes=2)
_STEPS: dict[str, _Step] = {
    S.REGISTERING: _Step("register", _STALE_AFTER),
    S.ACTIVATING: _Step("activate", _STALE_AFTER),
    S.VERIFYING_VIDEO: _Step("verify_video", _STALE_AFTER),
    S.SENDING_SPECIMEN: _Step("send_specimen", _STALE_AFTER),
}


def result_message(code: str) -> str:
    message = RESULT_MESSAGES.get(code)
    return str(message) if message is not None else ""


# ---------------------------------------------------------------------------------------------
# Small helpers


def _client() -> Any:
    from signing.gateway import get_peruri_client

    return get_peruri_client()


def _enqueue_advance(enrolment_id: int) -> None:
    from certificates.tasks import enrolment_advance

    enrolment_advance.delay_on_commit(enrolment_id)


def _jitter(seconds: float) -> timedelta:
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not crypto


def _poll_delay(attempts: int) -> timedelta:
    base = settings.CERTIFICATES_POLL_BASE_SECONDS
    return _jitter(min(settings.CERTIFICATES_POLL_MAX_SECONDS, base * 2 ** min(max(attempts - 1, 0), 16)))


def _person_deadline(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) + timedelta(days=settings.CERTIFICATES_ENROLMENT_DAYS)


def _event(
    enrolment: Enrolment, kind: str, *, actor: Any = None, params: dict[str, Any] | None = None, **fields: Any
) -> EnrolmentEvent:
    """Append to the history. `message` is an English source string marked with gettext_noop (translated
    when shown, EnrolmentEvent.text) with `params` (no identity data); a call's is Peruri's words."""
    message = fields.pop("message", "")
    return EnrolmentEvent.objects.create(
        enrolment=enrolment,
        kind=kind,
        actor=actor if getattr(actor, "pk", None) else None,
        message=str(message)[:500],
        params=params or {},
        **fields,
    )


def _transition(
    enrolment: Enrolment,
    *,
    frm: Iterable[str],
    to: str,
    actor: Any = None,
    message: str = "",
    params: dict[str, Any] | None = None,
    claim: datetime | None = None,
    unclaimed: bool = False,
    enqueue: bool = False,
    **updates: Any,
) -> bool:
    """Compare-and-set the status (and the call claim, when given; with `unclaimed`, only while
    no call is claimed). Records the change, refreshes `enrolment`, and enqueues
    `enrolment_advance` after commit when asked. False: someone else moved the row first;
    nothing was changed."""
    frm = list(frm)
    condition = Q(pk=enrolment.pk, status__in=frm)
    if claim is not None:
        condition &= Q(call_started_at=claim)
    if unclaimed:
        condition &= Q(call_started_at__isnull=True)
    from_status = enrolment.status
    updates.setdefault("updated_at", timezone.now())
    with transaction.atomic():
        changed = Enrolment.objects.filter(condition).update(status=to, **updates)
        if changed:
            _event(
                enrolment,
                EnrolmentEvent.Kind.STATE,
                actor=actor,
                from_status=from_status,
                to_status=to,
                message=message,
                params=params,
            )
            if enqueue:
                _enqueue_advance(enrolment.pk)
    enrolment.refresh_from_db()
    if not changed:
        logger.info("enrolment %s: %s → %s skipped (now %s)", enrolment.pk, frm, to, enrolment.status)
    return bool(changed)


def _store_file(enrolment: Enrolment, kind: str, data: bytes) -> str:
    """Write an identity file, encrypted, under a random name in private storage."""
    name = f"certificates/{enrolment.public_id}/{kind}-{secrets.token_hex(8)}.bin"
    return default_storage.save(name, ContentFile(encrypt_bytes(data)))


def _read_file(name: str) -> bytes:
    if not name or not default_storage.exists(name):
        raise _MissingData(name)
    with default_storage.open(name, "rb") as fh:
        try:
            return decrypt_bytes(fh.read())
        except InvalidToken as exc:  # written with a key no longer configured: as good as gone
            logger.error("identity file of an enrolment cannot be decrypted with FIELD_ENCRYPTION_KEYS")
            raise _MissingData(name) from exc


def identity_file_read(*, enrolment: Enrolment, field: str) -> bytes:
    """The decrypted bytes of one identity file (raises FileNotFoundError when it is gone).
    Callers showing it to staff record the read (identity_read_record)."""
    name = getattr(enrolment, field).name
    try:
        return _read_file(name)
    except _MissingData as exc:
        raise FileNotFoundError(field) from exc


def _delete_files(names: Iterable[str]) -> None:
    for name in names:
        if name:
            try:
                default_storage.delete(name)
            except OSError:  # already gone: deleting is idempotent
                logger.warning("could not delete an identity file", exc_info=True)


# Why identity files were deleted (history messages; "%(files)s" is filled with their labels).
PURGE_ACCEPTED = gettext_noop("%(files)s deleted: Peruri has accepted them")
PURGE_ISSUED = gettext_noop("%(files)s deleted: the certificate is issued")
PURGE_REJECTED = gettext_noop("%(files)s deleted: rejected by Peruri (%(code)s)")
PURGE_RETENTION = gettext_noop("%(files)s deleted: the retention period is over")
PURGE_ERASURE = gettext_noop("%(files)s deleted: erasure of the identity data")


def _purge_fields(
    enrolment: Enrolment, fields: Iterable[str], *, reason: str, code: str = "", actor: Any = None
) -> None:
    """Delete some identity files of an enrolment (after Peruri accepted them, or on a schedule).
    `reason` is one of the PURGE_* messages."""
    fields = [f for f in fields if getattr(enrolment, f).name]
    if not fields:
        return
    names = [getattr(enrolment, f).name for f in fields]
    now = timezone.now()
    with transaction.atomic():
        Enrolment.objects.filter(pk=enrolment.pk).update(**dict.fromkeys(fields, ""), updated_at=now)
        remaining = (
            Enrolment.objects.filter(pk=enrolment.pk)
            .values_list("ktp_photo", "npwp_photo", "video", "specimen")
            .first()
        )
        if remaining is not None and not any(remaining):
            Enrolment.objects.filter(pk=enrolment.pk).update(files_purged_at=now)
        _event(
            enrolment,
            EnrolmentEvent.Kind.DATA,
            actor=actor,
            operation="delete_files",
            message=reason,
            params={"files": fields, **({"code": code} if code else {})},
        )
        transaction.on_commit(lambda: _delete_files(names))
    enrolment.refresh_from_db()


def _assert_no_transaction() -> None:
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("Peruri must not be called inside a database transaction (R2/R6)")


def _outcome(exc: PeruriError) -> str:
    return outcome_of(exc)


def _call(enrolment: Enrolment, operation: str, send: Callable[[], Any]) -> Any:
    """Call Peruri (outside any transaction) and append the call to the enrolment's history."""
    from signing.gateway import peruri_subject

    _assert_no_transaction()
    started = time.monotonic()
    try:
        with peruri_subject(enrolment):  # links the gateway's PeruriCall rows to this enrolment
            result = send()
    except PeruriError as exc:
        _event(
            enrolment,
            EnrolmentEvent.Kind.CALL,
            operation=operation,
            outcome=_outcome(exc),
            result_code=exc.code or "",
            duration_ms=int((time.monotonic() - started) * 1000),
            message=f"{type(exc).__name__}: {exc.description or exc}",
        )
        raise
    _event(
        enrolment,
        EnrolmentEvent.Kind.CALL,
        operation=operation,
        outcome="ok",
        result_code="0",
        duration_ms=int((time.monotonic() - started) * 1000),
        message=str(getattr(result, "description", ""))[:200],
    )
    return result


def _peruri_fields(exc: PeruriError) -> dict[str, str]:
    return {
        "last_result_code": (exc.code or "")[:16],
        "last_result_desc": (exc.description or "")[:255],
        "last_error": f"{type(exc).__name__}: {exc}"[:500],
    }


# ---------------------------------------------------------------------------------------------
# Staff: invitations and registration data


def enrolment_invite(
    *,
    email: str,
    full_name: str,
    license_type: str,
    invited_by: Any,
    org_unit: str = "",
    work_unit: str = "",
    position: str = "",
    mode: str | None = None,
) -> Enrolment:
    """Invite a person (create or re-send). Sends an e-mail with a single-use sign-in link after
    commit. Raises EnrolmentError when the person already has a certificate or is past the
    invitation."""
    from accounts.services import user_get_or_create_signer

    if license_type == Enrolment.LicenseType.CLIENT:
        org_unit = work_unit = position = ""
    elif not (org_unit and work_unit and position):
        raise EnrolmentError(_("A Corporate User License needs the organisation unit, work unit and position."))
    mode = mode or settings.PERURI_ENROLMENT_MODE
    if mode not in Enrolment.Mode.values:
        mode = Enrolment.Mode.NATIVE
    with transaction.atomic():
        user = user_get_or_create_signer(email=email, full_name=full_name)
        enrolment = Enrolment.objects.select_for_update().filter(user=user).first()
        if enrolment is None and Enrolment.objects.filter(email__iexact=user.email).exists():
            raise EnrolmentError(_("Another account is enrolling with this e-mail address."))
        if enrolment is None:
            enrolment = Enrolment.objects.create(
                user=user,
                email=user.email,
                license_type=license_type,
                mode=mode,
                org_unit=org_unit,
                work_unit=work_unit,
                position=position,
                full_name=full_name[:100],
                invited_by=invited_by,
                deadline_at=_person_deadline(),
                next_poll_at=_person_deadline(),
                invitations_requested=1,
            )
            _event(
                enrolment,
                EnrolmentEvent.Kind.ACTION,
                actor=invited_by,
                operation="invite",
                to_status=enrolment.status,
                message=gettext_noop("invited (%(license)s, %(mode)s)"),
                params={"license": license_type, "mode": mode},
            )
        else:
            if enrolment.status == S.ISSUED:
                raise EnrolmentError(_("This person already has a certificate."))
            if enrolment.status != S.INVITED:
                raise EnrolmentError(_("This person has already started the registration; use retry instead."))
            Enrolment.objects.filter(pk=enrolment.pk).update(
                license_type=license_type,
                mode=mode,
                org_unit=org_unit,
                work_unit=work_unit,
                position=position,
                deadline_at=_person_deadline(),
                next_poll_at=_person_deadline(),
                invitations_requested=F("invitations_requested") + 1,
                updated_at=timezone.now(),
            )
            _event(
                enrolment,
                EnrolmentEvent.Kind.ACTION,
                actor=invited_by,
                operation="invite",
                message=gettext_noop("invitation sent again"),
            )
        from certificates.tasks import enrolment_invitation_send

        enrolment_invitation_send.delay_on_commit(enrolment.pk)
    enrolment.refresh_from_db()
    return enrolment


def enrolment_invitation_send(*, enrolment_id: int) -> bool:
    """Send the invitation e-mail, once per request (claimed by compare-and-set)."""
    from django.core.mail import EmailMultiAlternatives
    from django.template.loader import render_to_string
    from django.urls import reverse
    from django.utils import translation

    from accounts.services import signin_link_create

    enrolment = Enrolment.objects.select_related("user").filter(pk=enrolment_id).first()
    if enrolment is None or enrolment.status != S.INVITED:
        return False
    claimed = Enrolment.objects.filter(pk=enrolment.pk, invitations_sent__lt=F("invitations_requested")).update(
        invitations_sent=F("invitations_requested")
    )
    if not claimed:
        return False
    link = signin_link_create(
        user=enrolment.user,
        purpose="enrolment",
        next_url=reverse("certificates:my_enrolment"),
        max_age=settings.SIGNIN_LINK_MAX_AGE,
    )
    context = {"enrolment": enrolment, "link": link, "site_url": settings.SITE_URL}
    with translation.override(settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string("certificates/email/invitation_subject.txt", context).split())
        body = render_to_string("certificates/email/invitation_body.txt", context)
        html = render_to_string("certificates/email/invitation_body.html", context)
        not_sent = str(_("The invitation e-mail could not be sent; send it again."))
    message = EmailMultiAlternatives(subject=subject, body=body, to=[enrolment.email])
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        # Not retried blindly (the person may get it twice); staff see it and send it again.
        logger.warning("invitation e-mail of enrolment %s not sent: %s", enrolment.pk, type(exc).__name__)
        with transaction.atomic():
            Enrolment.objects.filter(pk=enrolment.pk).update(last_error=not_sent, updated_at=timezone.now())
            _event(
                enrolment,
                EnrolmentEvent.Kind.ACTION,
                operation="invitation_email",
                outcome="error",
                message=gettext_noop("the invitation e-mail could not be sent (%(error)s)"),
                params={"error": type(exc).__name__},
            )
        return False
    with transaction.atomic():
        Enrolment.objects.filter(pk=enrolment.pk, last_error=not_sent).update(last_error="")
        _event(
            enrolment,
            EnrolmentEvent.Kind.ACTION,
            operation="invitation_email",
            outcome="ok",
            message=gettext_noop("invitation e-mailed"),
        )
    return True


_IDENTITY_FIELDS = (
    "full_name",
    "phone",
    "ktp_number",
    "npwp_number",
    "address",
    "city",
    "province",
    "gender",
    "place_of_birth",
    "date_of_birth",
)


def _identity_updates(
    enrolment: Enrolment, data: dict[str, Any], photos: dict[str, bytes | None]
) -> tuple[dict[str, Any], list[str]]:
    updates = {f: data[f] for f in _IDENTITY_FIELDS if f in data}
    if "npwp_number" in data:
        updates["npwp_number"] = data["npwp_number"] or ""
    replaced: list[str] = []
    for field, content in photos.items():
        if content:
            old = getattr(enrolment, field).name
            if old:
                replaced.append(old)
            updates[field] = _store_file(enrolment, field, content)
    if updates.get("npwp_number") == "" and enrolment.npwp_photo.name and "npwp_photo" not in updates:
        # No NPWP number: its photo is not needed either.
        replaced.append(enrolment.npwp_photo.name)
        updates["npwp_photo"] = ""
    return updates, replaced


def enrolment_prefill(
    *, enrolment: Enrolment, actor: Any, data: dict[str, Any], photos: dict[str, bytes | None]
) -> Enrolment:
    """Staff fill the registration data for the person. Nothing is sent: the person still reviews
    it and gives consent."""
    if enrolment.status != S.INVITED:
        raise EnrolmentError(_("The registration data can only be filled in before it is sent."))
    updates, replaced = _identity_updates(enrolment, data, photos)
    with transaction.atomic():
        changed = Enrolment.objects.filter(pk=enrolment.pk, status=S.INVITED).update(
            **updates, updated_at=timezone.now()
        )
        if not changed:
            raise EnrolmentError(_("The registration data can only be filled in before it is sent."))
        _event(
            enrolment,
            EnrolmentEvent.Kind.ACTION,
            actor=actor,
            operation="prefill",
            message=gettext_noop("registration data filled in by staff"),
        )
        transaction.on_commit(lambda: _delete_files(replaced))
    enrolment.refresh_from_db()
    return enrolment


# ---------------------------------------------------------------------------------------------
# The person: consent + registration, video, specimen


def enrolment_registration_submit(
    *,
    enrolment: Enrolment,
    actor: Any,
    data: dict[str, Any],
    photos: dict[str, bytes | None],
    consent_text: str,
    language: str,
) -> Enrolment:
    """The person confirms their data and consents; Registration is queued (sent by the worker).

    Consent is recorded in the same transaction as the state change, so no identity data can be
    sent without a consent row (R17)."""
    if actor.pk != enrolment.user_id:
        raise EnrolmentError(_("Only the person themselves can give consent and send the registration."))
    if enrolment.status != S.INVITED:
        raise EnrolmentError(_("The registration has already been sent."))
    if not photos.get("ktp_photo") and not enrolment.ktp_photo.name:
        raise EnrolmentError(_("Upload a photo of your KTP."))
    if data.get("npwp_number") and not (photos.get("npwp_photo") or enrolment.npwp_photo.name):
        raise EnrolmentError(_("Upload a photo of your NPWP, or leave the NPWP number empty."))
    updates, replaced = _identity_updates(enrolment, data, photos)
    stored = [v for k, v in updates.items() if k in photos and v]
    try:
        _registration_commit(enrolment, actor, updates, consent_text, language)
    except Exception:
        _delete_files(stored)  # nothing was committed: the new files would be orphans
        raise
    transaction.on_commit(lambda: _delete_files(replaced))
    return enrolment


def _registration_commit(
    enrolment: Enrolment, actor: Any, updates: dict[str, Any], consent_text: str, language: str
) -> None:
    now = timezone.now()
    with transaction.atomic():
        Consent.objects.create(
            enrolment=enrolment,
            user=actor,
            version=CONSENT_VERSION,
            language=language[:8],
            text_sha256=consent_hash(consent_text),
            given_at=now,
        )
        _event(
            enrolment,
            EnrolmentEvent.Kind.ACTION,
            actor=actor,
            operation="consent",
            message=gettext_noop("consent %(version)s given (%(language)s)"),
            params={"version": CONSENT_VERSION, "language": language[:8]},
        )
        changed = _transition(
            enrolment,
            frm=[S.INVITED],
            to=S.REGISTERING,
            actor=actor,
            message=gettext_noop("registration submitted"),
            enqueue=True,
            submitted_at=now,
            call_started_at=None,
            step_attempts=0,
            reconcile_step="",
            resent_after_unknown=False,
            last_error="",
            last_result_code="",
            last_result_desc="",
            next_poll_at=now + LEASE,
            **updates,
        )
        if not changed:
            raise EnrolmentError(_("The registration has already been sent."))


def enrolment_video_submit(*, enrolment: Enrolment, actor: Any, video: bytes) -> Enrolment:
    """A (new) face video from the person: queued for Video Verification."""
    allowed = [S.AWAITING_VIDEO, S.KYC_REJECTED, S.VIDEO_INVALID]
    if actor.pk != enrolment.user_id or enrolment.status not in allowed or enrolment.is_embedded:
        raise EnrolmentError(_("A video cannot be sent at this step."))
    old = enrolment.video.name
    name = _store_file(enrolment, "video", video)
    now = timezone.now()
    if not _transition(
        enrolment,
        frm=allowed,
        to=S.VERIFYING_VIDEO,
        actor=actor,
        message=gettext_noop("face video recorded"),
        enqueue=True,
        video=name,
        call_started_at=None,
        step_attempts=0,
        poll_attempts=0,
        reconcile_step="",
        resent_after_unknown=False,
        video_pending=False,
        next_poll_at=now + LEASE,
    ):
        _delete_files([name])
        raise EnrolmentError(_("A video cannot be sent at this step."))
    _delete_files([old])
    return enrolment


def enrolment_specimen_submit(*, enrolment: Enrolment, actor: Any, image: bytes) -> Enrolment:
    """The person's handwritten signature specimen: queued for Send Speciment."""
    if actor.pk != enrolment.user_id or enrolment.status != S.AWAITING_SPECIMEN:
        raise EnrolmentError(_("A signature cannot be sent at this step."))
    old = enrolment.specimen.name
    name = _store_file(enrolment, "specimen", image)
    now = timezone.now()
    if not _transition(
        enrolment,
        frm=[S.AWAITING_SPECIMEN],
        to=S.SENDING_SPECIMEN,
        actor=actor,
        message=gettext_noop("signature specimen drawn"),
        enqueue=True,
        specimen=name,
        call_started_at=None,
        step_attempts=0,
        reconcile_step="",
        resent_after_unknown=False,
        next_poll_at=now + LEASE,
    ):
        _delete_files([name])
        raise EnrolmentError(_("A signature cannot be sent at this step."))
    _delete_files([old])
    return enrolment


def enrolment_check_now(*, enrolment: Enrolment, actor: Any) -> bool:
    """A hint (the web view's callback, a "check now" button): ask Peruri soon. Only Peruri's answer
    changes state (R11). Rate limited per enrolment in the shared cache. False when not applicable
    or over the limit."""
    pollable = [S.AWAITING_WEBVIEW, S.AWAITING_CERTIFICATE, S.RECONCILING]
    if enrolment.status not in pollable:
        return False
    key = f"certificates:check-now:{enrolment.pk}:{int(time.time() // 60)}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:
        count = 1
    if count > settings.CERTIFICATES_CHECK_NOW_PER_MINUTE:
        return False
    with transaction.atomic():
        changed = Enrolment.objects.filter(pk=enrolment.pk, status__in=pollable).update(next_poll_at=timezone.now())
        if changed:
            _event(
                enrolment,
                EnrolmentEvent.Kind.ACTION,
                actor=actor,
                operation="check_now",
                message=gettext_noop("check with Peruri requested"),
            )
            _enqueue_advance(enrolment.pk)
    enrolment.refresh_from_db()
    return bool(changed)


def enrolment_link_existing(*, enrolment: Enrolment, actor: Any) -> Enrolment:
    """Peruri already knows this person (1002/1003): look for their certificate by e-mail and, if
    there is none yet, continue with activation from the existing registration — after 1003 only
    when Peruri knows an account under this address (the KTP number may be under another one)."""
    is_owner = actor.pk == enrolment.user_id
    if not (is_owner or getattr(actor, "is_partner_staff", False)) or enrolment.status != S.ALREADY_REGISTERED:
        raise EnrolmentError(_("There is no existing Peruri account to link at this step."))
    _transition(
        enrolment,
        frm=[S.ALREADY_REGISTERED],
        to=S.RECONCILING,
        actor=actor,
        message=gettext_noop("link the existing Peruri account"),
        enqueue=True,
        reconcile_step=LINK_BY_NIK if enrolment.last_result_code == "1003" else LINK_BY_EMAIL,
        poll_attempts=0,
        next_poll_at=timezone.now(),
    )
    return enrolment


def enrolment_webview_reopen(*, enrolment: Enrolment, actor: Any) -> Enrolment:
    """Embedded mode: after a rejected e-KYC, open Peruri's activation page again."""
    if actor.pk != enrolment.user_id or not enrolment.is_embedded or enrolment.status != S.KYC_REJECTED:
        raise EnrolmentError(_("Peruri's activation page cannot be opened at this step."))
    now = timezone.now()
    _transition(
        enrolment,
        frm=[S.KYC_REJECTED],
        to=S.AWAITING_WEBVIEW,
        actor=actor,
        message=gettext_noop("Peruri's activation page opened again"),
        poll_attempts=0,
        next_poll_at=now + timedelta(seconds=settings.CERTIFICATES_WEBVIEW_POLL_SECONDS),
    )
    return enrolment


# ---------------------------------------------------------------------------------------------
# The engine (run by certificates.tasks.enrolment_advance)


def enrolment_advance(*, enrolment_id: int) -> None:
    """Do whatever is due for one enrolment. Safe to run twice, or twice at once."""
    enrolment = Enrolment.objects.filter(pk=enrolment_id).first()
    if enrolment is None or enrolment.is_terminal:
        return
    status = enrolment.status
    if status in Enrolment.IN_FLIGHT:
        _step_run(enrolment)
    elif status in (S.AWAITING_CERTIFICATE, S.AWAITING_WEBVIEW, S.RECONCILING):
        _certificate_poll(enrolment)
    elif status == S.VIDEO_PENDING:
        _video_pending_poll(enrolment)
    else:
        _person_deadline_check(enrolment)


def _person_deadline_check(enrolment: Enrolment) -> None:
    now = timezone.now()
    if enrolment.deadline_at is not None and enrolment.deadline_at <= now:
        _transition(
            enrolment,
            frm=[enrolment.status],
            to=S.EXPIRED,
            message=gettext_noop("the deadline passed"),
            next_poll_at=None,
        )
    else:
        Enrolment.objects.filter(pk=enrolment.pk, status=enrolment.status).update(
            next_poll_at=enrolment.deadline_at or _person_deadline(now)
        )


def _step_payload(enrolment: Enrolment) -> Callable[[Any], Any]:
    """What to send for the enrolment's step, read before the call (files decrypted)."""
    e = enrolment
    if e.status == S.REGISTERING:
        if not (e.ktp_number and e.full_name and e.date_of_birth):
            raise _MissingData("registration data")
        ktp_photo = _read_file(e.ktp_photo.name)
        npwp_photo = _read_file(e.npwp_photo.name) if e.npwp_number else None
        dob: date = e.date_of_birth
        return lambda client: client.register(
            name=e.full_name,
            phone=e.phone,
            email=e.email,
            ktp=e.ktp_number,
            ktp_photo=ktp_photo,
            address=e.address,
            city=e.city,
            province=e.province,
            gender=e.gender,
            place_of_birth=e.place_of_birth,
            date_of_birth=dob,
            npwp=e.npwp_number or None,
            npwp_photo=npwp_photo,
            org_unit=e.org_unit or None,
            work_unit=e.work_unit or None,
            position=e.position or None,
        )
    if e.status == S.ACTIVATING:
        return lambda client: client.activate(email=e.email)
    if e.status == S.VERIFYING_VIDEO:
        video = _read_file(e.video.name)
        return lambda client: client.verify_video(email=e.email, video=video)
    if e.status == S.SENDING_SPECIMEN:
        image = _read_file(e.specimen.name)
        return lambda client: client.send_specimen(email=e.email, image=image)
    raise AssertionError(e.status)


def _step_run(enrolment: Enrolment) -> None:
    step = enrolment.status
    spec = _STEPS[step]
    now = timezone.now()
    if enrolment.call_started_at is not None:
        # A call was claimed and no outcome recorded: it may still be running, or its worker died.
        if enrolment.call_started_at + spec.stale_after <= now:
            _transition(
                enrolment,
                frm=[step],
                claim=enrolment.call_started_at,
                to=S.RECONCILING,
                enqueue=True,
                message=gettext_noop("%(operation)s: no outcome recorded (the worker stopped?); checking with Peruri"),
                params={"operation": spec.operation},
                reconcile_step=step,
                call_started_at=None,
                poll_attempts=0,
                next_poll_at=now,
                last_error=f"{spec.operation}: outcome unknown",
            )
        else:
            Enrolment.objects.filter(pk=enrolment.pk, status=step, call_started_at=enrolment.call_started_at).update(
                next_poll_at=enrolment.call_started_at + spec.stale_after
            )
        return

    claim = now
    claimed = Enrolment.objects.filter(pk=enrolment.pk, status=step, call_started_at__isnull=True).update(
        call_started_at=claim,
        step_attempts=F("step_attempts") + 1,
        next_poll_at=claim + spec.stale_after,
        updated_at=now,
    )
    if not claimed:
        return  # another task has it
    enrolment.refresh_from_db()

    try:
        send = _step_payload(enrolment)
    except _MissingData:
        _step_missing_data(enrolment, step, claim)
        return

    try:
        _call(enrolment, spec.operation, lambda: send(_client()))
    except PeruriPending as exc:
        if step == S.VERIFYING_VIDEO:
            _video_pending(enrolment, exc, claim)
        else:
            _step_rejected(enrolment, step, exc, claim)
    except PeruriRejected as exc:
        _step_rejected(enrolment, step, exc, claim)
    except PeruriError as exc:
        _step_failed_transiently(enrolment, step, exc, claim)
    except (ValueError, TypeError) as exc:
        # The client refused the data before sending anything.
        _transition(
            enrolment,
            frm=[step],
            claim=claim,
            to=S.FAILED,
            message=gettext_noop("%(operation)s: data refused before sending"),
            params={"operation": spec.operation},
            call_started_at=None,
            next_poll_at=None,
            last_error=f"{type(exc).__name__}: {exc}"[:500],
        )
    else:
        _step_succeeded(enrolment, step, claim)


def _step_missing_data(enrolment: Enrolment, step: str, claim: datetime) -> None:
    back = {
        S.REGISTERING: S.INVITED,
        S.ACTIVATING: S.FAILED,
        S.VERIFYING_VIDEO: S.AWAITING_VIDEO,
        S.SENDING_SPECIMEN: S.AWAITING_SPECIMEN,
    }[step]
    now = timezone.now()
    _transition(
        enrolment,
        frm=[step],
        claim=claim,
        to=back,
        message=gettext_noop("the data for this step is no longer on file"),
        call_started_at=None,
        deadline_at=_person_deadline(now),
        next_poll_at=None if back == S.FAILED else _person_deadline(now),
        last_error=str(_("The data for this step is no longer on file: it must be provided again.")),
    )


def _step_succeeded(enrolment: Enrolment, step: str, claim: datetime) -> None:
    now = timezone.now()
    common = {
        "call_started_at": None,
        "step_attempts": 0,
        "reconcile_step": "",
        "resent_after_unknown": False,
        "last_error": "",
        "last_result_code": "0",
        "last_result_desc": "",
    }
    if step == S.REGISTERING:
        _after_registered(enrolment, frm=S.REGISTERING, claim=claim, **common)
    elif step == S.ACTIVATING:
        _transition(
            enrolment,
            frm=[step],
            claim=claim,
            to=S.AWAITING_VIDEO,
            message=gettext_noop("activated"),
            activated_at=now,
            deadline_at=_person_deadline(now),
            next_poll_at=_person_deadline(now),
            **common,
        )
    elif step == S.VERIFYING_VIDEO:
        if _transition(
            enrolment,
            frm=[step],
            claim=claim,
            to=S.AWAITING_SPECIMEN,
            message=gettext_noop("face video verified"),
            video_verified_at=now,
            video_pending=False,
            deadline_at=_person_deadline(now),
            next_poll_at=_person_deadline(now),
            **common,
        ):
            _purge_fields(enrolment, ["video"], reason=PURGE_ACCEPTED)
    elif step == S.SENDING_SPECIMEN and _transition(
        enrolment,
        frm=[step],
        claim=claim,
        to=S.AWAITING_CERTIFICATE,
        message=gettext_noop("signature specimen sent"),
        enqueue=True,
        specimen_sent_at=now,
        poll_attempts=0,
        next_poll_at=now,
        deadline_at=now + timedelta(hours=settings.CERTIFICATES_CERTIFICATE_WAIT_HOURS),
        **common,
    ):
        _purge_fields(enrolment, ["specimen"], reason=PURGE_ACCEPTED)


def _after_registered(enrolment: Enrolment, *, frm: str, claim: datetime | None = None, **updates: Any) -> None:
    """Peruri has the person's registration: delete the KTP/NPWP photos; native → Activation,
    embedded → Peruri's activation page."""
    now = timezone.now()
    fields: dict[str, Any] = {
        "call_started_at": None,
        "reconcile_step": "",
        "step_attempts": 0,
        "poll_attempts": 0,
        "registered_at": enrolment.registered_at or now,
        "deadline_at": _person_deadline(now),
    }
    fields.update(updates)
    if enrolment.is_embedded:
        moved = _transition(
            enrolment,
            frm=[frm],
            claim=claim,
            to=S.AWAITING_WEBVIEW,
            message=gettext_noop("registered; waiting for Peruri's activation page"),
            next_poll_at=now + timedelta(seconds=settings.CERTIFICATES_WEBVIEW_POLL_SECONDS),
            **fields,
        )
    else:
        moved = _transition(
            enrolment,
            frm=[frm],
            claim=claim,
            to=S.ACTIVATING,
            message=gettext_noop("registered; activating"),
            enqueue=True,
            next_poll_at=now + LEASE,
            **fields,
        )
    if moved:
        _purge_fields(enrolment, ["ktp_photo", "npwp_photo"], reason=PURGE_ACCEPTED)


def _video_pending(enrolment: Enrolment, exc: PeruriError, claim: datetime) -> None:
    """1040: Peruri is still verifying the video. Peruri has no read operation for the e-KYC state,
    so the poller asks again with Video Verification (a known outcome: not a blind re-send)."""
    attempts = enrolment.poll_attempts + 1
    _transition(
        enrolment,
        frm=[S.VERIFYING_VIDEO],
        claim=claim,
        to=S.VIDEO_PENDING,
        message=gettext_noop("face video still being verified (%(code)s)"),
        params={"code": exc.code or ""},
        call_started_at=None,
        video_pending=True,
        poll_attempts=attempts,
        next_poll_at=timezone.now() + _poll_delay(attempts),
        **_peruri_fields(exc),
    )


def _step_rejected(enrolment: Enrolment, step: str, exc: PeruriRejected, claim: datetime) -> None:
    code = exc.code or ""
    now = timezone.now()
    fields = {"call_started_at": None, **_peruri_fields(exc)}
    if step == S.REGISTERING and code in ALREADY_REGISTERED_CODES:
        if enrolment.resent_after_unknown:
            # Our earlier Registration, whose answer we never got, went through.
            _after_registered(enrolment, frm=step, claim=claim, resent_after_unknown=False, step_attempts=0, **fields)
            return
        _transition(
            enrolment,
            frm=[step],
            claim=claim,
            to=S.ALREADY_REGISTERED,
            message=gettext_noop("already registered at Peruri (%(code)s)"),
            params={"code": code},
            next_poll_at=enrolment.deadline_at or _person_deadline(now),
            **fields,
        )
        return
    if step == S.REGISTERING and code in FIXABLE_REGISTRATION_CODES:
        _transition(
            enrolment,
            frm=[step],
            claim=claim,
            to=S.INVITED,
            message=gettext_noop("registration rejected (%(code)s): the form is open again"),
            params={"code": code},
            next_poll_at=enrolment.deadline_at or _person_deadline(now),
            **fields,
        )
        return
    if step == S.VERIFYING_VIDEO and code in (KYC_REJECTED_CODE, BAD_VIDEO_CODE):
        to = S.KYC_REJECTED if code == KYC_REJECTED_CODE else S.VIDEO_INVALID
        if _transition(
            enrolment,
            frm=[step],
            claim=claim,
            to=to,
            message=gettext_noop("face video rejected (%(code)s)"),
            params={"code": code},
            video_pending=False,
            next_poll_at=enrolment.deadline_at or _person_deadline(now),
            **fields,
        ):
            _purge_fields(enrolment, ["video"], reason=PURGE_REJECTED, code=code)
        return
    if step == S.SENDING_SPECIMEN:
        if _transition(
            enrolment,
            frm=[step],
            claim=claim,
            to=S.AWAITING_SPECIMEN,
            message=gettext_noop("signature specimen rejected (%(code)s)"),
            params={"code": code},
            next_poll_at=enrolment.deadline_at or _person_deadline(now),
            **fields,
        ):
            _purge_fields(enrolment, ["specimen"], reason=PURGE_REJECTED, code=code)
        return
    _transition(
        enrolment,
        frm=[step],
        claim=claim,
        to=S.FAILED,
        message=gettext_noop("%(operation)s rejected (%(code)s)"),
        params={"operation": _STEPS[step].operation, "code": code},
        next_poll_at=None,
        **fields,
    )


def _step_failed_transiently(enrolment: Enrolment, step: str, exc: PeruriError, claim: datetime) -> None:
    now = timezone.now()
    operation = _STEPS[step].operation
    if exc.outcome_unknown:
        # Peruri may have applied it: never re-send before Check Certificate (R2).
        _transition(
            enrolment,
            frm=[step],
            claim=claim,
            to=S.RECONCILING,
            message=gettext_noop("%(operation)s: outcome unknown; checking with Peruri"),
            params={"operation": operation},
            call_started_at=None,
            reconcile_step=step,
            poll_attempts=0,
            next_poll_at=now + _poll_delay(1),
            **_peruri_fields(exc),
        )
        return
    if isinstance(exc, PeruriUnavailable):
        # Circuit open: nothing was sent; try later without using up an attempt (R4).
        Enrolment.objects.filter(pk=enrolment.pk, status=step, call_started_at=claim).update(
            call_started_at=None,
            step_attempts=F("step_attempts") - 1,
            next_poll_at=now + _jitter(UNAVAILABLE_DELAY.total_seconds()),
            last_error=f"{type(exc).__name__}: {exc}"[:500],
            updated_at=now,
        )
        return
    if enrolment.step_attempts >= settings.CERTIFICATES_STEP_MAX_ATTEMPTS:
        _transition(
            enrolment,
            frm=[step],
            claim=claim,
            to=S.FAILED,
            message=gettext_noop("%(operation)s: gave up after %(attempts)s attempts"),
            params={"operation": operation, "attempts": enrolment.step_attempts},
            call_started_at=None,
            next_poll_at=None,
            **_peruri_fields(exc),
        )
        return
    # Not sent, or refused before being applied: safe to send again later.
    Enrolment.objects.filter(pk=enrolment.pk, status=step, call_started_at=claim).update(
        call_started_at=None,
        next_poll_at=now + _poll_delay(enrolment.step_attempts),
        updated_at=now,
        **_peruri_fields(exc),
    )


def _video_pending_poll(enrolment: Enrolment) -> None:
    now = timezone.now()
    if enrolment.deadline_at is not None and enrolment.deadline_at <= now:
        _transition(
            enrolment,
            frm=[S.VIDEO_PENDING],
            to=S.EXPIRED,
            message=gettext_noop("the deadline passed while the video was being verified"),
            next_poll_at=None,
        )
        return
    _transition(
        enrolment,
        frm=[S.VIDEO_PENDING],
        to=S.VERIFYING_VIDEO,
        message=gettext_noop("asking Peruri again about the face video"),
        enqueue=True,
        call_started_at=None,
        step_attempts=0,
        next_poll_at=now + LEASE,
    )


def _certificate_poll(enrolment: Enrolment) -> None:
    """Check Certificate for a row waiting on issuance, on the web view, or being reconciled."""
    status = enrolment.status
    now = timezone.now()
    Enrolment.objects.filter(pk=enrolment.pk, status=status).update(poll_attempts=F("poll_attempts") + 1)
    enrolment.refresh_from_db()
    if enrolment.status != status:
        return
    attempts = enrolment.poll_attempts
    try:
        certificate = _call(enrolment, "check_certificate", lambda: _client().check_certificate(email=enrolment.email))
    except PeruriRejected as exc:
        fields = _peruri_fields(exc)
        fields["last_error"] = ""
        if status == S.RECONCILING:
            _reconcile_not_issued(enrolment, fields)
        elif exc.code == KYC_REJECTED_CODE:
            _transition(
                enrolment,
                frm=[status],
                to=S.KYC_REJECTED,
                message=gettext_noop("face verification rejected (%(code)s)"),
                params={"code": exc.code},
                next_poll_at=enrolment.deadline_at or _person_deadline(now),
                **fields,
            )
        else:
            _poll_again(enrolment, status, attempts, fields)
        return
    except PeruriError as exc:
        fields = {"last_error": f"{type(exc).__name__}: {exc}"[:500]}
        if isinstance(exc, PeruriUnavailable):
            Enrolment.objects.filter(pk=enrolment.pk, status=status).update(
                poll_attempts=F("poll_attempts") - 1,
                next_poll_at=now + _jitter(UNAVAILABLE_DELAY.total_seconds()),
                updated_at=now,
                **fields,
            )
            return
        _poll_again(enrolment, status, attempts, fields)
        return
    # "0": issued. Everything Paraf held for Peruri can go.
    if _transition(
        enrolment,
        frm=[status],
        to=S.ISSUED,
        message=gettext_noop("certificate issued"),
        issued_at=now,
        next_poll_at=None,
        deadline_at=None,
        call_started_at=None,
        reconcile_step="",
        last_error="",
        last_result_code="0",
        last_result_desc=(certificate.description or "")[:255],
        certificate_is_expired=(certificate.is_expired or "")[:8],
    ):
        _purge_fields(enrolment, ["ktp_photo", "npwp_photo", "video", "specimen"], reason=PURGE_ISSUED)


def _poll_again(enrolment: Enrolment, status: str, attempts: int, fields: dict[str, str]) -> None:
    now = timezone.now()
    if status != S.RECONCILING and enrolment.deadline_at is not None and enrolment.deadline_at <= now:
        _transition(
            enrolment,
            frm=[status],
            to=S.EXPIRED,
            message=gettext_noop("no certificate before the deadline"),
            next_poll_at=None,
            **fields,
        )
        return
    if status == S.AWAITING_WEBVIEW:
        delay = _jitter(max(settings.CERTIFICATES_WEBVIEW_POLL_SECONDS, _poll_delay(attempts).total_seconds()))
    else:
        delay = _poll_delay(attempts)
    Enrolment.objects.filter(pk=enrolment.pk, status=status).update(next_poll_at=now + delay, updated_at=now, **fields)


def _reconcile_not_issued(enrolment: Enrolment, fields: dict[str, str]) -> None:
    """Check Certificate says there is no certificate: carry on with the step that was in doubt."""
    step = enrolment.reconcile_step
    now = timezone.now()
    if step == LINK_BY_NIK and fields.get("last_result_code") != NO_CERTIFICATE_CODE:
        # Peruri has the KTP number, but no account under this address: nothing to activate here.
        _transition(
            enrolment,
            frm=[S.RECONCILING],
            to=S.FAILED,
            message=gettext_noop(
                "no Peruri account under this e-mail address (%(code)s): the KTP number is registered under another one"
            ),
            params={"code": fields.get("last_result_code", "")},
            reconcile_step="",
            next_poll_at=None,
            last_error=str(
                _(
                    "Peruri knows this KTP number (NIK) under another e-mail address. Invite the person "
                    "with that address, or ask Peruri to correct it."
                )
            ),
        )
        return
    if step in (LINK_BY_EMAIL, LINK_BY_NIK):
        _after_registered(enrolment, frm=S.RECONCILING, **fields)
        return
    if step not in _STEPS:
        _transition(
            enrolment,
            frm=[S.RECONCILING],
            to=S.FAILED,
            message=gettext_noop("nothing to check with Peruri"),
            next_poll_at=None,
            **fields,
        )
        return
    _transition(
        enrolment,
        frm=[S.RECONCILING],
        to=step,
        message=gettext_noop("no certificate yet: sending %(operation)s again"),
        params={"operation": _STEPS[step].operation},
        enqueue=True,
        reconcile_step="",
        resent_after_unknown=True,
        call_started_at=None,
        step_attempts=0,
        next_poll_at=now + LEASE,
        **fields,
    )


# ---------------------------------------------------------------------------------------------
# Staff: retry, background dispatch, housekeeping


def enrolment_retry(*, enrolment: Enrolment, actor: Any) -> Enrolment:
    """Staff retry of a stuck, failed or expired enrolment. A step whose outcome is unknown is
    reconciled first; a failed one resumes where the person got to."""
    now = timezone.now()
    status = enrolment.status
    if status in (S.ISSUED, S.CANCELLED):
        raise EnrolmentError(_("This enrolment cannot be retried."))
    if status in Enrolment.IN_FLIGHT and enrolment.call_started_at is not None:
        if enrolment.call_started_at + _STEPS[status].stale_after > now:
            # The worker may still be waiting for Peruri's answer: checking now could not see the
            # call, and re-sending behind it is the duplicate R2 forbids.
            raise EnrolmentError(_("A call to Peruri is in flight. Wait for its answer before retrying."))
        _transition(
            enrolment,
            frm=[status],
            claim=enrolment.call_started_at,
            to=S.RECONCILING,
            actor=actor,
            enqueue=True,
            message=gettext_noop("retry by staff: checking the unanswered call with Peruri"),
            reconcile_step=status,
            call_started_at=None,
            poll_attempts=0,
            next_poll_at=now,
        )
        return enrolment
    if status in (S.FAILED, S.EXPIRED):
        target, extra = _resume_point(enrolment)
        _transition(
            enrolment,
            frm=[status],
            to=target,
            actor=actor,
            enqueue=True,
            message=gettext_noop("retry by staff"),
            call_started_at=None,
            step_attempts=0,
            poll_attempts=0,
            next_poll_at=now,
            last_error="",
            deadline_at=_person_deadline(now)
            if target != S.AWAITING_CERTIFICATE
            else now + timedelta(hours=settings.CERTIFICATES_CERTIFICATE_WAIT_HOURS),
            **extra,
        )
        return enrolment
    with transaction.atomic():
        Enrolment.objects.filter(pk=enrolment.pk, status=status).update(
            next_poll_at=now, poll_attempts=0, updated_at=now
        )
        _event(
            enrolment,
            EnrolmentEvent.Kind.ACTION,
            actor=actor,
            operation="retry",
            message=gettext_noop("checked again by staff"),
        )
        _enqueue_advance(enrolment.pk)
    enrolment.refresh_from_db()
    return enrolment


def _resume_point(e: Enrolment) -> tuple[str, dict[str, Any]]:
    if e.reconcile_step:
        return S.RECONCILING, {}
    if e.specimen_sent_at:
        return S.AWAITING_CERTIFICATE, {}
    if e.video_verified_at:
        return (S.SENDING_SPECIMEN if e.specimen.name else S.AWAITING_SPECIMEN), {}
    if e.activated_at:
        return (S.VERIFYING_VIDEO if e.video.name else S.AWAITING_VIDEO), {}
    if e.registered_at:
        return (S.AWAITING_WEBVIEW if e.is_embedded else S.ACTIVATING), {}
    if e.submitted_at and e.ktp_photo.name and e.ktp_number:
        return S.REGISTERING, {}
    return S.INVITED, {}


def enrolments_due_claim(*, limit: int = 100) -> list[int]:
    """Rows whose `next_poll_at` is due: push it forward (a lease) before anyone calls out, so a
    crash cannot make a hot loop, and return their ids. Served by the partial index
    cert_enrolment_poll_due_idx."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Enrolment.objects.filter(next_poll_at__lte=now)
            .exclude(status__in=list(Enrolment.TERMINAL))
            .order_by("next_poll_at")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            Enrolment.objects.filter(pk__in=ids).update(next_poll_at=now + LEASE)
    return ids


def enrolments_requeue_stuck() -> list[int]:
    """Housekeeping: non-final rows nobody will pick up (no next_poll_at, or overdue by more than
    STUCK_AFTER: the dispatcher is not keeping up) and calls claimed longer ago than their step
    allows. Returns their ids for the caller to enqueue; safe to run twice (the tasks claim by
    compare-and-set)."""
    from certificates.selectors import STUCK_AFTER

    now = timezone.now()
    live = Enrolment.objects.exclude(status__in=list(Enrolment.TERMINAL))
    ids = set(
        live.filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lt=now - STUCK_AFTER)).values_list("pk", flat=True)
    )
    for step, spec in _STEPS.items():
        ids.update(
            Enrolment.objects.filter(status=step, call_started_at__lt=now - spec.stale_after).values_list(
                "pk", flat=True
            )
        )
    if ids:
        # A lease, as the dispatcher takes: the task enqueued now is the one that handles them.
        Enrolment.objects.filter(pk__in=ids).update(next_poll_at=now + LEASE)
    return sorted(ids)


def enrolments_purge_stale_files() -> int:
    """Delete identity files of issued enrolments (leftovers) and of enrolments without activity
    for CERTIFICATES_IDENTITY_RETENTION_DAYS (abandoned, failed, expired). Calls in flight keep
    theirs."""
    cutoff = timezone.now() - timedelta(days=settings.CERTIFICATES_IDENTITY_RETENTION_DAYS)
    has_files = ~Q(ktp_photo="") | ~Q(npwp_photo="") | ~Q(video="") | ~Q(specimen="")
    rows = Enrolment.objects.filter(has_files).filter(
        Q(status__in=[S.ISSUED, S.CANCELLED]) | (Q(updated_at__lt=cutoff) & ~Q(status__in=list(Enrolment.IN_FLIGHT)))
    )
    count = 0
    for enrolment in rows:
        _purge_fields(
            enrolment,
            ["ktp_photo", "npwp_photo", "video", "specimen"],
            reason=PURGE_ISSUED if enrolment.is_issued else PURGE_RETENTION,
        )
        count += 1
    return count


# ---------------------------------------------------------------------------------------------
# Personal data: staff reads, export, erasure (R17)


# What was read (history messages of identity reads).
READ_IDENTITY_PAGE = gettext_noop("identity data shown")
READ_PREFILL_FORM = gettext_noop("registration data shown for filling in")
READ_FILE = gettext_noop("%(file)s shown")
READ_EXPORT = gettext_noop("full export")


def identity_read_record(
    *, enrolment: Enrolment, actor: Any, what: str, via: str, params: dict[str, Any] | None = None
) -> None:
    """Record that someone read this person's identity data (staff pages, admin, export).
    `what` is one of the READ_* messages."""
    _event(enrolment, EnrolmentEvent.Kind.IDENTITY_READ, actor=actor, operation=via[:32], message=what, params=params)


def enrolment_export(*, enrolment: Enrolment, actor: Any = None, include_files: bool = True) -> dict[str, Any]:
    """Everything Paraf holds about the person's enrolment, decrypted (a subject access request).
    The read is recorded."""
    import base64

    e = enrolment
    files: dict[str, str | None] = {}
    for field in ("ktp_photo", "npwp_photo", "video", "specimen"):
        name = getattr(e, field).name
        if not name:
            files[field] = None
            continue
        try:
            files[field] = base64.b64encode(_read_file(name)).decode() if include_files else "(on file)"
        except _MissingData:
            files[field] = None
    data = {
        "email": e.email,
        "status": e.status,
        "license_type": e.license_type,
        "org_unit": e.org_unit,
        "work_unit": e.work_unit,
        "position": e.position,
        "full_name": e.full_name,
        "phone": e.phone,
        "ktp_number": e.ktp_number,
        "npwp_number": e.npwp_number,
        "address": e.address,
        "city": e.city,
        "province": e.province,
        "gender": e.gender,
        "place_of_birth": e.place_of_birth,
        "date_of_birth": e.date_of_birth.isoformat() if e.date_of_birth else None,
        "files": files,
        "consents": [
            {
                "version": c.version,
                "language": c.language,
                "text_sha256": c.text_sha256,
                "given_at": c.given_at.isoformat(),
            }
            for c in e.consents.order_by("given_at")
        ],
        "history": [
            {
                "at": ev.created_at.isoformat(),
                "kind": ev.kind,
                "from": ev.from_status,
                "to": ev.to_status,
                "operation": ev.operation,
                "outcome": ev.outcome,
                "code": ev.result_code,
                "message": ev.text,
            }
            for ev in e.events.order_by("created_at", "pk")
        ],
        "timestamps": {
            k: (getattr(e, k).isoformat() if getattr(e, k) else None)
            for k in (
                "invited_at",
                "submitted_at",
                "registered_at",
                "activated_at",
                "video_verified_at",
                "specimen_sent_at",
                "issued_at",
                "files_purged_at",
                "erased_at",
            )
        },
    }
    identity_read_record(enrolment=e, actor=actor, what=READ_EXPORT, via="export")
    return data


def enrolment_erase(*, enrolment: Enrolment, actor: Any = None) -> Enrolment:
    """Erase the person's identity data: files deleted, registration fields blanked. The history
    (which holds no identity data) and consent records stay as evidence. An enrolment that has not
    finished is cancelled; Peruri's own copy is Peruri's to erase.

    Raises EnrolmentError while a call to Peruri is claimed (the worker is sending this data).
    The cancellation is a compare-and-set against an unclaimed row, so the erasure and a worker's
    claim cannot both win, however stale `enrolment` is."""
    from signing.gateway import peruri_calls_forget_email

    in_flight = _("A call to Peruri is in flight; erase again in a few minutes.")
    now = timezone.now()
    with transaction.atomic():
        enrolment.refresh_from_db()
        if not enrolment.is_terminal and not _transition(
            enrolment,
            frm=[enrolment.status],
            unclaimed=True,
            to=S.CANCELLED,
            actor=actor,
            message=gettext_noop("cancelled by the erasure of the identity data"),
            next_poll_at=None,
        ):
            # Claimed by a worker, or moved on meanwhile: nothing has been changed.
            raise EnrolmentError(in_flight)
        _purge_fields(enrolment, ["ktp_photo", "npwp_photo", "video", "specimen"], reason=PURGE_ERASURE, actor=actor)
        Enrolment.objects.filter(pk=enrolment.pk).update(
            full_name="",
            phone="",
            ktp_number="",
            npwp_number="",
            address="",
            city="",
            province="",
            gender="",
            place_of_birth="",
            date_of_birth=None,
            erased_at=now,
            last_result_desc="",
            updated_at=now,
        )
        peruri_calls_forget_email(email=enrolment.email)
        _event(
            enrolment,
            EnrolmentEvent.Kind.DATA,
            actor=actor,
            operation="erase",
            message=gettext_noop("identity data erased"),
        )
    enrolment.refresh_from_db()
    return enrolment
