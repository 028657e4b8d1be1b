"""Admin: every enrolment with its full history (each Peruri call, each state change, who did
it). Identity numbers are shown masked and files are not shown: reading them goes through the
staff identity page, which records the read."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from certificates import services
from certificates.models import Consent, Enrolment, EnrolmentEvent


class _EventDisplay:
    """History columns in the reader's language (EnrolmentEvent.text and the status labels)."""

    @admin.display(description=_("from status"))
    def from_status_display(self, obj: EnrolmentEvent) -> str:
        return obj.from_status_label

    @admin.display(description=_("to status"))
    def to_status_display(self, obj: EnrolmentEvent) -> str:
        return obj.to_status_label

    @admin.display(description=_("message"))
    def message_display(self, obj: EnrolmentEvent) -> str:
        return obj.text


class EnrolmentEventInline(_EventDisplay, admin.TabularInline):
    model = EnrolmentEvent
    extra = 0
    can_delete = False
    ordering = ("created_at", "pk")
    fields = ("created_at", "kind", "from_status_display", "to_status_display", "operation", "outcome",
              "result_code", "duration_ms", "actor", "message_display")  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ConsentInline(admin.TabularInline):
    model = Consent
    extra = 0
    can_delete = False
    fields = ("given_at", "user", "version", "language", "text_sha256")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Enrolment)
class EnrolmentAdmin(admin.ModelAdmin):
    list_display = ("email", "status", "license_type", "mode", "created_at", "last_result_code", "next_poll_at")
    list_filter = ("status", "license_type", "mode")
    search_fields = ("email",)
    date_hierarchy = "created_at"
    inlines = [ConsentInline, EnrolmentEventInline]
    actions = ["retry"]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "email",
                    "user",
                    "status",
                    "license_type",
                    "mode",
                    "org_unit",
                    "work_unit",
                    "position",
                    "invited_by",
                )
            },
        ),  # fmt: skip
        (_("Identity (masked)"), {"fields": ("full_name", "ktp_masked", "has_npwp", "files_on_file")}),
        (
            _("Progress"),
            {
                "fields": (
                    "invited_at",
                    "submitted_at",
                    "registered_at",
                    "activated_at",
                    "video_verified_at",
                    "video_pending",
                    "specimen_sent_at",
                    "issued_at",
                    "certificate_is_expired",
                )
            },
        ),  # fmt: skip
        (_("Peruri"), {"fields": ("last_result_code", "last_result_desc", "last_error")}),
        (
            _("Background work"),
            {
                "fields": (
                    "next_poll_at",
                    "poll_attempts",
                    "call_started_at",
                    "step_attempts",
                    "reconcile_step",
                    "resent_after_unknown",
                    "deadline_at",
                )
            },
        ),  # fmt: skip
        (_("Personal data"), {"fields": ("files_purged_at", "erased_at")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        names = [f for fieldset in self.fieldsets for f in fieldset[1]["fields"]]
        return names

    @admin.display(description=_("KTP number"))
    def ktp_masked(self, obj: Enrolment) -> str:
        return obj.ktp_masked

    @admin.display(description=_("NPWP given"), boolean=True)
    def has_npwp(self, obj: Enrolment) -> bool:
        return bool(obj.npwp_number)

    @admin.display(description=_("Identity files on file"))
    def files_on_file(self, obj: Enrolment) -> str:
        names = [f for f in ("ktp_photo", "npwp_photo", "video", "specimen") if getattr(obj, f).name]
        return ", ".join(str(Enrolment._meta.get_field(f).verbose_name) for f in names) or "–"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Erasure is the enrolment_erase command: it keeps the history and consent as evidence.
        return False

    @admin.action(description=_("Retry / check now"))
    def retry(self, request: HttpRequest, queryset: QuerySet[Enrolment]) -> None:
        done = 0
        for enrolment in queryset:
            try:
                services.enrolment_retry(enrolment=enrolment, actor=request.user)
                done += 1
            except services.EnrolmentError as exc:
                self.message_user(request, f"{enrolment.email}: {exc}", messages.WARNING)
        self.message_user(
            request, ngettext("%(n)d enrolment retried.", "%(n)d enrolments retried.", done) % {"n": done}
        )


@admin.register(EnrolmentEvent)
class EnrolmentEventAdmin(_EventDisplay, admin.ModelAdmin):
    list_display = ("created_at", "enrolment", "kind", "from_status_display", "to_status_display", "operation",
                    "outcome", "result_code", "actor", "message_display")  # fmt: skip
    list_filter = ("kind", "outcome", "operation")
    search_fields = ("enrolment__email",)
    list_select_related = ("enrolment", "actor")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
