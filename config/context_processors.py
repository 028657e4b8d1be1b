from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    return {"MAILBOX_PAGE_ENABLED": settings.MAILBOX_PAGE_ENABLED}
