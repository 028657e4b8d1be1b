"""Pages of the enrolment: the person's own steps, and the partner staff's list, invitations and
retries. Each view fetches the enrolment scoped to its owner or to staff first (R13); no view
waits on Peruri: calls run in the worker (R1)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import staff_required
from certificates import selectors, services
from certificates.consent import CONSENT_VERSION, consent_paragraphs, consent_text
from certificates.forms import InviteForm, PrefillForm, RegistrationForm, SpecimenForm, VideoForm
from certificates.models import Enrolment

S = Enrolment.Status

# Statuses in which the person's page refreshes itself: Paraf or Peruri is working.
WORKING = frozenset(
    {
        S.REGISTERING,
        S.ACTIVATING,
        S.VERIFYING_VIDEO,
        S.VIDEO_PENDING,
        S.SENDING_SPECIMEN,
        S.AWAITING_CERTIFICATE,
        S.RECONCILING,
    }
)


# The registration fields the form shows pre-filled with what is on file.
_REGISTRATION_INITIAL_FIELDS = (
    "full_name", "phone", "ktp_number", "npwp_number", "address", "city", "province", "gender",
    "place_of_birth", "date_of_birth",
)  # fmt: skip


def _registration_initial(enrolment: Enrolment) -> dict[str, Any]:
    return {f: getattr(enrolment, f) for f in _REGISTRATION_INITIAL_FIELDS if getattr(enrolment, f)}


def _owner_enrolment(request: HttpRequest) -> Enrolment:
    return selectors.enrolment_get_for_owner(user=request.user)


def _consent_paragraphs() -> list[str]:
    days = settings.CERTIFICATES_IDENTITY_RETENTION_DAYS
    return [p % {"days": days} if "%(days)s" in p else p for p in consent_paragraphs()]


def _steps(enrolment: Enrolment) -> list[dict[str, Any]]:
    """The ticks on the person's progress page."""
    e = enrolment
    if e.is_embedded:
        marks = [
            (_("Registered"), e.registered_at),
            (_("Activation, face video and signature at Peruri"), e.issued_at),
            (_("Certificate issued"), e.issued_at),
        ]
    else:
        marks = [
            (_("Registered"), e.registered_at),
            (_("Activated"), e.activated_at),
            (_("Video verified"), e.video_verified_at),
            (_("Specimen sent"), e.specimen_sent_at),
            (_("Certificate issued"), e.issued_at),
        ]
    steps, current_set = [], False
    for label, done_at in marks:
        state = "done" if done_at else ("current" if not current_set else "")
        if not done_at:
            current_set = True
        steps.append({"label": label, "state": state})
    return steps


# ---------------------------------------------------------------------------------------------
# The person


@never_cache
@login_required
@require_GET
def my_enrolment(request: HttpRequest) -> HttpResponse:
    """The person's progress page: where they stand, what to do next, what went wrong."""
    enrolment = selectors.enrolment_for_user(user=request.user)
    if enrolment is None:
        return render(request, "certificates/my_enrolment_none.html", status=404)
    context = {
        "enrolment": enrolment,
        "steps": _steps(enrolment),
        "working": enrolment.status in WORKING,
        "result_message": services.result_message(enrolment.last_result_code),
        "S": S,
    }
    return render(request, "certificates/my_enrolment.html", context)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """Consent first, then every field of Peruri's Registration table."""
    enrolment = _owner_enrolment(request)
    if enrolment.status != S.INVITED:
        return redirect("certificates:my_enrolment")
    if request.method == "POST":
        form = RegistrationForm(request.POST, request.FILES, enrolment=enrolment)
        if form.is_valid():
            text = consent_text(retention_days=settings.CERTIFICATES_IDENTITY_RETENTION_DAYS)
            try:
                services.enrolment_registration_submit(
                    enrolment=enrolment,
                    actor=request.user,
                    data=form.identity_data(),
                    photos=form.photos,
                    consent_text=text,
                    language=get_language() or settings.LANGUAGE_CODE,
                )
            except services.EnrolmentError as exc:
                form.add_error(None, str(exc))
            else:
                return redirect("certificates:my_enrolment")
    else:
        initial = _registration_initial(enrolment)
        initial.setdefault("full_name", request.user.full_name)
        form = RegistrationForm(initial=initial, enrolment=enrolment)
    context = {
        "enrolment": enrolment,
        "form": form,
        "consent_paragraphs": _consent_paragraphs(),
        "consent_version": CONSENT_VERSION,
        "result_message": services.result_message(enrolment.last_result_code),
    }
    return render(request, "certificates/register.html", context)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def video(request: HttpRequest) -> HttpResponse:
    """Native mode: record a short face video in the browser (or pick one) for e-KYC."""
    enrolment = _owner_enrolment(request)
    allowed = (S.AWAITING_VIDEO, S.KYC_REJECTED, S.VIDEO_INVALID)
    if enrolment.is_embedded or enrolment.status not in allowed:
        if request.method == "POST" and _wants_json(request):
            return JsonResponse({"redirect": reverse("certificates:my_enrolment")})
        return redirect("certificates:my_enrolment")
    form = VideoForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.enrolment_video_submit(
                    enrolment=enrolment, actor=request.user, video=form.cleaned_data["video"]
                )
            except services.EnrolmentError as exc:
                form.add_error(None, str(exc))
            else:
                if _wants_json(request):
                    return JsonResponse({"redirect": reverse("certificates:my_enrolment")})
                return redirect("certificates:my_enrolment")
        if _wants_json(request):
            errors = [str(e) for errs in form.errors.values() for e in errs]
            return JsonResponse({"error": " ".join(errors)}, status=400)
    context = {
        "enrolment": enrolment,
        "form": form,
        "max_seconds": settings.CERTIFICATES_VIDEO_MAX_SECONDS,
        "max_bytes": settings.CERTIFICATES_VIDEO_MAX_BYTES,
        "result_message": services.result_message(enrolment.last_result_code),
        "video_strings": _video_strings(),
    }
    return render(request, "certificates/video.html", context)


def _wants_json(request: HttpRequest) -> bool:
    # The widgets (static/js/paraf-common.js) post with Accept: application/json.
    return "application/json" in request.headers.get("Accept", "")


def _signature_strings() -> dict[str, str]:
    return {
        "hint": _("Sign inside the box with your finger, a pen or the mouse."),
        "clear": _("Clear"),
        "undo": _("Undo"),
        "save": _("Save signature"),
        "saving": _("Saving…"),
        "saved": _("Signature saved."),
        "upload_instead": _("Or upload a picture of your signature (PNG or JPEG)"),
        "empty": _("Please draw your signature first."),
        "image_too_big": _("The picture is too large (at most {max} MB)."),
        "image_invalid": _("This file is not a PNG or JPEG picture."),
        "upload_failed": _("The signature could not be saved. Please try again."),
        "pad_label": _("Signature pad"),
    }


def _video_strings() -> dict[str, str]:
    return {
        "intro": _(
            "We need a short video of your face to confirm who you are. Find good light, take off glasses, "
            "hats and masks, and look straight at the camera."
        ),
        "start_camera": _("Turn on the camera"),
        "starting": _("Starting the camera…"),
        "ready": _("Put your face in the middle of the picture, then start recording."),
        "record": _("Start recording"),
        "countdown": _("Recording starts in {seconds}…"),
        "recording": _("Recording… {seconds} s left. Turn your head slowly to the left, then to the right."),
        "stop": _("Stop"),
        "review": _("Check your video: your face must be clearly visible. Send it, or record it again."),
        "retake": _("Record again"),
        "use": _("Send this video"),
        "uploading": _("Sending the video…"),
        "uploaded": _("The video has been sent."),
        "attached": _("The video is ready and will be sent with the form."),
        "too_big": _("The video is too large ({size} MB, at most {max} MB). Please record it again."),
        "denied": _(
            "Camera access was refused. Allow the camera for this site in your browser settings, then try again."
        ),
        "no_camera": _("No camera was found on this device."),
        "unsupported": _("This browser cannot record video. Please use a recent Chrome, Firefox or Safari."),
        "camera_error": _("The camera could not be started. Close other apps that use it and try again."),
        "upload_failed": _("The video could not be sent. Please try again."),
    }


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def specimen(request: HttpRequest) -> HttpResponse:
    """Native mode: the handwritten signature, drawn on a pad or uploaded as a picture."""
    enrolment = _owner_enrolment(request)
    if enrolment.is_embedded or enrolment.status != S.AWAITING_SPECIMEN:
        return redirect("certificates:my_enrolment")
    form = SpecimenForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.enrolment_specimen_submit(
                enrolment=enrolment, actor=request.user, image=form.cleaned_data["image"]
            )
        except services.EnrolmentError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("certificates:my_enrolment")
    context = {
        "enrolment": enrolment,
        "form": form,
        "result_message": services.result_message(enrolment.last_result_code),
        "signature_strings": _signature_strings(),
    }
    return render(request, "certificates/specimen.html", context)


@never_cache
@login_required
@require_GET
def activation(request: HttpRequest) -> HttpResponse:
    """Embedded mode: Peruri's activation web view (e-KYC video + specimen) in an iFrame."""
    enrolment = _owner_enrolment(request)
    if not enrolment.is_embedded or enrolment.status != S.AWAITING_WEBVIEW:
        return redirect("certificates:my_enrolment")
    webview = settings.PERURI_WEBVIEW_URL.rstrip("/")
    query = urlencode({"email": enrolment.email, "systemId": settings.PERURI_SYSTEM_ID})
    context = {
        "enrolment": enrolment,
        "webview_src": f"{webview}/index.php?{query}",
        "webview_origin": _origin(settings.PERURI_WEBVIEW_URL),
        "callback": settings.PERURI_WEBVIEW_CALLBACKS["activation"],
    }
    return render(request, "certificates/activation.html", context)


def _origin(url: str) -> str:
    from config.middleware import origin_of

    return origin_of(url)


@never_cache
@login_required
@require_POST
def activation_confirm(request: HttpRequest) -> JsonResponse:
    """The web view's callback arrived in the browser: only a hint to check Peruri now (R11).
    Same-origin POST with CSRF, owner only, rate limited. Nothing in the request body is trusted."""
    enrolment = _owner_enrolment(request)
    services.enrolment_check_now(enrolment=enrolment, actor=request.user)
    enrolment.refresh_from_db()
    if enrolment.status == S.AWAITING_WEBVIEW:
        # Not issued yet (Peruri may take a moment): the widget asks again after `retry` seconds.
        return JsonResponse(
            {"status": _("Checking with Peruri… this page will update when your certificate is ready."), "retry": 5}
        )
    return JsonResponse({"redirect": reverse("certificates:my_enrolment")})


@never_cache
@login_required
@require_POST
def check_now(request: HttpRequest) -> HttpResponse:
    enrolment = _owner_enrolment(request)
    if not services.enrolment_check_now(enrolment=enrolment, actor=request.user):
        messages.info(request, _("Please wait a moment before checking again."))
    return redirect("certificates:my_enrolment")


@never_cache
@login_required
@require_POST
def link_existing(request: HttpRequest) -> HttpResponse:
    enrolment = _owner_enrolment(request)
    try:
        services.enrolment_link_existing(enrolment=enrolment, actor=request.user)
    except services.EnrolmentError as exc:
        messages.error(request, str(exc))
    return redirect("certificates:my_enrolment")


@never_cache
@login_required
@require_POST
def reopen_webview(request: HttpRequest) -> HttpResponse:
    enrolment = _owner_enrolment(request)
    try:
        services.enrolment_webview_reopen(enrolment=enrolment, actor=request.user)
    except services.EnrolmentError as exc:
        messages.error(request, str(exc))
        return redirect("certificates:my_enrolment")
    return redirect("certificates:activation")


# ---------------------------------------------------------------------------------------------
# Partner staff


@never_cache
@staff_required
@require_GET
def enrolment_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status and status != "stuck" and status not in S.values:
        status = ""
    query = request.GET.get("q", "")[:75]
    page = Paginator(selectors.enrolment_list_for_staff(status=status, query=query), 50).get_page(
        request.GET.get("page")
    )
    now = timezone.now()
    rows = [
        {"enrolment": e, "stuck": selectors.enrolment_is_stuck(enrolment=e, now=now), "age": now - e.created_at}
        for e in page.object_list
    ]
    context = {"page": page, "rows": rows, "status": status, "query": query, "statuses": S.choices}
    return render(request, "certificates/staff/enrolment_list.html", context)


@never_cache
@staff_required
@require_http_methods(["GET", "POST"])
def enrolment_invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            enrolment = services.enrolment_invite(
                email=data["email"],
                full_name=data["full_name"],
                license_type=data["license_type"],
                org_unit=data["org_unit"],
                work_unit=data["work_unit"],
                position=data["position"],
                mode=data["mode"],
                invited_by=request.user,
            )
        except services.EnrolmentError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": enrolment.email})
            if request.POST.get("then") == "prefill":
                return redirect("certificates:enrolment_prefill", pk=enrolment.pk)
            return redirect("certificates:enrolment_detail", pk=enrolment.pk)
    return render(request, "certificates/staff/enrolment_invite.html", {"form": form})


@never_cache
@login_required  # not staff_required: a non-staff user gets 404, as for a missing id (R13)
@require_GET
def enrolment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    enrolment = selectors.enrolment_get_for_staff(user=request.user, pk=pk)
    context = {
        "enrolment": enrolment,
        "events": selectors.enrolment_events(enrolment=enrolment),
        "stuck": selectors.enrolment_is_stuck(enrolment=enrolment),
        "result_message": services.result_message(enrolment.last_result_code),
        "consents": enrolment.consents.all(),
        "S": S,
    }
    return render(request, "certificates/staff/enrolment_detail.html", context)


@never_cache
@login_required  # not staff_required: a non-staff user gets 404, as for a missing id (R13)
@require_POST
def enrolment_retry(request: HttpRequest, pk: int) -> HttpResponse:
    enrolment = selectors.enrolment_get_for_staff(user=request.user, pk=pk)
    try:
        services.enrolment_retry(enrolment=enrolment, actor=request.user)
    except services.EnrolmentError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Retry started for %(email)s.") % {"email": enrolment.email})
    nxt = request.POST.get("next", "")
    if nxt == "list":
        return redirect("certificates:enrolment_list")
    return redirect("certificates:enrolment_detail", pk=enrolment.pk)


@never_cache
@login_required  # not staff_required: a non-staff user gets 404, as for a missing id (R13)
@require_POST
def enrolment_resend(request: HttpRequest, pk: int) -> HttpResponse:
    enrolment = selectors.enrolment_get_for_staff(user=request.user, pk=pk)
    try:
        services.enrolment_invite(
            email=enrolment.email,
            full_name=enrolment.full_name or enrolment.user.full_name,
            license_type=enrolment.license_type,
            org_unit=enrolment.org_unit,
            work_unit=enrolment.work_unit,
            position=enrolment.position,
            mode=enrolment.mode,
            invited_by=request.user,
        )
    except services.EnrolmentError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Invitation sent to %(email)s.") % {"email": enrolment.email})
    return redirect("certificates:enrolment_detail", pk=enrolment.pk)


@never_cache
@login_required  # not staff_required: a non-staff user gets 404, as for a missing id (R13)
@require_http_methods(["GET", "POST"])
def enrolment_prefill(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff fill the registration data for the person (who still reviews it and consents)."""
    enrolment = selectors.enrolment_get_for_staff(user=request.user, pk=pk)
    if enrolment.status != S.INVITED:
        messages.error(request, _("The registration data can only be filled in before it is sent."))
        return redirect("certificates:enrolment_detail", pk=enrolment.pk)
    if request.method == "POST":
        form = PrefillForm(request.POST, request.FILES, enrolment=enrolment)
        if form.is_valid():
            try:
                services.enrolment_prefill(
                    enrolment=enrolment, actor=request.user, data=form.identity_data(), photos=form.photos
                )
            except services.EnrolmentError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Saved. The person reviews it and gives consent before it is sent."))
                return redirect("certificates:enrolment_detail", pk=enrolment.pk)
    else:
        # Pre-filling shows what is on file: that is a read of identity data.
        services.identity_read_record(
            enrolment=enrolment, actor=request.user, what=services.READ_PREFILL_FORM, via="staff_page"
        )
        initial = _registration_initial(enrolment)
        form = PrefillForm(initial=initial, enrolment=enrolment)
    return render(request, "certificates/staff/enrolment_prefill.html", {"enrolment": enrolment, "form": form})


IDENTITY_FILES = {"ktp_photo": "image/jpeg", "npwp_photo": "image/jpeg", "specimen": "image/png"}


@never_cache
@login_required  # not staff_required: a non-staff user gets 404, as for a missing id (R13)
@require_GET
def enrolment_identity(request: HttpRequest, pk: int) -> HttpResponse:
    """The person's identity data, decrypted, for staff. Every view is recorded (R17)."""
    enrolment = selectors.enrolment_get_for_staff(user=request.user, pk=pk)
    services.identity_read_record(
        enrolment=enrolment, actor=request.user, what=services.READ_IDENTITY_PAGE, via="staff_page"
    )
    files = [(f, Enrolment._meta.get_field(f).verbose_name) for f in IDENTITY_FILES if getattr(enrolment, f).name]
    return render(
        request,
        "certificates/staff/enrolment_identity.html",
        {"enrolment": enrolment, "files": files, "has_video": bool(enrolment.video.name)},
    )


@never_cache
@login_required  # not staff_required: a non-staff user gets 404, as for a missing id (R13)
@require_GET
def enrolment_identity_file(request: HttpRequest, pk: int, field: str) -> HttpResponse:
    enrolment = selectors.enrolment_get_for_staff(user=request.user, pk=pk)
    if field not in IDENTITY_FILES:
        raise Http404
    try:
        data = services.identity_file_read(enrolment=enrolment, field=field)
    except FileNotFoundError as exc:
        raise Http404 from exc
    services.identity_read_record(
        enrolment=enrolment, actor=request.user, what=services.READ_FILE, params={"file": field}, via="staff_page"
    )
    response = HttpResponse(data, content_type=IDENTITY_FILES[field])
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "no-store, private"
    return response
