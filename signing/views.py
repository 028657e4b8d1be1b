"""The signer's pages: "my documents", one document (read, request a code, sign — natively or in
Peruri's embedded web view), and the web view's confirm endpoint.

Every view fetches the document scoped to the signed-in signer (documents.selectors): another
person's document is a 404 and causes no Peruri call (R13).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from config.middleware import origin_of
from documents.models import Document
from documents.selectors import document_get_for_signer, document_list_for_signer
from documents.views import placement_strings
from signing import services
from signing.forms import OtpForm

S = Document.Status


def _get_document_for_signer(request: HttpRequest, public_id: Any) -> Document:
    return document_get_for_signer(user=request.user, public_id=public_id)


def _mode() -> str:
    return "embedded" if settings.PERURI_SIGNING_MODE == "embedded" else "native"


@login_required
@never_cache
@require_GET
def my_documents(request: HttpRequest) -> HttpResponse:
    page = Paginator(document_list_for_signer(user=request.user), 25).get_page(request.GET.get("page"))
    return render(request, "signing/my_documents.html", {"page_obj": page, "documents": page.object_list})


@login_required
@never_cache
@require_GET
def document(request: HttpRequest, public_id: str) -> HttpResponse:
    doc = _get_document_for_signer(request, public_id)
    checking = services.signer_documents_pending_check(document=doc)
    context: dict[str, Any] = {
        "document": doc,
        "S": S,
        "mode": _mode(),
        "checking": checking,
        "otp_form": OtpForm(),
        "cooldown": services.otp_cooldown_left(document=doc),
        "otp_pending": services.otp_pending(document=doc, user=request.user),
        "signer_places": doc.placed_by == Document.PlacedBy.SIGNER,
    }
    if context["signer_places"]:
        context["placement_strings"] = placement_strings()
    if context["mode"] == "embedded" and doc.status == S.AWAITING_SIGNATURE and doc.peruri_order_id:
        base = settings.PERURI_WEBVIEW_URL.rstrip("/")
        context["webview_url"] = f"{base}/signing.php?{urlencode({'orderId': doc.peruri_order_id})}"
        context["webview_origin"] = origin_of(settings.PERURI_WEBVIEW_URL)
        context["webview_func"] = settings.PERURI_WEBVIEW_CALLBACKS["signing"]
    return render(request, "signing/document.html", context)


@login_required
@require_POST
def otp_request(request: HttpRequest, public_id: str) -> HttpResponse:
    doc = _get_document_for_signer(request, public_id)
    try:
        sent = services.otp_request(document=doc, user=request.user)
    except services.SigningError as exc:
        messages.error(request, exc.message)
    else:
        if sent.phone_hint:
            messages.success(
                request,
                _("Peruri sent you a 6-digit code by e-mail and text message (%(phone)s). It is valid for 5 minutes.")
                % {"phone": sent.phone_hint},
            )
        else:
            messages.success(request, _("Peruri sent you a 6-digit code by e-mail. It is valid for 5 minutes."))
    return redirect("signing:document", doc.public_id)


@login_required
@sensitive_post_parameters("otp")  # the code never appears in an error report (R15, R18)
@require_POST
def sign(request: HttpRequest, public_id: str) -> HttpResponse:
    doc = _get_document_for_signer(request, public_id)
    form = OtpForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter the 6-digit code."))
        return redirect("signing:document", doc.public_id)
    try:
        services.document_sign(document=doc, user=request.user, otp_code=form.cleaned_data["otp"], box=form.box())
    except services.SigningError as exc:
        if exc.kind == "checking":
            messages.warning(request, exc.message)
        else:
            messages.error(request, exc.message)
        return redirect("signing:document", doc.public_id)
    messages.success(request, _("Signed at Peruri. We are fetching and verifying your signed copy."))
    return redirect("signing:document", doc.public_id)


@login_required
@never_cache
@require_POST
def webview_confirm(request: HttpRequest, public_id: str) -> JsonResponse:
    """The signing web view reported back (a same-origin POST with CSRF from
    static/js/webview-listener.js). Only a hint: we ask Peruri (R11)."""
    doc = _get_document_for_signer(request, public_id)
    try:
        payload = json.loads(request.body or b"{}") if request.content_type == "application/json" else request.POST.dict()
    except ValueError:
        payload = None
    message = payload.get("message", payload) if isinstance(payload, dict) else None
    try:
        services.webview_callback(document=doc, user=request.user, message=message)  # type: ignore[arg-type]
    except services.SigningError as exc:
        # static/js/webview-listener.js shows "status" to the signer (textContent): the
        # translated message, never the machine-readable kind (that goes in "code").
        status = 429 if exc.kind == "rate_limited" else 400
        return JsonResponse({"status": exc.message, "code": exc.kind}, status=status)
    return JsonResponse({"redirect": reverse("signing:document", args=[doc.public_id])})
