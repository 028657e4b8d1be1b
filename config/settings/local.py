"""Developer laptop / `make run`: the sandbox, SQLite or PostgreSQL, readable mail."""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-insecure-key-only-for-development-0123456789")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

# Every e-mail lands in var/mail and is readable at /dev/mail/ by staff.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
MAILBOX_PAGE_ENABLED = True

# The bundled sandbox is the default Peruri.
PERURI_API_KEY = env.str("PERURI_API_KEY", default=SANDBOX_API_KEY)  # noqa: F405
PERURI_SYSTEM_ID = env.str("PERURI_SYSTEM_ID", default=SANDBOX_SYSTEM_ID)  # noqa: F405
PERURI_TRUST_ROOT_URL = env.str("PERURI_TRUST_ROOT_URL", default=f"{SANDBOX_PUBLIC_URL}/sandbox/ca.pem")  # noqa: F405

# Static files straight from the finders, picked up as they change.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
