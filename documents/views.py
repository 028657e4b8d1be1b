"""Staff pages for documents, and the owner-scoped PDF views used by staff and signers.

Each view starts by fetching the document scoped to the user (documents.selectors): staff see
every document, a signer only their own; anything else is a 404 and never reaches Peruri.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import staff_required
from documents import selectors, services
from documents.forms import DocumentFilterForm, DocumentUploadForm, PlacementForm, ReconcileLinkForm
from documents.models import Document
from documents.pdf import PdfInvalid

PAGE_SIZE = 25


def _get_document_for_staff(request: HttpRequest, public_id: Any) -> Document:
    return selectors.document_get_for_staff(user=request.user, public_id=public_id)


@staff_required
@never_cache
@require_GET
def document_list(request: HttpRequest) -> HttpResponse:
    form = DocumentFilterForm(request.GET or None)
    status = query = ""
    if form.is_valid():
        status = form.cleaned_data["status"]
        query = form.cleaned_data["q"]
    documents = selectors.document_list_for_staff(status=status, query=query)
    page = Paginator(documents, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "documents/document_list.html",
        {"form": form, "page_obj": page, "documents": page.object_list, "query_string": params.urlencode()},
    )


@staff_required
@never_cache
@require_http_methods(["GET", "POST"])
def document_upload(request: HttpRequest) -> HttpResponse:
    # Refuse an oversize body before reading it (the form checks the size again).
    if request.method == "POST" and int(request.META.get("CONTENT_LENGTH") or 0) > settings.DOCUMENT_MAX_BYTES + 65536:
        error = _("The file is too large. The limit is %(limit)s MB.") % {
            "limit": f"{settings.DOCUMENT_MAX_BYTES / 1024 / 1024:.0f}"
        }
        return render(
            request, "documents/document_upload.html", {"form": DocumentUploadForm(), "error": error}, status=413
        )
    form = DocumentUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            document = services.document_create(
                uploaded_file=form.cleaned_data["file"],
                title=form.cleaned_data["title"],
                signer_email=form.cleaned_data["signer_email"],
                signer_name=form.cleaned_data["signer_name"],
                actor=request.user,
            )
        except PdfInvalid as exc:
            form.add_error("file", exc.message)
        else:
            messages.success(request, _("The document was uploaded. Now place the signature."))
            return redirect("documents:document_place", document.public_id)
    return render(request, "documents/document_upload.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@never_cache
@require_GET
def document_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    document = _get_document_for_staff(request, public_id)
    return render(
        request,
        "documents/document_detail.html",
        {
            "document": document,
            "timeline": selectors.document_timeline(document=document),
            "reconcile_form": ReconcileLinkForm(),
            "S": Document.Status,
            "signer_has_certificate": services.signer_has_certificate(document.signer),
        },
    )


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def document_place(request: HttpRequest, public_id: str) -> HttpResponse:
    document = _get_document_for_staff(request, public_id)
    if document.status != Document.Status.DRAFT:
        messages.info(request, _("The signature can only be placed before the document is sent."))
        return redirect("documents:document_detail", document.public_id)
    form = PlacementForm.for_document(document, request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.document_place(
                document=document,
                actor=request.user,
                placed_by=data["placed_by"],
                page=data["page"],
                llx=data["lower_left_x"],
                lly=data["lower_left_y"],
                urx=data["upper_right_x"],
                ury=data["upper_right_y"],
                visible=data["visible"],
                certification_level=data["certification_level"],
                location=data["location"],
                reason=data["reason"],
            )
        except services.DocumentError as exc:
            form.add_error(None, exc.message)
        else:
            if "send" in request.POST:
                return _send(request, document)
            messages.success(request, _("The placement was saved."))
            return redirect("documents:document_detail", document.public_id)
    return render(
        request,
        "documents/document_place.html",
        {
            "document": document,
            "form": form,
            "signer_has_certificate": services.signer_has_certificate(document.signer),
            "placement_strings": placement_strings(),
        },
        status=400 if form.errors else 200,
    )


def placement_strings() -> dict[str, str]:
    """Every text of static/js/placement.js, translated (its built-in defaults are English). Used
    by the staff's placement page and by the signer's page when the signer places the box."""
    return {
        "loading": _("Loading the document…"),
        "error": _("The document could not be shown."),
        "previous": _("Previous page"),
        "next": _("Next page"),
        "page_of": _("Page {page} of {pages}"),
        "box": _("Signature"),
        "box_label": _("Signature box: arrow keys move it, Shift + arrow keys resize it"),
        "resize": _("Resize"),
        "hint": _("Drag the box to where the signature goes, or tap the page. Drag its corner to resize it."),
    }


def _send(request: HttpRequest, document: Document) -> HttpResponse:
    try:
        services.document_send_request(document=document, actor=request.user)
    except services.DocumentError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The document is being sent to Peruri. The signer will get an e-mail."))
    return redirect("documents:document_detail", document.public_id)


@login_required
@require_POST
def document_send(request: HttpRequest, public_id: str) -> HttpResponse:
    document = _get_document_for_staff(request, public_id)
    return _send(request, document)


@login_required
@require_POST
def document_retry(request: HttpRequest, public_id: str) -> HttpResponse:
    document = _get_document_for_staff(request, public_id)
    try:
        services.document_retry(document=document, actor=request.user)
    except services.DocumentError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Retrying. The timeline shows what happens."))
    return redirect("documents:document_detail", document.public_id)


@login_required
@require_POST
def document_cancel(request: HttpRequest, public_id: str) -> HttpResponse:
    document = _get_document_for_staff(request, public_id)
    try:
        services.document_cancel(document=document, actor=request.user)
    except services.DocumentError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The document was cancelled."))
    return redirect("documents:document_detail", document.public_id)


@login_required
@require_POST
def document_resend_link(request: HttpRequest, public_id: str) -> HttpResponse:
    document = _get_document_for_staff(request, public_id)
    try:
        sent = services.document_notify_signer(document_id=document.pk, force=True, actor=request.user)
    except Exception:  # noqa: BLE001 - shown to staff; the error is logged by the service
        sent = False
    if sent:
        messages.success(request, _("The signer was e-mailed a new link."))
    else:
        messages.error(request, _("The link could not be sent now."))
    return redirect("documents:document_detail", document.public_id)


@login_required
@require_POST
def document_reconcile(request: HttpRequest, public_id: str) -> HttpResponse:
    """Settle a Send Document with an unknown outcome: link the order Peruri created, or (after
    checking with Peruri that there is none) send again."""
    document = _get_document_for_staff(request, public_id)
    try:
        if request.POST.get("action") == "send_again":
            if request.POST.get("confirm") != "yes":
                raise services.DocumentError(_("Confirm that Peruri holds no order for this document first."))
            services.document_reconcile_send_again(document=document, actor=request.user)
            messages.success(request, _("The document is being sent again."))
        else:
            form = ReconcileLinkForm(request.POST)
            if not form.is_valid():
                raise services.DocumentError(_("Enter the Peruri order id (digits only)."))
            services.document_reconcile_link_order(
                document=document, actor=request.user, order_id=form.cleaned_data["order_id"]
            )
            messages.success(request, _("The document is linked to its Peruri order."))
    except services.DocumentError as exc:
        messages.error(request, exc.message)
    return redirect("documents:document_detail", document.public_id)


def _pdf_response(file: Any, filename: str, *, attachment: bool) -> FileResponse:
    response = FileResponse(file.open("rb"), content_type="application/pdf", as_attachment=attachment, filename=filename)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@never_cache
@require_GET
def document_file(request: HttpRequest, public_id: str) -> FileResponse:
    """The uploaded PDF (for pdf.js on our own pages): staff, or the document's signer."""
    document = selectors.document_get_for_user(user=request.user, public_id=public_id)
    return _pdf_response(document.original, document.file_name, attachment=False)


@login_required
@never_cache
@require_GET
def document_download(request: HttpRequest, public_id: str) -> FileResponse:
    """The signed, verified PDF: staff, or the document's signer. Only once it is verified."""
    document = selectors.document_get_for_user(user=request.user, public_id=public_id)
    if document.status != Document.Status.SIGNED or not document.signed_file:
        raise Http404
    name = document.file_name[:-4] + "-signed.pdf"
    return _pdf_response(document.signed_file, name, attachment=True)
