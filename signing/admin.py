from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from signing.models import PeruriCall


@admin.register(PeruriCall)
class PeruriCallAdmin(admin.ModelAdmin):
    """Read-only: an audit trail is written by the gateway, never edited by hand."""

    list_display = (
        "created_at",
        "operation",
        "peruri_ref",
        "outcome",
        "result_code",
        "http_status",
        "duration_ms",
        "attempt",
        "object_type",
        "object_id",
    )
    list_filter = ("operation", "outcome", "created_at")
    search_fields = ("peruri_ref", "email", "result_code", "object_id")
    date_hierarchy = "created_at"
    list_per_page = 100
    # Counting millions of audit rows on every page load is slow and useless.
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in PeruriCall._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[PeruriCall], search_term: str
    ) -> tuple[QuerySet[PeruriCall], bool]:
        # Rows of e-mail-only calls carry the e-mail's hash as their reference (as the logs do):
        # let staff search by the plain address too.
        from signing.gateway import email_ref

        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if "@" in term and " " not in term:
            results = results | queryset.filter(peruri_ref=email_ref(term))
        return results, may_have_duplicates
