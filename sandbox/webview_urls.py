"""URLs of the sandbox's web views (activation and signing iFrames), mounted under /webview/."""

from __future__ import annotations

urlpatterns: list = []
