"""Settings for towngrid, read from the environment so that one code base serves the embedded
demo (SQLite in a data directory) and production (PostgreSQL, Redis, MQTT)."""

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent


def env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DATA_DIR = Path(os.environ.get("TOWNGRID_DATA_DIR", "data")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

# Production mode turns off debug, demands a real secret key and refuses the demo accounts.
PRODUCTION = env_flag("TOWNGRID_PRODUCTION")
DEBUG = env_flag("TOWNGRID_DEBUG", default=not PRODUCTION)


def _secret_key() -> str:
    key = os.environ.get("TOWNGRID_SECRET_KEY")
    if key:
        return key
    if PRODUCTION:
        raise RuntimeError("TOWNGRID_SECRET_KEY must be set in production mode")
    # The embedded default keeps one generated key in the data directory so sessions survive
    # restarts without anyone having to configure anything.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = [
    h for h in os.environ.get("TOWNGRID_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",") if h
]
if DEBUG:
    ALLOWED_HOSTS.append("testserver")
CSRF_TRUSTED_ORIGINS = [
    o for o in os.environ.get("TOWNGRID_CSRF_TRUSTED_ORIGINS", "").split(",") if o
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "towngrid.core",
    "towngrid.accounts",
    "towngrid.grids",
    "towngrid.cases",
    "towngrid.open311",
    "towngrid.registry",
    "towngrid.codes",
    "towngrid.sensing",
    "towngrid.programs",
    "towngrid.reports",
    "towngrid.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "towngrid.core.locale.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "towngrid.core.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "towngrid.urls"
WSGI_APPLICATION = "towngrid.wsgi.application"

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
                "towngrid.core.context_processors.site",
            ],
        },
    }
]

SQLITE_PATH = DATA_DIR / "towngrid.sqlite3"
DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}", conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web server read while a worker writes; IMMEDIATE avoids the
        # "database is locked" upgrade deadlock between two writers. A 64 MB page cache keeps
        # the indexes of a growing town (millions of sensor readings) in memory instead of
        # re-reading them from the file system with SQLite's 2 MB default (bench/ingest.py).
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; "
            "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=10000;"
        ),
        "transaction_mode": "IMMEDIATE",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["towngrid.accounts.backends.LockoutBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "towngrid.accounts.backends.PasswordComplexityValidator"},
]

# Lockout after repeated failed logins (MLPS 2.0 level 3).
LOGIN_FAILURE_LIMIT = int(os.environ.get("TOWNGRID_LOGIN_FAILURE_LIMIT", "5"))
LOGIN_LOCKOUT_MINUTES = int(os.environ.get("TOWNGRID_LOGIN_LOCKOUT_MINUTES", "15"))

# Password expiry in days (0: never); demo users never expire.
TOWNGRID_PASSWORD_MAX_AGE_DAYS = int(os.environ.get("TOWNGRID_PASSWORD_MAX_AGE_DAYS", "90"))
TOWNGRID_API_TOKEN_DAYS = int(os.environ.get("TOWNGRID_API_TOKEN_DAYS", "30"))
# Reverse proxies whose X-Forwarded-For is believed (addresses or CIDRs, comma list); without
# them the audit trail records the direct peer and a client cannot forge its address.
TOWNGRID_TRUSTED_PROXIES = os.environ.get("TOWNGRID_TRUSTED_PROXIES", "")

SESSION_COOKIE_AGE = int(os.environ.get("TOWNGRID_SESSION_SECONDS", str(30 * 60)))
SESSION_SAVE_EVERY_REQUEST = True  # idle timeout rather than a fixed lifetime
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("TOWNGRID_HSTS_SECONDS", "31536000"))

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every request if it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serving straight from the app folders means the demo needs no collectstatic step.
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "towngrid.accounts.api_auth.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "towngrid.core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "towngrid API",
    "DESCRIPTION": "镇域“一网统管·一码通用”平台 — the JSON API of towngrid.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Map tiles: none by default (the grid boundaries are drawn on a plain background so nothing is
# fetched from the internet); production may point this at its own tile server.
TOWNGRID_TILE_URL = os.environ.get("TOWNGRID_TILE_URL", "")
TOWNGRID_TILE_ATTRIBUTION = os.environ.get("TOWNGRID_TILE_ATTRIBUTION", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("TOWNGRID_LOG_LEVEL", "WARNING")},
}

# Personal data (PIPL): the key that encrypts identity and phone numbers at rest and keys their
# search hashes. Base64 of 32 random bytes; required in production (towngrid.core.personal).
TOWNGRID_PERSONAL_DATA_KEY = os.environ.get("TOWNGRID_PERSONAL_DATA_KEY", "")

# Brokers. Unset: background work runs in-process (see DESIGN.md, Architecture).
MQTT_URL = os.environ.get("MQTT_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")

# Background jobs run in a thread of the web process (the embedded default). Tests run them inline
# so they see the test's transaction.
TOWNGRID_JOBS_INLINE = env_flag("TOWNGRID_JOBS_INLINE", default=False)

# Two-factor login (TOTP) for administrators, MLPS 2.0 level 3: on by default in production.
# Users who enrolled an authenticator are always asked for a code.
TOWNGRID_REQUIRE_2FA = env_flag("TOWNGRID_REQUIRE_2FA", default=PRODUCTION)

# The key that signs the tokens printed on door plates (codes/tokens.py); defaults to the secret
# key. Changing it invalidates every printed plate.
TOWNGRID_CODES_KEY = os.environ.get("TOWNGRID_CODES_KEY", "")
