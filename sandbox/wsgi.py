"""The sandbox as its own WSGI application: same settings, its own URLconf, its own origin."""

from __future__ import annotations

import os

from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponseBase

SANDBOX_URLCONF = "sandbox.urls"


class SandboxWSGIHandler(WSGIHandler):
    """Routes every request through `sandbox.urls` instead of ROOT_URLCONF."""

    def get_response(self, request: HttpRequest) -> HttpResponseBase:
        request.urlconf = SANDBOX_URLCONF  # type: ignore[attr-defined]
        return super().get_response(request)


def get_sandbox_application() -> SandboxWSGIHandler:
    import django

    django.setup(set_prefix=False)
    return SandboxWSGIHandler()


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
application = get_sandbox_application()
