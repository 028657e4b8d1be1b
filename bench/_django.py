"""Shared set-up for the documents benches: Django with the test settings on a throw-away test
database (SQLite file, or PostgreSQL when DATABASE_URL is set), optionally the sandbox over HTTP.

Not a bench itself (its name starts with an underscore).
"""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@contextmanager
def django_test_db(name: str) -> Iterator[Any]:
    """Set Django up and create a fresh test database for this bench; drop it afterwards."""
    import django
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        db["TEST"] = {"NAME": str(ROOT / "var" / f"bench-{name}.sqlite3")}
    else:
        db["TEST"] = {"NAME": f"bench_{name}"}
    django.setup()
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases

    setup_test_environment()
    old = setup_databases(verbosity=0, interactive=False, keepdb=False)
    try:
        yield settings
    finally:
        from django.db import connections

        connections.close_all()
        teardown_databases(old, verbosity=0)


@contextmanager
def sandbox_server(tmp: Path) -> Iterator[str]:
    """The sandbox on its own port, with Paraf's Peruri settings pointing at it."""
    from django.conf import settings

    from sandbox.wsgi import SandboxWSGIHandler
    from tests.servers import ServerThread

    settings.MEDIA_ROOT = tmp / "private"
    server = ServerThread(SandboxWSGIHandler()).start_and_wait()
    url = server.url
    settings.PERURI_BASE_URL = f"{url}/gateway/"
    settings.PERURI_WEBVIEW_URL = f"{url}/webview"
    settings.PERURI_TRUST_ROOT_URL = f"{url}/sandbox/ca.pem"
    settings.SANDBOX_PUBLIC_URL = url
    try:
        yield url
    finally:
        server.stop()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def describe(values: list[float]) -> str:
    return (
        f"p50 {percentile(values, 50):.1f} ms · p95 {percentile(values, 95):.1f} ms · "
        f"mean {statistics.fmean(values):.1f} ms · max {max(values):.1f} ms (n={len(values)})"
    )
