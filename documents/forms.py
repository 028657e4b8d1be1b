from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from documents.models import Document


class DocumentUploadForm(forms.Form):
    file = forms.FileField(
        label=_("PDF file"),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )
    title = forms.CharField(label=_("Title"), max_length=200, required=False, help_text=_("Defaults to the file name."))
    signer_email = forms.EmailField(label=_("Signer's e-mail address"), max_length=75)
    signer_name = forms.CharField(label=_("Signer's name"), max_length=100, required=False)

    def clean_file(self) -> Any:
        uploaded = self.cleaned_data["file"]
        # A cheap first check; documents.pdf.pdf_inspect checks the content for real.
        if uploaded.size > settings.DOCUMENT_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is too large. The limit is %(limit)s MB.")
                % {"limit": f"{settings.DOCUMENT_MAX_BYTES / 1024 / 1024:.0f}"}
            )
        return uploaded


class PlacementForm(forms.Form):
    placed_by = forms.ChoiceField(
        label=_("Who places the signature?"),
        choices=Document.PlacedBy.choices,
        widget=forms.RadioSelect,
        initial=Document.PlacedBy.STAFF,
    )
    # Filled by static/js/placement.js: whole PDF points in the page's user space.
    page = forms.IntegerField(min_value=1, max_value=999, required=False, widget=forms.HiddenInput)
    lower_left_x = forms.IntegerField(min_value=0, max_value=999, required=False, widget=forms.HiddenInput)
    lower_left_y = forms.IntegerField(min_value=0, max_value=999, required=False, widget=forms.HiddenInput)
    upper_right_x = forms.IntegerField(min_value=0, max_value=999, required=False, widget=forms.HiddenInput)
    upper_right_y = forms.IntegerField(min_value=0, max_value=999, required=False, widget=forms.HiddenInput)
    visible = forms.BooleanField(label=_("Visible signature (stamp on the page)"), required=False, initial=True)
    certification_level = forms.ChoiceField(
        label=_("Signature type"),
        choices=Document.CertificationLevel.choices,
        initial=Document.CertificationLevel.NOT_CERTIFIED,
    )
    location = forms.CharField(label=_("Location"), max_length=100, required=False)
    reason = forms.CharField(label=_("Reason"), max_length=100, required=False)

    @classmethod
    def for_document(cls, document: Document, data: Any = None) -> PlacementForm:
        initial = {
            "placed_by": document.placed_by,
            "page": document.sig_page,
            "lower_left_x": document.sig_llx,
            "lower_left_y": document.sig_lly,
            "upper_right_x": document.sig_urx,
            "upper_right_y": document.sig_ury,
            "visible": document.sig_visible,
            "certification_level": document.certification_level,
            "location": document.sig_location,
            "reason": document.sig_reason,
        }
        return cls(data=data, initial=initial)


class DocumentFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All")), ("stuck", _("Needs attention")), *Document.Status.choices],
    )
    q = forms.CharField(label=_("Search"), required=False, max_length=100)


class ReconcileLinkForm(forms.Form):
    order_id = forms.RegexField(
        label=_("Peruri order id"),
        regex=r"^\d{1,64}$",
        error_messages={"invalid": _("Enter the Peruri order id (digits only).")},
    )
