"""URLs of the sandbox's web views (activation and signing iFrames), mounted under /webview/.

The `.php` names are Peruri's own (spec 3.7); `api/...` are the sandbox pages' own endpoints.
"""

from __future__ import annotations

from django.urls import path

from sandbox import webviews

urlpatterns = [
    path("index.php", webviews.activation, name="sandbox_webview_activation"),
    path("signing.php", webviews.signing_page, name="sandbox_webview_signing"),
    path("api/activation/video", webviews.activation_video, name="sandbox_webview_video"),
    path("api/activation/specimen", webviews.activation_specimen, name="sandbox_webview_specimen"),
    path("api/signing/document.pdf", webviews.signing_document, name="sandbox_webview_document"),
    path("api/signing/otp", webviews.signing_otp, name="sandbox_webview_otp"),
    path("api/signing/sign", webviews.signing_sign, name="sandbox_webview_sign"),
]
