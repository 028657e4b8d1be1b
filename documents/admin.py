"""Admin: documents with their whole history (events and Peruri calls), read-only.

State changes go through the services (the staff pages' retry/cancel), never through admin edits.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from documents import services
from documents.models import Document, DocumentEvent


class DocumentEventInline(admin.TabularInline):
    model = DocumentEvent
    extra = 0
    can_delete = False
    ordering = ("at", "id")
    fields = ("at", "kind", "actor", "data")
    readonly_fields = fields
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ("title", "signer", "status", "peruri_order_id", "created_at", "next_poll_at", "last_error_code")
    list_filter = ("status", "placed_by", "certification_level")
    search_fields = ("title", "file_name", "signer__email", "peruri_order_id", "sha256")
    list_select_related = ("signer",)
    date_hierarchy = "created_at"
    inlines = [DocumentEventInline]
    actions = ["retry_selected", "cancel_selected"]
    readonly_fields = [f.name for f in Document._meta.fields] + ["peruri_calls"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("Peruri calls"))
    def peruri_calls(self, obj: Document) -> str:
        try:
            from signing.models import PeruriCall
        except ImportError:  # pragma: no cover - the gateway's model is part of signing
            return "—"
        calls = PeruriCall.objects.filter(object_type="documents.document", object_id=str(obj.pk)).order_by(
            "created_at", "id"
        )[:200]
        return format_html_join(
            "",
            "<div>{} · {} · {} · {} · {} ms</div>",
            (
                (c.created_at.strftime("%Y-%m-%d %H:%M:%S"), c.operation, c.outcome, c.result_code or "-", c.duration_ms)
                for c in calls
            ),
        ) or "—"

    @admin.action(description=_("Retry the selected documents"))
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        done = 0
        for document in queryset:
            try:
                services.document_retry(document=document, actor=request.user)
                done += 1
            except services.DocumentError as exc:
                messages.warning(request, f"{document}: {exc.message}")
        messages.info(
            request, ngettext("%(n)d document retried.", "%(n)d documents retried.", done) % {"n": done}
        )

    @admin.action(description=_("Cancel the selected documents"))
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        done = 0
        for document in queryset:
            try:
                services.document_cancel(document=document, actor=request.user)
                done += 1
            except services.DocumentError as exc:
                messages.warning(request, f"{document}: {exc.message}")
        messages.info(
            request, ngettext("%(n)d document cancelled.", "%(n)d documents cancelled.", done) % {"n": done}
        )
