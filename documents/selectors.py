"""Reads for documents. Every lookup a view makes is scoped to staff or to the document's signer:
an id from a URL never reaches someone else's document (R13) — the answer is 404, as for an id
that does not exist."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from documents.models import Document, DocumentEvent

# A search matching more signers than this looks at the first ones only (a very broad query).
SEARCH_MAX_SIGNERS = 1000


def _is_staff(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_partner_staff", False))


def _uuid(public_id: Any) -> uuid.UUID:
    try:
        return public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(str(public_id))
    except (ValueError, TypeError, AttributeError) as exc:
        raise Http404 from exc


def document_get_for_staff(*, user: Any, public_id: Any) -> Document:
    """A document for partner staff, or 404 for anyone else."""
    if not _is_staff(user):
        raise Http404
    document = (
        Document.objects.select_related("signer", "created_by").filter(public_id=_uuid(public_id)).first()
    )
    if document is None:
        raise Http404
    return document


# A signer sees a document once it has been sent to them (not while staff still prepare it).
_NOT_YET_SENT = (Document.Status.DRAFT, Document.Status.QUEUED, Document.Status.SENDING)


def document_get_for_signer(*, user: Any, public_id: Any) -> Document:
    """A document sent to ``user`` for signing, or 404."""
    if not getattr(user, "is_authenticated", False):
        raise Http404
    document = (
        Document.objects.select_related("signer")
        .filter(public_id=_uuid(public_id), signer_id=user.pk)
        .exclude(status__in=_NOT_YET_SENT)
        .first()
    )
    if document is None:
        raise Http404
    return document


def document_get_for_user(*, user: Any, public_id: Any) -> Document:
    """Staff see every document; anyone else only the documents they sign. Else 404."""
    if _is_staff(user):
        return document_get_for_staff(user=user, public_id=public_id)
    return document_get_for_signer(user=user, public_id=public_id)


def document_list_for_staff(*, status: str = "", query: str = "") -> QuerySet[Document]:
    """The staff list: newest first, optionally one status (or "stuck"), searched by title, file
    name or the signer's e-mail/name. One query for the rows (signer joined), one for the count."""
    qs = Document.objects.select_related("signer").only(
        "public_id",
        "title",
        "file_name",
        "status",
        "created_at",
        "sent_at",
        "finished_at",
        "peruri_order_id",
        "last_error_code",
        "page_count",
        "signer__email",
        "signer__full_name",
    )
    if status == "stuck":
        qs = qs.filter(status__in=[Document.Status.NEEDS_RECONCILIATION, Document.Status.FAILED, Document.Status.VERIFICATION_FAILED])
    elif status in Document.Status.values:
        qs = qs.filter(status=status)
    query = (query or "").strip()[:100]
    if query:
        from django.contrib.auth import get_user_model

        # Signers are matched in their own (much smaller) table first, and their ids inlined, so
        # that PostgreSQL combines index lookups (trigram indexes on title and file name, the
        # signer_id index, the order id) instead of scanning every document (a subquery here
        # would become a per-row "hashed SubPlan" filter). One extra query, only when searching.
        signer_ids = list(
            get_user_model()
            .objects.filter(Q(email__icontains=query) | Q(full_name__icontains=query))
            .values_list("pk", flat=True)[:SEARCH_MAX_SIGNERS]
        )
        qs = qs.filter(
            Q(title__icontains=query)
            | Q(file_name__icontains=query)
            | Q(signer_id__in=signer_ids)
            | Q(peruri_order_id=query)
        )
    return qs.order_by("-created_at", "-id")


def document_list_for_signer(*, user: Any) -> QuerySet[Document]:
    """What a signer sees on "my documents": documents sent to them (never drafts)."""
    return Document.objects.filter(signer_id=user.pk).exclude(status__in=_NOT_YET_SENT).order_by("-created_at", "-id")


def document_timeline(*, document: Document) -> list[dict[str, Any]]:
    """Every event of the document, oldest first, with the gateway's call rows when they exist."""
    events = list(DocumentEvent.objects.filter(document=document).select_related("actor").order_by("at", "id"))
    labels = dict(Document.Status.choices)
    return [
        {
            "at": e.at,
            "event": e,
            "kind": e.kind,
            "label": e.get_kind_display(),
            "actor": e.actor,
            "data": e.data,
            "status_label": labels.get(e.data.get("status", ""), e.data.get("status", "")),
        }
        for e in events
    ]
