"""Registration data is checked as the spec's table says before anything is stored or sent (R14)."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from certificates import identity
from certificates.forms import InviteForm, RegistrationForm, SpecimenForm, VideoForm
from tests.fixtures_certificates import sample_photo, sample_specimen, sample_webm


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("3171011508900001", "3171011508900001"), ("3171 0115 0890 0001", "3171011508900001"),
     ("3171.0155.0890.0001", "3171015508900001")],  # day + 40 for women
)  # fmt: skip
def test_a_ktp_number_is_16_digits(raw, expected):
    assert identity.normalize_ktp(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["317101150890001", "31710115089000011", "31710115089000AB", "0171011508900001", "3171013208900001",
     "3171011513900001", "3171011508900000", ""],
)  # fmt: skip
def test_invalid_ktp_numbers_are_refused(raw):
    with pytest.raises(ValidationError):
        identity.normalize_ktp(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12.345.678.9-012.345", "123456789012345"), ("123456789012345", "123456789012345"),
     ("0123456789012345", "123456789012345")],
)  # fmt: skip
def test_an_npwp_is_15_digits_or_16_starting_with_zero(raw, expected):
    assert identity.normalize_npwp(raw) == expected


@pytest.mark.parametrize("raw", ["12345678901234", "3171011508900001", "1234567890123456789", "12.345.678.9-012.34x"])
def test_invalid_npwp_numbers_are_refused(raw):
    with pytest.raises(ValidationError):
        identity.normalize_npwp(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0812 3456 7890", "081234567890"), ("+62 812-3456-7890", "081234567890"), ("6281234567890", "081234567890"),
     ("(0812) 345 678", "0812345678"), ("81234567890", "081234567890")],
)  # fmt: skip
def test_indonesian_mobile_numbers_are_normalised(raw, expected):
    assert identity.normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["021 555 1234", "+1 415 555 0100", "0812", "08123456789012345", "abc"])
def test_other_phone_numbers_are_refused(raw):
    with pytest.raises(ValidationError):
        identity.normalize_phone(raw)


def test_the_date_of_birth_is_a_real_past_date_of_an_adult():
    assert identity.validate_date_of_birth(date(1990, 8, 15)) == date(1990, 8, 15)
    for bad in (
        date.today(),
        date.today() + timedelta(days=1),
        date(1850, 1, 1),
        date.today() - timedelta(days=365 * 10),
    ):
        with pytest.raises(ValidationError):
            identity.validate_date_of_birth(bad)


def test_photos_are_re_encoded_without_their_metadata():
    original = sample_photo(exif=True)
    assert b"SecretCameraMaker" in original
    clean = identity.clean_photo(original)
    assert b"SecretCameraMaker" not in clean and b"106.827153" not in clean
    with Image.open(io.BytesIO(clean)) as image:
        assert image.format == "JPEG"
        assert not image.getexif()


def test_large_photos_are_scaled_down(settings):
    settings.CERTIFICATES_PHOTO_MAX_SIDE = 500
    with Image.open(io.BytesIO(identity.clean_photo(sample_photo(size=(1600, 1000))))) as image:
        assert max(image.size) == 500


def test_a_specimen_keeps_its_transparency():
    with Image.open(io.BytesIO(identity.clean_photo(sample_specimen(), keep_alpha=True))) as image:
        assert image.format == "PNG" and image.mode == "RGBA"


@pytest.mark.parametrize("data", [b"not an image at all", b"%PDF-1.7\n...", b"\x89PNG\r\n\x1a\n broken"])
def test_non_images_are_refused(data):
    with pytest.raises(ValidationError):
        identity.clean_photo(data)


def test_oversize_photos_are_refused(settings):
    settings.CERTIFICATES_PHOTO_MAX_BYTES = 1000
    with pytest.raises(ValidationError):
        identity.clean_photo(sample_photo())


def test_a_gif_is_refused():
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="GIF")
    with pytest.raises(ValidationError):
        identity.clean_photo(out.getvalue())


def test_videos_must_be_webm_or_mp4_within_limits(settings):
    assert identity.clean_video(sample_webm()) == sample_webm()
    mp4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2000
    assert identity.clean_video(mp4) == mp4
    for bad in (b"RIFF....AVI " + b"\x00" * 2000, b"\x1a\x45\xdf\xa3"):
        with pytest.raises(ValidationError):
            identity.clean_video(bad)
    settings.CERTIFICATES_VIDEO_MAX_BYTES = 2000
    with pytest.raises(ValidationError):
        identity.clean_video(sample_webm())


def _registration_post(**overrides):
    data = {
        "full_name": " Siti   Rahmawati ", "phone": "0812-3456-7890", "ktp_number": "3171 0155 0890 0001",
        "npwp_number": "", "address": "Jl. Merdeka 1", "city": "Jakarta Pusat", "province": "DKI Jakarta",
        "gender": "F", "place_of_birth": "Bandung", "date_of_birth": "1990-08-15", "consent": "on",
    }  # fmt: skip
    data.update(overrides)
    return data


def _files(**extra):
    files = {"ktp_photo": SimpleUploadedFile("ktp.jpg", sample_photo(exif=True), content_type="image/jpeg")}
    files.update(extra)
    return files


def test_the_registration_form_normalises_everything():
    form = RegistrationForm(_registration_post(), _files())
    assert form.is_valid(), form.errors
    data = form.identity_data()
    assert data["full_name"] == "Siti Rahmawati"
    assert data["phone"] == "081234567890"
    assert data["ktp_number"] == "3171015508900001"
    assert data["date_of_birth"] == date(1990, 8, 15)
    assert b"SecretCameraMaker" not in form.photos["ktp_photo"]


def test_the_registration_form_requires_consent_and_a_ktp_photo():
    form = RegistrationForm(_registration_post(consent=""), {})
    assert not form.is_valid()
    assert "consent" in form.errors and "ktp_photo" in form.errors


def test_errors_are_reported_next_to_their_fields():
    form = RegistrationForm(
        _registration_post(ktp_number="123", phone="021555", date_of_birth="2999-01-01", gender="X"),
        _files(npwp_photo=SimpleUploadedFile("n.jpg", b"not an image", content_type="image/jpeg")),
    )
    assert not form.is_valid()
    assert {"ktp_number", "phone", "date_of_birth", "gender", "npwp_photo"} <= set(form.errors)


def test_an_npwp_needs_its_photo_and_a_photo_needs_its_npwp():
    form = RegistrationForm(_registration_post(npwp_number="12.345.678.9-012.345"), _files())
    assert not form.is_valid() and "npwp_photo" in form.errors
    form = RegistrationForm(
        _registration_post(), _files(npwp_photo=SimpleUploadedFile("n.jpg", sample_photo(), content_type="image/jpeg"))
    )
    assert not form.is_valid() and "npwp_number" in form.errors


def test_errors_are_translated(settings):
    from django.utils import translation

    with translation.override("en"):
        form = RegistrationForm(_registration_post(ktp_number="123"), _files())
        assert not form.is_valid()
        assert "16 digits" in form.errors["ktp_number"][0]


def test_a_user_license_needs_the_units():
    form = InviteForm({"email": "A@Example.com", "full_name": "A", "license_type": "user", "mode": "native"})
    assert not form.is_valid() and {"org_unit", "work_unit", "position"} <= set(form.errors)
    form = InviteForm(
        {"email": "A@Example.com", "full_name": "A", "license_type": "client", "mode": "native", "org_unit": "X"}
    )
    assert form.is_valid() and form.cleaned_data["org_unit"] == "" and form.cleaned_data["email"] == "a@example.com"


def test_the_specimen_form_takes_a_drawn_signature_or_an_upload():
    import base64

    drawn = "data:image/png;base64," + base64.b64encode(sample_specimen()).decode()
    form = SpecimenForm({"specimen_data": drawn}, {})
    assert form.is_valid(), form.errors and form.cleaned_data["image"].startswith(b"\x89PNG")
    form = SpecimenForm({}, {"specimen": SimpleUploadedFile("s.png", sample_specimen(), content_type="image/png")})
    assert form.is_valid(), form.errors
    assert not SpecimenForm({}, {}).is_valid()
    assert not SpecimenForm({"specimen_data": "data:text/html;base64,PHNjcmlwdD4="}, {}).is_valid()
    assert not SpecimenForm({"specimen_data": "data:image/png;base64,!!!"}, {}).is_valid()


def test_the_video_form_checks_the_container():
    assert VideoForm({}, {"video": SimpleUploadedFile("v.webm", sample_webm(), content_type="video/webm")}).is_valid()
    assert not VideoForm({}, {"video": SimpleUploadedFile("v.webm", b"x" * 5000, content_type="video/webm")}).is_valid()
