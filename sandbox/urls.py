"""The sandbox's own URLconf (served by `runsandbox` on its own origin)."""

from __future__ import annotations

from django.urls import include, path

urlpatterns: list = [
    path("webview/", include("sandbox.webview_urls")),
]
