"""Forms for certificates. Every field is checked as the spec's Registration table says before
anything is stored or sent (R14); photos are re-encoded without metadata."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from certificates import identity
from certificates.models import Enrolment


def _read_upload(upload: UploadedFile | None, *, limit: int, too_big: str) -> bytes | None:
    if not upload:
        return None
    if upload.size is not None and upload.size > limit:
        raise ValidationError(too_big % {"limit": limit // (1024 * 1024)})
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(too_big % {"limit": limit // (1024 * 1024)})
    return data


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=75)
    full_name = forms.CharField(label=_("Full name"), max_length=100)
    license_type = forms.ChoiceField(
        label=_("License"),
        choices=Enrolment.LicenseType.choices,
        initial=Enrolment.LicenseType.CLIENT,
        widget=forms.RadioSelect,
    )
    org_unit = forms.CharField(label=_("Organisation unit"), max_length=100, required=False)
    work_unit = forms.CharField(label=_("Work unit"), max_length=100, required=False)
    position = forms.CharField(label=_("Position"), max_length=100, required=False)
    mode = forms.ChoiceField(label=_("Activation"), choices=Enrolment.Mode.choices, widget=forms.RadioSelect)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["mode"].initial = settings.PERURI_ENROLMENT_MODE

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("license_type") == Enrolment.LicenseType.USER:
            for name in ("org_unit", "work_unit", "position"):
                if not (data.get(name) or "").strip():
                    self.add_error(name, _("Required for a Corporate User License (the partner's own staff)."))
        else:
            for name in ("org_unit", "work_unit", "position"):
                data[name] = ""
        return data


class RegistrationForm(forms.Form):
    """Every field of Peruri's Registration table. The person's e-mail comes from their account."""

    full_name = forms.CharField(label=_("Full name (as on the KTP)"), max_length=100)
    phone = forms.CharField(
        label=_("Mobile phone"),
        max_length=20,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    ktp_number = forms.CharField(
        label=_("KTP number (NIK)"),
        max_length=24,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    ktp_photo = forms.FileField(
        label=_("Photo of your KTP"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    npwp_number = forms.CharField(
        label=_("NPWP number (optional)"),
        max_length=24,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    npwp_photo = forms.FileField(
        label=_("Photo of your NPWP (if you give the number)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    address = forms.CharField(label=_("Address"), max_length=255)
    city = forms.CharField(label=_("City / regency"), max_length=100)
    province = forms.CharField(label=_("Province"), max_length=100)
    gender = forms.ChoiceField(label=_("Gender"), choices=Enrolment.Gender.choices, widget=forms.RadioSelect)
    place_of_birth = forms.CharField(label=_("Place of birth"), max_length=100)
    date_of_birth = forms.DateField(label=_("Date of birth"), widget=forms.DateInput(attrs={"type": "date"}))
    consent = forms.BooleanField(
        label=_("I have read the above and consent to Paraf and Peruri processing my identity and biometric data."),
        required=True,
    )

    def __init__(self, *args: Any, enrolment: Enrolment | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.enrolment = enrolment
        self.photos: dict[str, bytes | None] = {}
        if enrolment is not None and enrolment.ktp_photo.name:
            self.fields["ktp_photo"].help_text = _("A photo is on file; upload another one only to replace it.")

    def clean_full_name(self) -> str:
        return " ".join(self.cleaned_data["full_name"].split())

    def clean_phone(self) -> str:
        return identity.normalize_phone(self.cleaned_data["phone"])

    def clean_ktp_number(self) -> str:
        return identity.normalize_ktp(self.cleaned_data["ktp_number"])

    def clean_npwp_number(self) -> str:
        value = self.cleaned_data.get("npwp_number") or ""
        return identity.normalize_npwp(value) if value.strip() else ""

    def clean_date_of_birth(self) -> Any:
        return identity.validate_date_of_birth(self.cleaned_data["date_of_birth"])

    def _photo(self, name: str) -> bytes | None:
        data = _read_upload(
            self.cleaned_data.get(name),
            limit=settings.CERTIFICATES_PHOTO_MAX_BYTES,
            too_big=str(_("The image is larger than %(limit)s MB.")),
        )
        return identity.clean_photo(data) if data else None

    def clean_ktp_photo(self) -> Any:
        self.photos["ktp_photo"] = self._photo("ktp_photo")
        has_one = self.enrolment is not None and bool(self.enrolment.ktp_photo.name)
        if self.photos["ktp_photo"] is None and not has_one and self._photos_required:
            raise ValidationError(_("Upload a photo of your KTP."))
        return None

    def clean_npwp_photo(self) -> Any:
        self.photos["npwp_photo"] = self._photo("npwp_photo")
        return None

    _photos_required = True

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        npwp = data.get("npwp_number")
        has_npwp_photo = self.photos.get("npwp_photo") or (
            self.enrolment is not None and self.enrolment.npwp_photo.name
        )
        if npwp and not has_npwp_photo and self._photos_required:
            self.add_error("npwp_photo", _("Upload a photo of your NPWP, or leave the NPWP number empty."))
        if not npwp and self.photos.get("npwp_photo"):
            self.add_error("npwp_number", _("Enter the NPWP number that goes with the photo."))
        return data

    def identity_data(self) -> dict[str, Any]:
        keys = (
            "full_name", "phone", "ktp_number", "npwp_number", "address", "city", "province", "gender",
            "place_of_birth", "date_of_birth",
        )  # fmt: skip
        return {k: self.cleaned_data[k] for k in keys if k in self.cleaned_data}


class PrefillForm(RegistrationForm):
    """Staff fill the registration data for the person; all of it may be left for the person."""

    _photos_required = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["consent"]
        for field in self.fields.values():
            field.required = False

    def clean_phone(self) -> str:
        value = self.cleaned_data.get("phone") or ""
        return identity.normalize_phone(value) if value.strip() else ""

    def clean_ktp_number(self) -> str:
        value = self.cleaned_data.get("ktp_number") or ""
        return identity.normalize_ktp(value) if value.strip() else ""

    def clean_date_of_birth(self) -> Any:
        value = self.cleaned_data.get("date_of_birth")
        return identity.validate_date_of_birth(value) if value else None

    def clean_full_name(self) -> str:
        return " ".join((self.cleaned_data.get("full_name") or "").split())

    def identity_data(self) -> dict[str, Any]:
        # Only what staff filled in replaces what is on file.
        return {k: v for k, v in super().identity_data().items() if v not in ("", None)}


class VideoForm(forms.Form):
    video = forms.FileField(
        label=_("Face video"),
        widget=forms.ClearableFileInput(attrs={"accept": "video/webm,video/mp4", "capture": "user"}),
    )

    def clean_video(self) -> bytes:
        data = _read_upload(
            self.cleaned_data["video"],
            limit=settings.CERTIFICATES_VIDEO_MAX_BYTES,
            too_big=str(_("The video is larger than %(limit)s MB.")),
        )
        return identity.clean_video(data or b"")


class SpecimenForm(forms.Form):
    """The handwritten signature: drawn on the pad (a PNG data URL) or an uploaded image."""

    specimen = forms.FileField(
        label=_("Or upload a picture of your signature"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    specimen_data = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        raw: bytes | None = None
        drawn = (data.get("specimen_data") or "").strip()
        if drawn:
            prefix, _sep, payload = drawn.partition(",")
            if not prefix.startswith("data:image/") or ";base64" not in prefix:
                raise ValidationError(_("The drawn signature could not be read. Draw it again."))
            try:
                raw = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValidationError(_("The drawn signature could not be read. Draw it again.")) from exc
        else:
            try:
                raw = _read_upload(
                    data.get("specimen"),
                    limit=settings.CERTIFICATES_PHOTO_MAX_BYTES,
                    too_big=str(_("The image is larger than %(limit)s MB.")),
                )
            except ValidationError as exc:
                self.add_error("specimen", exc)
                return data
        if not raw:
            raise ValidationError(_("Draw your signature, or upload a picture of it."))
        try:
            data["image"] = identity.clean_photo(raw, keep_alpha=True)
        except ValidationError as exc:
            self.add_error("specimen", exc)
        return data
