"""The sandbox's own URLconf (served by `runsandbox` on its own origin)."""

from __future__ import annotations

from django.urls import path  # noqa: F401

urlpatterns: list = []
