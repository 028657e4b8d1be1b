"""Health check and the local-mode mailbox."""

from __future__ import annotations

import email
import email.policy
import time
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.decorators import staff_required
from config.celery import app as celery_app
from config.tasks import HEARTBEAT_KEY

WORKER_STALE_AFTER = 60  # seconds: four missed heartbeats (beat sends one every 15 s)


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; the class name is reported
        return type(exc).__name__
    return None


def _check_broker() -> str | None:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__
    return None


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker answer; 503 naming what is down.

    The worker is reported (last heartbeat age) but does not fail the check: a web node is
    healthy even while workers restart.
    """
    checks: dict[str, dict[str, object]] = {}
    db_error = _check_database()
    checks["database"] = {"ok": db_error is None} | ({"error": db_error} if db_error else {})
    broker_error = _check_broker()
    checks["broker"] = {"ok": broker_error is None} | ({"error": broker_error} if broker_error else {})
    last_beat = None
    if db_error is None:
        try:
            last_beat = cache.get(HEARTBEAT_KEY)
        except Exception:  # noqa: BLE001 - cache down is reported as an unknown worker state
            last_beat = None
    age = None if last_beat is None else round(time.time() - float(last_beat), 1)
    checks["worker"] = {"ok": age is not None and age < WORKER_STALE_AFTER, "last_seen_seconds_ago": age}
    down = [name for name in ("database", "broker") if not checks[name]["ok"]]
    body = {"status": "ok" if not down else "down", "down": down, "checks": checks}
    return JsonResponse(body, status=503 if down else 200)


def _mail_dir() -> Path:
    return Path(settings.EMAIL_FILE_PATH)


def _read_messages() -> list[dict[str, object]]:
    messages: list[dict[str, object]] = []
    folder = _mail_dir()
    if not folder.exists():
        return messages
    for path in sorted(folder.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True)[:200]:
        # The file backend appends messages separated by a line of 79 dashes.
        for chunk in path.read_text(encoding="utf-8", errors="replace").split("-" * 79):
            chunk = chunk.strip()
            if not chunk:
                continue
            msg = email.message_from_string(chunk, policy=email.policy.default)
            body = msg.get_body(preferencelist=("plain",))
            messages.append(
                {
                    "id": f"{path.stem}",
                    "to": msg.get("To", ""),
                    "subject": msg.get("Subject", ""),
                    "date": msg.get("Date", ""),
                    "body": body.get_content() if body is not None else "",
                }
            )
    return messages


@staff_required
@never_cache
def mailbox(request: HttpRequest) -> HttpResponse:
    """Local mode: every e-mail Paraf sent, readable in the browser, newest first."""
    if not settings.MAILBOX_PAGE_ENABLED:
        raise Http404
    return render(request, "mailbox.html", {"mail_messages": _read_messages()})
