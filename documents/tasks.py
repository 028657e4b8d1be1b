"""Celery tasks for documents. Thin: ids in, one service call. Periodic ones are declared in
CELERY_BEAT_SCHEDULE (config/settings/base.py)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from documents import services


@shared_task(ignore_result=True)
def document_poll_due() -> int:
    """Every 5 s: dispatch document_poll for rows whose next_poll_at is due (partial index
    document_poll_due_idx)."""
    return services.document_poll_due()


@shared_task(ignore_result=True)
def document_housekeeping() -> dict[str, Any]:
    """Every 5 min: rows stuck in flight past their deadline → needs reconciliation; safe twice."""
    return services.document_housekeeping()


@shared_task(ignore_result=True)
def document_poll(document_id: int) -> None:
    """Do one row's due work: Send Document (QUEUED) or status → download → verify."""
    services.document_poll(document_id=document_id)


@shared_task(ignore_result=True, autoretry_for=(OSError,), retry_backoff=30, retry_backoff_max=600, max_retries=5)
def document_notify_signer(document_id: int) -> None:
    """E-mail the signer their link (once). SMTP hiccups are retried a few times."""
    services.document_notify_signer(document_id=document_id)
