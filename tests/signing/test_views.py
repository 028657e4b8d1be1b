"""The signer's pages without Peruri: what they show and send back (no sandbox needed)."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse
from django.utils import translation
from django.views.debug import SafeExceptionReporterFilter

from documents import services
from documents.models import Document
from documents.views import placement_strings
from signing import services as signing
from tests.documents.helpers import make_pdf, upload
from tests.factories import SignerFactory, StaffFactory

pytestmark = pytest.mark.django_db

S = Document.Status


def _awaiting(*, placed_by: str = "staff") -> Document:
    signer = SignerFactory()
    document = services.document_create(
        uploaded_file=upload(make_pdf(2)), title="Kontrak", signer_email=signer.email, actor=StaffFactory()
    )
    if placed_by == "staff":
        services.document_place(document=document, actor=None, placed_by="staff", page=1, llx=400, lly=60, urx=540, ury=120)
    else:
        services.document_place(document=document, actor=None, placed_by="signer")
    Document.objects.filter(pk=document.pk).update(status=S.AWAITING_SIGNATURE, peruri_order_id="4242")
    document.refresh_from_db()
    return document


def test_a_signer_who_places_the_box_gets_every_widget_text_in_their_language(client, settings):
    """static/js/placement.js falls back to English for any text it is not given."""
    document = _awaiting(placed_by="signer")
    client.force_login(document.signer)
    page = client.get(reverse("signing:document", args=[document.public_id]), HTTP_ACCEPT_LANGUAGE="id")
    html = page.content.decode()
    match = re.search(r'<script id="placement-strings" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the placement widget gets no texts"
    assert 'data-strings="placement-strings"' in html
    strings = json.loads(match.group(1))
    with translation.override("id"):
        expected = placement_strings()
    assert strings == expected
    # Indonesian, not the widget's English defaults.
    for key, english in {"previous": "Previous page", "next": "Next page", "resize": "Resize"}.items():
        assert strings[key] != english, key


def test_a_malformed_web_view_callback_gets_a_message_a_person_can_read(client, settings):
    settings.LANGUAGE_CODE = "en"
    document = _awaiting()
    client.force_login(document.signer)
    response = client.post(
        reverse("signing:webview_confirm", args=[document.public_id]),
        {"kind": "signing", "func": "signDocument", "resultCode": "<b>", "resultDesc": "x"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    # static/js/webview-listener.js shows "status" to the signer with textContent.
    assert response.json() == {"status": "The message from the signing page was not understood.", "code": "invalid"}


def test_the_code_typed_by_the_signer_never_reaches_an_error_report(client, monkeypatch):
    document = _awaiting()

    def boom(**kwargs):
        raise signing.SigningError("failed", "x")

    monkeypatch.setattr(signing, "document_sign", boom)
    client.force_login(document.signer)
    response = client.post(reverse("signing:sign", args=[document.public_id]), {"otp": "654321"})
    assert response.status_code == 302
    shown = SafeExceptionReporterFilter().get_post_parameters(response.wsgi_request)
    assert shown["otp"] != "654321"
    assert "654321" not in str(shown)


def test_when_peruri_is_unavailable_the_signer_reads_an_english_source_message(monkeypatch, settings):
    from peruri import PeruriUnavailable

    settings.LANGUAGE_CODE = "en"
    document = _awaiting()

    class Down:
        def get_otp(self, *, order_id):
            raise PeruriUnavailable("circuit open", operation="get_otp")

    monkeypatch.setattr(signing, "_client", lambda: Down())
    with translation.override("en"), pytest.raises(signing.SigningError) as exc:
        signing.otp_request(document=document, user=document.signer)
    assert exc.value.kind == "unavailable"
    assert exc.value.message == "Peruri is not available right now. Please try again in a few minutes."
