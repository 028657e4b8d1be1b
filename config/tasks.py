"""Project-wide periodic tasks."""

from __future__ import annotations

import time

from celery import shared_task
from django.core.cache import cache

HEARTBEAT_KEY = "paraf:worker-heartbeat"


@shared_task(ignore_result=True)
def worker_heartbeat() -> None:
    """Record that a worker ran a task just now; /healthz shows how long ago that was."""
    cache.set(HEARTBEAT_KEY, time.time(), timeout=24 * 3600)
