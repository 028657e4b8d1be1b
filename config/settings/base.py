"""Settings shared by every environment.

Every value that differs between deployments comes from the environment through one
django-environ object; `.env.example` documents each variable.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"  # everything the running app writes (SQLite, broker, private files)

env = environ.Env()
# A developer's .env is read when present; real deployments set the environment instead.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# ---------------------------------------------------------------------------- core
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "accounts",
    "certificates",
    "documents",
    "signing",
    "sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.site",
            ],
        },
    },
]

# ---------------------------------------------------------------------------- data
# No DATABASE_URL: a SQLite file, so `make run` needs no server.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # transactions are explicit in services
DATABASES["default"].setdefault("CONN_MAX_AGE", 0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the web, sandbox, worker and beat processes share one file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")

# The cache is shared by every process: JWT store and its lock, circuit breaker, rate limits.
# Without Redis it lives in the database (run `createcachetable`, which `make run` does).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "paraf",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "paraf_cache",
        }
    }

# ---------------------------------------------------------------------------- auth
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Passwordless sign-in links (invitations, e-mailed signing links): single use, expiring.
SIGNIN_LINK_MAX_AGE = env.int("SIGNIN_LINK_MAX_AGE", default=3 * 24 * 3600)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

# ---------------------------------------------------------------------------- i18n
LANGUAGE_CODE = "id"  # Bahasa Indonesia first
LANGUAGES = [("id", _("Bahasa Indonesia")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Jakarta"
USE_TZ = True

# ---------------------------------------------------------------------------- files
STATIC_URL = "/static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded PDFs and identity photos are private: never served from a URL, only through views
# that check ownership.
MEDIA_ROOT = env.path("PARAF_PRIVATE_ROOT", default=str(VAR_DIR / "private"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DOCUMENT_MAX_BYTES = env.int("DOCUMENT_MAX_BYTES", default=20 * 1024 * 1024)

# ---------------------------------------------------------------------------- mail
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Paraf <paraf@localhost>")
# The staff-only page that shows e-mails written by the file backend (local mode only).
MAILBOX_PAGE_ENABLED = False
# Absolute base URL used in e-mailed links (no request at hand in Celery tasks).
SITE_URL = env.str("PARAF_SITE_URL", default="http://127.0.0.1:8000")

# ---------------------------------------------------------------------------- Celery
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
if not REDIS_URL:
    # kombu's filesystem transport: a broker that needs no server, for `make run` on a laptop.
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
else:
    # Must exceed every task's time limit and every countdown, or Redis redelivers a running task.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The one place where periodic work is declared. Long waits live in the database
# (`next_poll_at`); these dispatchers only pick up rows that are due.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "worker-heartbeat": {"task": "config.tasks.worker_heartbeat", "schedule": 15.0},
    # certificates: poll Check Certificate for enrolments whose next_poll_at is due.
    "certificates-poll-due": {"task": "certificates.tasks.enrolment_poll_due", "schedule": 5.0},
    # certificates: re-enqueue enrolments stuck past their deadline; purge identity files.
    "certificates-housekeeping": {"task": "certificates.tasks.enrolment_housekeeping", "schedule": 300.0},
    # documents: poll status / download / verify documents whose next_poll_at is due.
    "documents-poll-due": {"task": "documents.tasks.document_poll_due", "schedule": 5.0},
    # documents: re-enqueue documents stuck past their deadline (safe to run twice).
    "documents-housekeeping": {"task": "documents.tasks.document_housekeeping", "schedule": 300.0},
}

# ---------------------------------------------------------------------------- Peruri
# Local default: the bundled sandbox on :8001. Going live = point these at the real gateway.
PERURI_BASE_URL = env.str("PERURI_BASE_URL", default="http://127.0.0.1:8001/gateway/")
PERURI_API_KEY = env.str("PERURI_API_KEY", default="")
PERURI_SYSTEM_ID = env.str("PERURI_SYSTEM_ID", default="")
# Per-operation path overrides, JSON: {"getJsonWebToken": "jwt/1.0/getJsonWebToken/v1"}
# (Peruri's operation names or the client's method names, e.g. "get_jwt").
PERURI_ENDPOINTS: dict[str, str] = env.json("PERURI_ENDPOINTS", default={})
# Per-operation read timeouts in seconds, JSON: {"videoVerification": 600, "checkDocumentStatus": 10}
# (Peruri's operation names or the client's); uploads add 2 s per MiB on top.
PERURI_TIMEOUTS: dict[str, float] = env.json("PERURI_TIMEOUTS", default={})
# Origin of Peruri's web views (activation and signing iFrames).
PERURI_WEBVIEW_URL = env.str("PERURI_WEBVIEW_URL", default="http://127.0.0.1:8001/webview")
# "native" (Paraf's own pages) or "embedded" (Peruri's iFrames), per deployment.
PERURI_ENROLMENT_MODE = env.str("PERURI_ENROLMENT_MODE", default="native")
PERURI_SIGNING_MODE = env.str("PERURI_SIGNING_MODE", default="native")
# Trust roots for verifying signed PDFs: PEM files. Never the OS trust store.
PERURI_TRUST_ROOTS: list[str] = env.list("PERURI_TRUST_ROOTS", default=[])
# Where the sandbox publishes its CA; used when PERURI_TRUST_ROOTS is empty in local mode.
PERURI_TRUST_ROOT_URL = env.str("PERURI_TRUST_ROOT_URL", default="")
# Circuit breaker shared by all processes (R4): open after this many consecutive transport
# failures, then let one trial call through every cool-down seconds.
PERURI_BREAKER_THRESHOLD = env.int("PERURI_BREAKER_THRESHOLD", default=5)
PERURI_BREAKER_COOLDOWN = env.int("PERURI_BREAKER_COOLDOWN", default=60)
# Callback function names the web views post (configurable: not public).
PERURI_WEBVIEW_CALLBACKS = {
    "activation": env.str("PERURI_ACTIVATION_CALLBACK", default="generateCertificate"),
    "signing": env.str("PERURI_SIGNING_CALLBACK", default="signDocument"),
}

# ---------------------------------------------------------------------------- certificates
# Fernet keys (comma-separated, newest first) encrypting KTP/NPWP numbers at rest.
# Local/test derive one from SECRET_KEY; production requires it.
FIELD_ENCRYPTION_KEYS: list[str] = env.list("PARAF_FIELD_ENCRYPTION_KEYS", default=[])
# Invitation → certificate must finish within this many days (then "expired"; staff can retry).
CERTIFICATES_ENROLMENT_DAYS = env.int("CERTIFICATES_ENROLMENT_DAYS", default=30)
# After the specimen (or the embedded web view) Peruri issues the certificate asynchronously:
# poll Check Certificate for at most this long.
CERTIFICATES_CERTIFICATE_WAIT_HOURS = env.int("CERTIFICATES_CERTIFICATE_WAIT_HOURS", default=72)
# Backoff of the Check Certificate poller (seconds): base doubles per attempt up to the cap, ±20% jitter.
CERTIFICATES_POLL_BASE_SECONDS = env.int("CERTIFICATES_POLL_BASE_SECONDS", default=5)
CERTIFICATES_POLL_MAX_SECONDS = env.int("CERTIFICATES_POLL_MAX_SECONDS", default=600)
# Embedded mode: how often to look whether the person finished Peruri's web view without a callback.
CERTIFICATES_WEBVIEW_POLL_SECONDS = env.int("CERTIFICATES_WEBVIEW_POLL_SECONDS", default=60)
# Retries of a step that failed transiently before the enrolment is marked failed for staff.
CERTIFICATES_STEP_MAX_ATTEMPTS = env.int("CERTIFICATES_STEP_MAX_ATTEMPTS", default=6)
# Identity files of an abandoned/failed enrolment are deleted after this many days without activity
# (accepted ones are deleted as soon as Peruri has them).
CERTIFICATES_IDENTITY_RETENTION_DAYS = env.int("CERTIFICATES_IDENTITY_RETENTION_DAYS", default=14)
# Upload limits (the video recorder also stops at CERTIFICATES_VIDEO_MAX_SECONDS).
CERTIFICATES_PHOTO_MAX_BYTES = env.int("CERTIFICATES_PHOTO_MAX_BYTES", default=5 * 1024 * 1024)
CERTIFICATES_PHOTO_MAX_SIDE = 2000  # px; photos are re-encoded no larger than this
CERTIFICATES_VIDEO_MAX_BYTES = env.int("CERTIFICATES_VIDEO_MAX_BYTES", default=20 * 1024 * 1024)
CERTIFICATES_VIDEO_MAX_SECONDS = env.int("CERTIFICATES_VIDEO_MAX_SECONDS", default=10)
# Callback-triggered checks ("check now") allowed per enrolment per minute.
CERTIFICATES_CHECK_NOW_PER_MINUTE = 6

# ---------------------------------------------------------------------------- documents & signing
# A Send Document / Signing call still "in flight" after this long died with its worker: the
# outcome is unknown → needs reconciliation. Longer than the client's slowest upload/sign timeout.
DOCUMENT_SEND_DEADLINE = env.int("DOCUMENT_SEND_DEADLINE", default=900)
DOCUMENT_SIGN_DEADLINE = env.int("DOCUMENT_SIGN_DEADLINE", default=300)
# Send Document retries (seconds) when nothing reached Peruri; then the document fails for staff.
DOCUMENT_SEND_RETRY_SECONDS = [10, 30, 60, 120, 300, 600]
# Status checks of a document waiting for its signer: first after this, doubling up to the cap.
# (Signing through Paraf triggers an immediate check; this catches signatures made elsewhere.)
DOCUMENT_POLL_AWAITING_FIRST = env.int("DOCUMENT_POLL_AWAITING_FIRST", default=600)
DOCUMENT_POLL_AWAITING_MAX = env.int("DOCUMENT_POLL_AWAITING_MAX", default=6 * 3600)
# After signing: when to look again (seconds) while fetching/verifying the signed copy; budget.
DOCUMENT_POLL_CONFIRM_SECONDS = [2, 5, 15, 30, 60, 120, 300, 600, 1800]
DOCUMENT_CONFIRM_MAX_ATTEMPTS = env.int("DOCUMENT_CONFIRM_MAX_ATTEMPTS", default=30)
# Breaker open: look again this much later, without using up the row's budget (R4).
DOCUMENT_POLL_UNAVAILABLE_SECONDS = 30
# A dispatched row whose task never ran is dispatched again after this (≤ half the visibility timeout).
DOCUMENT_POLL_DISPATCH_LEASE = 600
# document_poll_due claims due rows in batches of this size, up to a cap per 5-second run.
DOCUMENT_POLL_BATCH = 500
DOCUMENT_POLL_MAX_PER_RUN = 5000
# Revocation data for signature validation: off by default (the sandbox CA publishes none).
DOCUMENT_VERIFY_ALLOW_FETCHING = env.bool("DOCUMENT_VERIFY_ALLOW_FETCHING", default=False)
# Fetching PERURI_TRUST_ROOT_URL is for a local sandbox only; a deployment must opt in explicitly.
DOCUMENT_TRUST_ROOT_FETCH_ALLOWED = env.bool("DOCUMENT_TRUST_ROOT_FETCH_ALLOWED", default=False)
# OTP: lifetime of a code (Peruri: 5 minutes), resend cool-down, wrong tries before asking for a new one.
SIGNING_OTP_TTL = 300
SIGNING_OTP_RESEND_SECONDS = env.int("SIGNING_OTP_RESEND_SECONDS", default=60)
SIGNING_OTP_WRONG_TRIES = 3
# Rate limits in the shared cache (R15): codes requested per hour, codes entered per 15 minutes.
SIGNING_OTP_REQUESTS_PER_HOUR = 5  # per document
SIGNING_OTP_REQUESTS_PER_HOUR_USER = 15
SIGNING_ATTEMPTS_PER_WINDOW = 5  # per document
SIGNING_ATTEMPTS_PER_WINDOW_USER = 10
# Web-view callbacks: at most one server check per document per this many seconds, and per hour.
SIGNING_CHECK_COOLDOWN = 5
SIGNING_CHECKS_PER_HOUR = 60
# R1: Get OTP and Signing run inside the signer's web request, so they get a short read timeout
# (seconds) instead of the client's 30-60 s. A Signing call that times out has an unknown outcome:
# the document goes to "needs reconciliation" and Check Document Status settles it.
SIGNING_WEB_READ_TIMEOUT = 15
# The gateway's per-operation read timeouts (signing.gateway reads PERURI_TIMEOUTS): those two
# operations are only ever called from web requests. An explicit PERURI_TIMEOUTS entry wins.
PERURI_TIMEOUTS = {"get_otp": SIGNING_WEB_READ_TIMEOUT, "sign": SIGNING_WEB_READ_TIMEOUT, **PERURI_TIMEOUTS}
# After a Signing call with an unknown outcome, Peruri may still be working on it: its
# "WAITING_SIGNATURE" counts as "not signed" only once this many seconds have passed since the call.
SIGNING_UNKNOWN_OUTCOME_GRACE = 60

# ---------------------------------------------------------------------------- sandbox
SANDBOX_API_KEY = env.str("SANDBOX_API_KEY", default="sandbox-api-key-0000-0000-000000000000")
SANDBOX_SYSTEM_ID = env.str("SANDBOX_SYSTEM_ID", default="PARAF-SANDBOX")
SANDBOX_CERT_DELAY = env.int("SANDBOX_CERT_DELAY", default=10)
SANDBOX_DATA_DIR = env.path("SANDBOX_DATA_DIR", default=str(VAR_DIR / "sandbox"))
SANDBOX_PUBLIC_URL = env.str("SANDBOX_PUBLIC_URL", default="http://127.0.0.1:8001")
# Partner origins allowed to frame the sandbox's web views (CSP frame-ancestors).
SANDBOX_FRAME_ANCESTORS: list[str] = env.list("SANDBOX_FRAME_ANCESTORS", default=[SITE_URL])
# Lifetimes: an OTP (Peruri: 5 minutes) and an unsigned order before it is EXPIRED.
SANDBOX_OTP_TTL = env.int("SANDBOX_OTP_TTL", default=300)
SANDBOX_ORDER_TTL = env.int("SANDBOX_ORDER_TTL", default=7 * 24 * 3600)
# Scenario tuning: 1040 answers for "+kycpending" addresses; delay for "+dukcapilslow" ones.
SANDBOX_KYC_PENDING_TRIES = env.int("SANDBOX_KYC_PENDING_TRIES", default=2)
SANDBOX_DUKCAPIL_SLOW_SECONDS = env.int("SANDBOX_DUKCAPIL_SLOW_SECONDS", default=15)
# Size limits of the simulated gateway.
SANDBOX_MAX_DOCUMENT_BYTES = env.int("SANDBOX_MAX_DOCUMENT_BYTES", default=20 * 1024 * 1024)
SANDBOX_MAX_BODY_BYTES = env.int("SANDBOX_MAX_BODY_BYTES", default=64 * 1024 * 1024)
# Partner-specific namespaces accepted besides digitalSignatureFullJwtSandbox.
SANDBOX_NAMESPACES: list[str] = env.list("SANDBOX_NAMESPACES", default=[])

# ---------------------------------------------------------------------------- security
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# ---------------------------------------------------------------------------- logging
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Request bodies never reach logs: Django's request logger would include POST data
        # on errors only through the admin mail handler, which is not configured.
        "django.request": {"level": "WARNING"},
        # R18: at DEBUG, Pillow logs the EXIF values (GPS position, camera) of every identity photo it opens.
        "PIL": {"level": "INFO"},
    },
}
