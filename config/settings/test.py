"""Test settings: fast hashing, in-memory mail, eager Celery (the integration tier uses a real worker)."""

from __future__ import annotations

import os

from .base import *  # noqa: F403
from .base import DATABASES, VAR_DIR, env

DEBUG = False
SECRET_KEY = "test-only-secret-key-not-for-production-0123456789abcdef"  # noqa: S105
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MAILBOX_PAGE_ENABLED = True

# One test database per test run (pid), so that runs in parallel on one machine don't collide.
_RUN = os.getpid()
VAR_DIR.mkdir(exist_ok=True)  # a fresh clone has no var/ (it is git-ignored)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so the live-server and sandbox threads see the same test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{_RUN}.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_paraf_{_RUN}"}
if CACHES["default"]["BACKEND"].endswith("RedisCache"):  # noqa: F405
    CACHES["default"]["KEY_PREFIX"] = f"paraf-test-{_RUN}"  # noqa: F405

CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = True

PERURI_API_KEY = SANDBOX_API_KEY  # noqa: F405
PERURI_SYSTEM_ID = SANDBOX_SYSTEM_ID  # noqa: F405
SANDBOX_CERT_DELAY = 0
SANDBOX_DATA_DIR = VAR_DIR / "test-sandbox"
MEDIA_ROOT = VAR_DIR / "test-private"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405

# Static files straight from the finders: no collectstatic before tests.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
