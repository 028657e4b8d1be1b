"""The sandbox's own URLconf (served by `runsandbox` on its own origin)."""

from __future__ import annotations

from django.urls import include, path, re_path

from sandbox import gateway, views

urlpatterns: list = [
    re_path(r"^gateway/(?P<path>.*)$", gateway.gateway, name="sandbox_gateway"),
    path("sandbox/ca.pem", views.ca_pem, name="sandbox_ca_pem"),
    path("sandbox/outbox", views.outbox, name="sandbox_outbox"),
    path("sandbox/outbox.json", views.outbox_json, name="sandbox_outbox_json"),
    path("sandbox/faults", views.faults_view, name="sandbox_faults"),
    path("webview/", include("sandbox.webview_urls")),
]
