"""Kiln settings: everything comes from environment variables (see docs/deploy.md).

Two profiles:
- ``embedded`` (default): one machine, SQLite under ``KILN_DATA_DIR``, a generated secret key kept
  on disk, a Redis the launcher starts itself when ``REDIS_URL`` is unset.
- ``production``: refuses to start without ``SECRET_KEY``, ``ALLOWED_HOSTS`` and ``DATABASE_URL``,
  and turns on the HTTPS-only settings so ``manage.py check --deploy`` is clean.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


PROFILE = os.environ.get("KILN_PROFILE", "embedded")
if PROFILE not in {"embedded", "production"}:
    raise ImproperlyConfigured(f"KILN_PROFILE must be 'embedded' or 'production', not {PROFILE!r}")
PRODUCTION = PROFILE == "production"

DATA_DIR = Path(os.environ.get("KILN_DATA_DIR", BASE_DIR / "var")).resolve()


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set in the production profile (see docs/deploy.md)")
    return value


def _embedded_secret_key() -> str:
    """A random key generated once per data folder, so sessions survive restarts."""
    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


if PRODUCTION:
    SECRET_KEY = _required("SECRET_KEY")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS") or _required("ALLOWED_HOSTS").split(",")
    _database_url = _required("DATABASE_URL")
else:
    SECRET_KEY = os.environ.get("SECRET_KEY") or _embedded_secret_key()
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
    _database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'kiln.sqlite3'}"

DEBUG = env_bool("DEBUG", False)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("KILN_DB_POOL", True):
    # The web server takes its connections from a pool (psycopg_pool, through Django) and gives
    # them back after each request, instead of opening one per request (a PostgreSQL backend
    # started and ended each time, a few ms of CPU; a persistent connection is not safe across its
    # threads). Checked as taken: one that broke while idle (PostgreSQL restarted) is replaced.
    # Celery workers keep persistent connections instead (console/celery.py).
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": int(os.environ.get("KILN_DB_POOL_MAX", "10")),
        "max_idle": 300,  # seconds an idle connection above min_size is kept
        "timeout": 30,  # seconds to wait for a free connection before the request fails
    }
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web server and worker share the file: wait for locks instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "guardian",
    "channels",
    "console",
    "jobs",
    "storage",
    "flows",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "console.urls"
ASGI_APPLICATION = "console.asgi.application"
WSGI_APPLICATION = "console.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# guardian: no anonymous user row; Kiln never grants anything to anonymous.
ANONYMOUS_USER_NAME = None
GUARDIAN_MONKEY_PATCH_USER = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request otherwise
# The built SPA (frontend/dist) is served from the site root: /assets/…, /favicon.svg …
FRONTEND_DIST = Path(os.environ.get("KILN_FRONTEND_DIST", BASE_DIR / "frontend" / "dist"))
WHITENOISE_ROOT = FRONTEND_DIST if FRONTEND_DIST.is_dir() else None
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Kiln --------------------------------------------------------------------------------------
KILN_CLUSTER = os.environ.get("KILN_CLUSTER", "default")
KILN_STORAGE_ROOT = Path(os.environ.get("KILN_STORAGE_ROOT", DATA_DIR / "storage")).resolve()
KILN_STORAGE_BACKEND = os.environ.get("KILN_STORAGE_BACKEND", "local")  # local | s3
KILN_S3 = {
    "endpoint_url": os.environ.get("KILN_S3_ENDPOINT_URL") or None,
    "bucket": os.environ.get("KILN_S3_BUCKET", ""),
    "prefix": os.environ.get("KILN_S3_PREFIX", ""),
    "region_name": os.environ.get("KILN_S3_REGION") or None,
    "access_key_id": os.environ.get("KILN_S3_ACCESS_KEY_ID") or None,
    "secret_access_key": os.environ.get("KILN_S3_SECRET_ACCESS_KEY") or None,
}

KILN_S3_PART_SIZE = int(os.environ.get("KILN_S3_PART_SIZE", 8 << 20))  # multipart part size, bytes
KILN_STORAGE_UPLOAD_TTL = int(os.environ.get("KILN_STORAGE_UPLOAD_TTL", 24 * 3600))  # idle resumable uploads
_max_upload = os.environ.get("KILN_STORAGE_MAX_UPLOAD")
KILN_STORAGE_MAX_UPLOAD = int(_max_upload) if _max_upload else None  # bytes; None: no limit
KILN_STORAGE_FSYNC = env_bool("KILN_STORAGE_FSYNC", True)  # fsync uploads before they appear

# --- Redis: Celery broker and Channels layer ----------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
KILN_REDIS_PREFIX = os.environ.get("KILN_REDIS_PREFIX", "kiln")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py 8 reads with a 5 s socket timeout by default, the same as channels_redis's
        # 5 s BRPOP: an idle consumer then dies of a TimeoutError. Give reads room.
        # driver_info None: redis-py 8 otherwise reads its own package metadata (importlib, ~5 ms)
        # for every new connection, and sends CLIENT SETINFO on it.
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 5,
                              "driver_info": None}],
                   "prefix": f"{KILN_REDIS_PREFIX}:asgi", "capacity": 1000},
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
# Two queues: jobs fill a worker process's slots for their whole run, so they get their own queue
# and the short control tasks (bake ticks, pings, housekeeping) are never stuck behind them. A plain
# `celery -A console worker` consumes both; production runs one pool per queue (-Q).
KILN_CONTROL_QUEUE = KILN_REDIS_PREFIX
KILN_JOBS_QUEUE = f"{KILN_REDIS_PREFIX}-jobs"
CELERY_TASK_DEFAULT_QUEUE = KILN_CONTROL_QUEUE
CELERY_TASK_QUEUES = {KILN_CONTROL_QUEUE: {}, KILN_JOBS_QUEUE: {}}
CELERY_TASK_ROUTES = {"jobs.run_jobs": {"queue": KILN_JOBS_QUEUE}, "jobs.run_job": {"queue": KILN_JOBS_QUEUE}}
# No task may be lost when a worker dies: acknowledge only after the task ran, put it back when
# the worker process is killed, and take one message at a time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Jobs may run for days; a message is redelivered only after this long without an ack.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("KILN_CELERY_VISIBILITY_TIMEOUT", 7 * 24 * 3600)),
    "global_keyprefix": f"{KILN_REDIS_PREFIX}:celery:",
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": f"{KILN_REDIS_PREFIX}:celery:"}
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fix-up would close the database connection after every task (a reconnect per
# job batch and per bake tick: ~5 ms of CPU between the worker and PostgreSQL). Keep it across
# this many tasks; CONN_MAX_AGE and health checks still apply (console/celery.py).
CELERY_DB_REUSE_MAX = int(os.environ.get("KILN_WORKER_DB_REUSE_MAX", "1000"))
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Periodic housekeeping run by `celery beat` (the embedded launcher runs one inside its worker).
# Liveness of jobs and bakes does not depend on beat: every worker checks that itself.
CELERY_BEAT_SCHEDULE = {
    "storage-expire-uploads": {"task": "storage.expire_uploads", "schedule": 3600.0},
}

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "console.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "console.pagination.NewestFirstCursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "console.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # ?format= belongs to our endpoints (logs ?format=text), not to content negotiation.
    "URL_FORMAT_OVERRIDE": None,
    "DEFAULT_THROTTLE_RATES": {"login": os.environ.get("KILN_LOGIN_RATE", "30/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Kiln API",
    "DESCRIPTION": "Jobs, storage, flows and sharing for ML teams. See docs/api.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
LOGIN_URL = "/login"

if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31536000))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    if env_bool("KILN_BEHIND_PROXY", True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("KILN_LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}

# --- Jobs -----------------------------------------------------------------------------------------
import json as _json  # noqa: E402
import sys as _sys  # noqa: E402

# Presets: name → CPU cores and memory. Override with KILN_PRESETS='{"gpu": {"cpu": 8, "memory_mb": 65536}}'.
KILN_PRESETS = _json.loads(os.environ.get("KILN_PRESETS", "null")) or {
    "cpu-small": {"cpu": 1, "memory_mb": 2048, "description": "1 CPU, 2 GiB"},
    "cpu-medium": {"cpu": 2, "memory_mb": 8192, "description": "2 CPU, 8 GiB"},
    "cpu-large": {"cpu": 4, "memory_mb": 16384, "description": "4 CPU, 16 GiB"},
}
KILN_DEFAULT_PRESET = os.environ.get("KILN_DEFAULT_PRESET", next(iter(KILN_PRESETS)))
KILN_JOB_RUNTIME = os.environ.get("KILN_JOB_RUNTIME", "local")  # local (bubblewrap)
# The Python the sandbox offers as `python`/`python3` (bound read-only at the same path).
KILN_JOB_PYTHON_PREFIX = os.environ.get("KILN_JOB_PYTHON_PREFIX", _sys.base_prefix)
KILN_JOB_EXTRA_RO_BINDS = env_list("KILN_JOB_EXTRA_RO_BINDS")  # more host folders jobs may read
KILN_JOB_KILL_GRACE = float(os.environ.get("KILN_JOB_KILL_GRACE", "10"))  # SIGTERM → SIGKILL, seconds
KILN_JOB_CGROUP_PARENT = os.environ.get("KILN_JOB_CGROUP_PARENT", "kiln")
# A queued bake tick (a wide bake's endings) may wait this long so that endings coalesce; a chain's
# ticks run inline at once and are not delayed.
KILN_BAKE_TICK_COALESCE = float(os.environ.get("KILN_BAKE_TICK_COALESCE", "0.25"))
# Jobs one worker process runs at once (its job host); a jobs worker with --concurrency N runs up
# to N × slots. Size it to what the machine's CPUs and memory carry for your jobs. (32 with one
# process per two CPUs, the launcher's default, is the capacity 16 per process gave with one per
# CPU, for half the processes: see docs/jobs.md.)
KILN_JOB_SLOTS = int(os.environ.get("KILN_JOB_SLOTS", "32"))
# Liveness: runners beat every interval; a running job whose beat is older than the timeout is
# lost (its worker died). Every worker runs the check, so no single scheduler must stay alive.
KILN_HEARTBEAT_INTERVAL = float(os.environ.get("KILN_HEARTBEAT_INTERVAL", "3"))
KILN_HEARTBEAT_TIMEOUT = float(os.environ.get("KILN_HEARTBEAT_TIMEOUT", "15"))
KILN_LIVENESS_CHECK_INTERVAL = float(os.environ.get("KILN_LIVENESS_CHECK_INTERVAL", "5"))
# Address at which the web server reaches a job's HTTP port on this worker's machine.
KILN_WORKER_ADDRESS = os.environ.get("KILN_WORKER_ADDRESS", "127.0.0.1")
KILN_LOG_BATCH_SECONDS = float(os.environ.get("KILN_LOG_BATCH_SECONDS", "0.005"))
# Browse (/jobs/<id>/browse/): pages of jobs are served on Kiln's origin, so by default they get a
# CSP sandbox; set KILN_BROWSE_SANDBOX=0 only when you trust every job's web app.
KILN_BROWSE_SANDBOX = env_bool("KILN_BROWSE_SANDBOX", True)
# Celery worker processes keep their database connection this many seconds (the web server: 0).
KILN_WORKER_DB_CONN_MAX_AGE = int(os.environ.get("KILN_WORKER_DB_CONN_MAX_AGE", "300"))
