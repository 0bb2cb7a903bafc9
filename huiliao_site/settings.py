"""Huiliao settings: one file, every knob an environment variable (see README).

The embedded defaults (SQLite in WAL mode, the in-memory channel layer, DEBUG on) are for
`make run` on a laptop. Production sets DEBUG=0, which demands SECRET_KEY and ALLOWED_HOSTS.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def env_float(name: str, default: float) -> float:
    value = env_str(name)
    if not value:
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=0.")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    if not DEBUG:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG=0 (comma-separated).")
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # First, so that `runserver` serves ASGI (HTTP and websockets) through Daphne.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI from our own static files, not a CDN
    "csp",
    "accounts",
    "rooms",
    "history",
]

MIDDLEWARE = [
    "huiliao_site.middleware.ResponseCounter",
    "django.middleware.security.SecurityMiddleware",
    "huiliao_site.middleware.AsyncWhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, so it is the first to see a view's exception: a lost database is a 503.
    "huiliao_site.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "huiliao_site.urls"
ASGI_APPLICATION = "huiliao_site.asgi.application"

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
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------
# SQLite is the embedded default. WAL lets readers run beside the single writer, and
# IMMEDIATE transactions take the write lock up front, so two posters queue on the lock
# (busy timeout) instead of failing with "database is locked" half-way through. The same
# options apply however SQLite is chosen (no DATABASE_URL, or DATABASE_URL=sqlite:///…).
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA busy_timeout=20000;",
}
# PostgreSQL: each process borrows connections from one bounded pool (psycopg's). Under
# ASGI every request runs in a thread of its own, so persistent per-thread connections
# (CONN_MAX_AGE) pile up with the threads; a pool caps a process at DB_POOL_MAX backends.
# A request that finds the pool empty waits up to DB_POOL_TIMEOUT seconds, then gets 503
# database_unavailable. Connections are checked before each use, so a backend that
# PostgreSQL terminated is replaced instead of failing the next request.
DB_POOL_MAX = env_int("DB_POOL_MAX", 16)
DB_POOL_TIMEOUT = env_float("DB_POOL_TIMEOUT", 10.0)


def database_settings(url: str) -> dict:
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH") or str(BASE_DIR / "db.sqlite3"),
            "OPTIONS": dict(SQLITE_OPTIONS),
        }
    database = dj_database_url.parse(url)
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database["OPTIONS"] = {**SQLITE_OPTIONS, **database.get("OPTIONS", {})}
    elif database["ENGINE"] == "django.db.backends.postgresql" and DB_POOL_MAX > 0:
        database["CONN_MAX_AGE"] = 0  # the pool keeps the connections
        database["CONN_HEALTH_CHECKS"] = True  # Django: the pool checks each one it lends
        database["OPTIONS"] = {
            **database.get("OPTIONS", {}),
            "pool": {
                "min_size": min(2, DB_POOL_MAX),
                "max_size": DB_POOL_MAX,
                "timeout": DB_POOL_TIMEOUT,
            },
        }
    else:  # DB_POOL_MAX=0: a connection per request, closed at its end
        database["CONN_MAX_AGE"] = 0
        database["CONN_HEALTH_CHECKS"] = True
    return database


DATABASE_URL = env_str("DATABASE_URL")
DATABASES = {"default": database_settings(DATABASE_URL)}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Channels ---------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py's default 5 s socket timeout equals the layer's blocking-read
                # timeout (periodic TimeoutError) and its async pool caps at 100 connections
                # (MaxConnectionsError under a join burst): set both explicitly.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": None,
                        "socket_connect_timeout": 5,
                        "max_connections": env_int("REDIS_MAX_CONNECTIONS", 1000),
                    }
                ],
                "prefix": env_str("REDIS_PREFIX", "huiliao"),
                # Only the room hubs read from the layer, one channel per process, so a
                # generous capacity costs nothing; anything dropped is replayed by seq.
                "capacity": 10_000,
                "expiry": 30,
                "group_expiry": 86_400,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 10_000, "expiry": 30},
        }
    }

# --- Cache ------------------------------------------------------------------------------
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("REDIS_PREFIX", "huiliao"),
        }
    }

# --- Internationalisation ---------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static and media -------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = env_str("MEDIA_URL", "/media/")
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Serve static files straight from the app dirs in development and tests.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security ---------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    # Only a proxy we run sets X-Forwarded-Proto; without one (HUILIAO_NUM_PROXIES=0)
    # any client could claim https with it.
    if env_int("HUILIAO_NUM_PROXIES", 0) > 0:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Off by default, for plain-HTTP trial deployments; docs/deploy.md turns them on
    # (then `manage.py check --deploy` is clean). Health and metrics stay reachable over
    # plain HTTP for the load balancer and the scraper.
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)

# Content Security Policy (django-csp): scripts only from our own files, so an injected
# <script> or inline handler never runs. Pages pass data to their scripts in
# json_script elements (data, not code). 'self' also covers our own ws:/wss: socket.
# The API docs page (Swagger UI) is served from our own static files with its bootstrap
# as a separate script, so it runs under the same policy.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # Inline styles are allowed (the admin's templates and the printable poster use
        # them); they cannot run code. Scripts stay strict.
        "style-src": ["'self'", "'unsafe-inline'"],
        # QR codes and avatars may come from a storage host or WeChat's CDN (https).
        "img-src": ["'self'", "data:", "https:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- REST API ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["huiliao_site.api.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "huiliao_site.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "login": env_str("HUILIAO_LOGIN_RATE", "30/min"),
        "room_create": env_str("HUILIAO_ROOM_CREATE_RATE", "30/hour"),
        # Guests are free accounts: one address (a venue's Wi-Fi is one) gets this many.
        "room_create_address": env_str("HUILIAO_ROOM_CREATE_ADDRESS_RATE", "60/hour"),
        "announcement": env_str("HUILIAO_ANNOUNCEMENT_RATE", "20/min"),
        "nearby": env_str("HUILIAO_NEARBY_RATE", "20/min"),
        "nearby_address": env_str("HUILIAO_NEARBY_ADDRESS_RATE", "300/min"),
        "report": env_str("HUILIAO_REPORT_RATE", "30/hour"),
        "question": env_str("HUILIAO_QUESTION_RATE", "10/min"),
        # A hall votes in bursts: generous, but a script cannot flip votes forever.
        "vote": env_str("HUILIAO_VOTE_RATE", "120/min"),
        "contact": env_str("HUILIAO_CONTACT_RATE", "20/hour"),
        # Moderators act in bursts (clearing a spam wave) but not forever.
        "moderation": env_str("HUILIAO_MODERATION_RATE", "120/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Throttles key anonymous callers by address. Left unset, DRF keys them by the whole
    # X-Forwarded-For header, which any client can vary to dodge the login throttle; set
    # it to the number of reverse proxies in front of Daphne.
    "NUM_PROXIES": env_int("HUILIAO_NUM_PROXIES", 0),
}

SPECTACULAR_SETTINGS = {
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "huiliao_site.api.add_schema_rules",
    ],
    "TITLE": "Huiliao API",
    "DESCRIPTION": "Temporary chat rooms for conferences and events.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a field called `kind`; name each choice set once.
    "ENUM_NAME_OVERRIDES": {
        "UserKindEnum": "accounts.models.User.Kind",
        "MessageKindEnum": "history.models.Message.Kind",
        "MembershipRoleEnum": "rooms.models.Membership.Role",
        "RoomStatusEnum": "rooms.models.Room.Status",
        "AvatarEnum": "rooms.avatars.AVATAR_CHOICES",
    },
}

# --- WeChat -----------------------------------------------------------------------------
WECHAT_APPID = env_str("WECHAT_APPID")
WECHAT_SECRET = env_str("WECHAT_SECRET")
WECHAT_API_BASE = env_str("WECHAT_API_BASE", "https://api.weixin.qq.com").rstrip("/")
WECHAT_TIMEOUT = env_float("WECHAT_TIMEOUT", 5.0)
# The mini-program page a room's mini-program code opens, and which version of the app.
WECHAT_MP_PAGE = env_str("WECHAT_MP_PAGE", "pages/room/room")
WECHAT_MP_ENV = env_str("WECHAT_MP_ENV", "release")  # release | trial | develop
# msg_sec_check sits in the posting path: it gets less time than other WeChat calls.
WECHAT_CHECK_TIMEOUT = env_float("WECHAT_CHECK_TIMEOUT", 2.0)

# --- Huiliao ----------------------------------------------------------------------------
HUILIAO_PUBLIC_URL = env_str("HUILIAO_PUBLIC_URL").rstrip("/")
# A font file with Chinese glyphs for QR captions; empty: the first CJK font installed.
HUILIAO_QR_FONT = env_str("HUILIAO_QR_FONT")
HUILIAO_MAX_ROOM_DAYS = env_int("HUILIAO_MAX_ROOM_DAYS", 30)
# Rooms that non-staff create through the API expire by default after this many hours.
HUILIAO_DEFAULT_ROOM_HOURS = env_int("HUILIAO_DEFAULT_ROOM_HOURS", 24)
# Unknown room codes one client address may try per window before every code is refused.
# Past it, the address's strangers are refused every code; members keep their rooms.
HUILIAO_FAILED_LOOKUP_LIMIT = env_int("HUILIAO_FAILED_LOOKUP_LIMIT", 100)
HUILIAO_FAILED_LOOKUP_WINDOW = env_int("HUILIAO_FAILED_LOOKUP_WINDOW", 600)
# Posting throttle per member per room: at most POST_RATE_COUNT messages in POST_RATE_SECONDS.
HUILIAO_POST_RATE_COUNT = env_int("HUILIAO_POST_RATE_COUNT", 10)
HUILIAO_POST_RATE_SECONDS = env_int("HUILIAO_POST_RATE_SECONDS", 10)
# A question's vote count reaches each socket at most once per this many ms (0: every vote).
HUILIAO_VOTES_COALESCE_MS = env_int("HUILIAO_VOTES_COALESCE_MS", 500)
# This many distinct members reporting one message hide it until a moderator decides.
HUILIAO_REPORT_HIDE_THRESHOLD = env_int("HUILIAO_REPORT_HIDE_THRESHOLD", 3)
# When WeChat's content check fails or times out: "review" holds the message for a
# moderator, "pass" lets it through.
HUILIAO_CONTENT_CHECK_FAILURE = env_str("HUILIAO_CONTENT_CHECK_FAILURE", "review")
if HUILIAO_CONTENT_CHECK_FAILURE not in {"review", "pass"}:
    raise ImproperlyConfigured("HUILIAO_CONTENT_CHECK_FAILURE must be review or pass.")
# Live sockets: silence (or data left unread) before the server closes a socket; how much
# unread data one socket may hold, the kernel's buffer included, before it is cut off to
# resume by seq; and how many sockets one user may hold in a process.
HUILIAO_WS_IDLE_TIMEOUT = env_int("HUILIAO_WS_IDLE_TIMEOUT", 75)
HUILIAO_WS_BACKLOG_KB = env_int("HUILIAO_WS_BACKLOG_KB", 512)
HUILIAO_WS_MAX_PER_USER = env_int("HUILIAO_WS_MAX_PER_USER", 5)
# Keep the imports and settled sockets out of the garbage collector's full passes, which
# otherwise stall a busy process for 50-200 ms (history/live/collector.py).
HUILIAO_GC_FREEZE = env_bool("HUILIAO_GC_FREEZE", True)
HUILIAO_RESUME_LIMIT = env_int("HUILIAO_RESUME_LIMIT", 500)
# How often each process's room hub re-reads a room with local sockets (fills messages the
# channel layer dropped, closes rooms that were closed or expired; expiry is also timed).
HUILIAO_HUB_CHECK_SECONDS = env_int("HUILIAO_HUB_CHECK_SECONDS", 5)
# Who may read /metrics (CIDRs, comma-separated).
HUILIAO_METRICS_ALLOW = env_list("HUILIAO_METRICS_ALLOW", "127.0.0.1/32,::1/128")
# How often a hub joins its rooms' layer groups again (a restarted Redis forgets them).
HUILIAO_HUB_REJOIN_SECONDS = env_int("HUILIAO_HUB_REJOIN_SECONDS", 60)

# --- Logging ----------------------------------------------------------------------------
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured("LOG_FORMAT must be plain or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # One JSON object per line, for a log collector: time, level, logger, message
        # (and the exception, when there is one).
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django gives these loggers handlers of their own; they also reach the root's,
        # so each line was printed twice. One handler, the root's, for everything.
        "django": {"handlers": [], "propagate": True},
        "django.server": {"handlers": [], "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        # httpx logs every request URL at INFO, and WeChat's jscode2session URL carries
        # WECHAT_SECRET and the login code in its query string.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
HUILIAO_SERVE_MEDIA = env_bool("HUILIAO_SERVE_MEDIA", False)
