"""Settings: every knob comes from the environment through the typed helpers below.

Each helper fails loudly (ImproperlyConfigured naming the variable) on a value it
cannot parse, so a typo in production is a crash at boot, not a silent default.
Every variable read here is listed in README.md's configuration table.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import TypedDict

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from core.redis import channel_layer_hosts

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of true/false/1/0/yes/no/on/off, got {raw!r}")


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        value = default
    else:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be <= {maximum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        value = default
    else:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


# --- Local settings file -----------------------------------------------------------------
# `make run` writes the project folder's .env (DEBUG and a generated SECRET_KEY) so that
# every `manage.py` command works as printed from the folder. A variable set in the
# environment always wins over the file; production sets everything in the environment.
# ENV_FILE names another file; empty, none is read (the tests' setting).

ENV_FILE = env_str("ENV_FILE", ".env")
if ENV_FILE:
    load_dotenv(BASE_DIR / ENV_FILE, override=False)

# --- Core -----------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off "
            "(set SECRET_KEY, or DEBUG=true for local development)."
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-true"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
PORT = env_int("PORT", 8000, minimum=1, maximum=65535)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework_simplejwt",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "nested_admin",
    "core",
    "accounts",
    "contests",
    "leaderboard",
    "realtime",
    "web",
]

MIDDLEWARE = [
    # First, a Host that is not served gets one warning line and a JSON 400 before
    # anything else reads it; then every line of the request carries its request id.
    "core.middleware.AllowedHostsMiddleware",
    "core.middleware.RequestContextMiddleware",
    "core.middleware.ChunkedBodyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "contestsite.urls"
WSGI_APPLICATION = "contestsite.wsgi.application"
ASGI_APPLICATION = "contestsite.asgi.application"
AUTH_USER_MODEL = "accounts.User"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# Default: a SQLite file in the project folder (the embedded default of `make run`).
# PostgreSQL under ASGI: CONN_MAX_AGE must stay 0 (persistent connections leak under
# ASGI, Django ticket #33497); psycopg's pool gives the reuse instead.

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 20, minimum=1)
try:
    _database = dj_database_url.parse(DATABASE_URL, conn_max_age=0)
except Exception as exc:  # dj_database_url raises several types for a bad URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if _database["ENGINE"] == "django.db.backends.postgresql":
    _database.setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": 10,
    }
elif _database["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default has the clock loop and requests writing at once; wait for
    # the lock instead of failing with "database is locked".
    _database.setdefault("OPTIONS", {})["timeout"] = 20
    _database["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
else:
    raise ImproperlyConfigured("DATABASE_URL must be a postgres:// or sqlite:/// URL")
_database["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME") or None}
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, channel layer, Celery -----------------------------------------------------
# REDIS_URL unset = the embedded default: in-memory channel layer, in-process event log
# and leaderboard straight from the database, contest clock as an in-process loop.

REDIS_URL = env_str("REDIS_URL")
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "contest")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                # Connections that retry with backoff through a Redis restart.
                "hosts": channel_layer_hosts(REDIS_URL),
                "prefix": f"{REDIS_KEY_PREFIX}:layer",
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
# The broker's keys and queues (kombu: `_kombu.binding.*`, the `celery` queue, pidbox)
# under the same prefix as everything else in Redis.
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{REDIS_KEY_PREFIX}:celery:"}
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# No task is acks_late (each is safe to lose: the next tick redoes it), so this cancels
# nothing; it is Celery 6's default and silences 5.x's warning on every broker drop.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TIMEZONE = "UTC"

# --- Contest knobs --------------------------------------------------------------------

TIMER_INTERVAL_SECONDS = env_float("TIMER_INTERVAL_SECONDS", 1.0, minimum=0.1)
LEADERBOARD_INTERVAL_SECONDS = env_float("LEADERBOARD_INTERVAL_SECONDS", 5.0, minimum=0.1)
LEADERBOARD_TOP_N = env_int("LEADERBOARD_TOP_N", 10, minimum=1, maximum=100)
SUBMISSION_GRACE_MS = env_int("SUBMISSION_GRACE_MS", 500, minimum=0, maximum=10_000)
EVENT_LOG_SIZE = env_int("EVENT_LOG_SIZE", 2000, minimum=1000)
# The backstop of the outbox relay: publishes room events a process committed and could
# not publish (it died, or Redis was away and its own retries stopped with it).
OUTBOX_SWEEP_SECONDS = env_float("OUTBOX_SWEEP_SECONDS", 1.0, minimum=0.1)


class PeriodicTask(TypedDict):
    task: str  # the Celery task's dotted path
    every: float  # seconds between runs
    expires: float  # seconds


# The periodic tasks, in the order they run: Celery beat queues them with REDIS_URL; the
# embedded default runs them inside the server (core.periodic). `expires`: ticks stuck in
# a backlog are dropped after a few intervals (a late one is harmless: transitions happen
# once). Not one interval: beat stamps the expiry with its own clock and the worker
# compares it with another machine's.
PERIODIC_TASKS: dict[str, PeriodicTask] = {
    "contest-tick": {
        "task": "contests.tasks.contest_tick",
        "every": TIMER_INTERVAL_SECONDS,
        "expires": max(5.0, 5 * TIMER_INTERVAL_SECONDS),
    },
    "leaderboard-flush": {
        "task": "leaderboard.tasks.leaderboard_flush",
        "every": LEADERBOARD_INTERVAL_SECONDS,
        "expires": max(5.0, LEADERBOARD_INTERVAL_SECONDS),
    },
    "outbox-sweep": {
        "task": "realtime.tasks.outbox_sweep",
        "every": OUTBOX_SWEEP_SECONDS,
        "expires": max(5.0, 5 * OUTBOX_SWEEP_SECONDS),
    },
}
CELERY_BEAT_SCHEDULE = {
    name: {
        "task": entry["task"],
        "schedule": entry["every"],
        "options": {"expires": entry["expires"]},
    }
    for name, entry in PERIODIC_TASKS.items()
}

# --- WebSocket ------------------------------------------------------------------------

WS_MAX_CONNECTIONS_PER_USER = env_int("WS_MAX_CONNECTIONS_PER_USER", 5, minimum=1)
WS_MAX_MESSAGE_BYTES = env_int("WS_MAX_MESSAGE_BYTES", 16 * 1024, minimum=256)
WS_RATE_LIMIT_PER_SECOND = env_float("WS_RATE_LIMIT_PER_SECOND", 10.0, minimum=0.1)
WS_RATE_LIMIT_BURST = env_int("WS_RATE_LIMIT_BURST", 20, minimum=1)
WS_RATE_LIMIT_CLOSE_AFTER = env_int("WS_RATE_LIMIT_CLOSE_AFTER", 50, minimum=1)
# Empty = Origins are checked against ALLOWED_HOSTS (Channels' AllowedHostsOriginValidator).
WS_ALLOWED_ORIGINS = env_list("WS_ALLOWED_ORIGINS", [])
# How often each server process compares what it delivered with the event log (repairs
# room events the channel layer lost while Redis reconnected).
WS_CATCH_UP_INTERVAL_SECONDS = env_float("WS_CATCH_UP_INTERVAL_SECONDS", 5.0, minimum=0.1)
# What a web process holds for one client that does not read, before closing it (1013).
WS_MAX_SEND_BUFFER_BYTES = env_int("WS_MAX_SEND_BUFFER_BYTES", 256 * 1024, minimum=16 * 1024)
# On SIGTERM a web process closes its sockets (1012) and exits within this many seconds.
SHUTDOWN_TIMEOUT_SECONDS = env_float("SHUTDOWN_TIMEOUT_SECONDS", 10.0, minimum=1.0)

# --- Auth, REST, JWT ------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(
        seconds=env_int("JWT_ACCESS_LIFETIME_SECONDS", 3600, minimum=10)
    ),
    "REFRESH_TOKEN_LIFETIME": timedelta(
        seconds=env_int("JWT_REFRESH_LIFETIME_SECONDS", 7 * 24 * 3600, minimum=60)
    ),
    "UPDATE_LAST_LOGIN": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Contest platform API",
    "DESCRIPTION": (
        "REST API of the live contest platform. The WebSocket protocol is in docs/PROTOCOL.md."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- i18n, static ---------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise warns about a missing STATIC_ROOT at every start; an empty one is harmless.
STATIC_ROOT.mkdir(exist_ok=True)
# Serve app static files straight from the apps, so `make run` and the tests need no
# collectstatic step (production may still run `manage.py collectstatic`).
WHITENOISE_USE_FINDERS = True

# Dates and times with seconds in the admin (the English locale shows minutes only).
FORMAT_MODULE_PATH = ["core.formats"]

# --- Observability --------------------------------------------------------------------

# text: one readable line per record; json: one JSON object per line (docs/OPERATIONS.md).
LOG_FORMAT = env_choice("LOG_FORMAT", "text", ("text", "json"))
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
# Bearer token that GET /metrics requires; empty: no token (keep it on an internal network).
METRICS_TOKEN = env_str("METRICS_TOKEN")
# prometheus-client reads this variable itself when it is imported; set, every process
# writes its figures to files there and /metrics adds them up (core/metrics.py).
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR")
if PROMETHEUS_MULTIPROC_DIR and not Path(PROMETHEUS_MULTIPROC_DIR).is_absolute():
    raise ImproperlyConfigured(
        f"PROMETHEUS_MULTIPROC_DIR must be an absolute path, got {PROMETHEUS_MULTIPROC_DIR!r}"
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "core.logs.ContextFilter"},
        "redact": {"()": "core.logs.RedactCredentials"},
        # A lost Redis connection is one warning line, not a traceback (core.redis).
        "transient_redis": {"()": "core.redis.TransientRedisErrors"},
    },
    "formatters": {
        "text": {
            "()": "core.logs.TextFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "core.logs.JsonFormatter"},
    },
    "handlers": {
        "null": {"class": "logging.NullHandler"},
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["transient_redis", "context", "redact"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Never log query strings: the WebSocket JWT travels there. daphne's access log (a
        # line per WebSocket event, redacted) only at LOG_LEVEL=DEBUG: core.middleware
        # logs each HTTP request once.
        "django.channels.server": {"level": "WARNING"},
        "daphne.access": {"level": "DEBUG" if LOG_LEVEL == "DEBUG" else "WARNING"},
        # uvicorn's loggers go through the console handler above (its format, the
        # redaction), not uvicorn's own handlers: its line per WebSocket handshake carries
        # the query string. The handshake lines only at DEBUG.
        "uvicorn": {"level": LOG_LEVEL, "handlers": [], "propagate": True},
        "uvicorn.error": {
            "level": "DEBUG" if LOG_LEVEL == "DEBUG" else "WARNING",
            "handlers": [],
            "propagate": True,
        },
        # uvicorn's access log is off (`--no-access-log`; core.middleware logs each
        # request once, without its query string). The null handler keeps its records
        # away from logging's last-resort handler, which writes them unredacted.
        "uvicorn.access": {"level": "WARNING", "handlers": ["null"], "propagate": False},
        # 4xx answers are in the request's own line (core.middleware); 5xx keep their
        # traceback here.
        "django.request": {"level": "ERROR"},
        # The clock runs a task every second: no "received"/"succeeded"/"Sending due
        # task" line for each (failures are still logged, at ERROR).
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
    },
}
