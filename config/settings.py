"""Settings of the demo site. Everything that differs between machines comes from the
environment; with nothing set, it runs on SQLite with Django's database session engine."""

import os
from pathlib import Path

import dj_database_url
import django
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DJANGO_DEBUG", True)
# With DEBUG off the demo is a deployment: it refuses to start on a key everybody knows
# (anyone could forge "This wasn't me" links and everything else Django signs).
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off, e.g. to the output of: "
            "python -c 'from django.core.management.utils import get_random_secret_key as k; "
            "print(k())'"
        )
    SECRET_KEY = "insecure-demo-key-for-debug-only"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
CSRF_TRUSTED_ORIGINS = [
    o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "accounts",
    "sessions_mgmt",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.security_headers.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "sessions_mgmt.middleware.DeviceSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

WSGI_APPLICATION = "config.wsgi.application"

# DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/test; SQLite when unset.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{os.environ.get('SQLITE_PATH', BASE_DIR / 'db.sqlite3')}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}

# REDIS_URL, e.g. redis://127.0.0.1:6379/0: Django's own RedisCache (redis-py + hiredis);
# a local-memory cache when unset.
REDIS_URL = os.environ.get("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "sessions-mgmt-demo"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Any Django session engine path; the database engine when unset.
SESSION_ENGINE = os.environ.get("SESSION_ENGINE", "django.contrib.sessions.backends.db")
if SESSION_ENGINE.endswith(".file"):
    SESSION_FILE_PATH = os.environ.get("SESSION_FILE_PATH") or None

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Safe cookies whenever the demo is not in DEBUG (it is served over HTTPS then).
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not DEBUG
if SESSION_COOKIE_SECURE:  # over HTTPS: this host's alone (see sessions_mgmt.I001)
    SESSION_COOKIE_NAME = "__Host-sessionid"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# HTTPS, from the environment: redirect plain HTTP (on by default with DEBUG off), HSTS
# (off until you set its lifetime: a browser remembers it), and the header a TLS-ending
# proxy sets, e.g. DJANGO_SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https".
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
if os.environ.get("DJANGO_SECURE_PROXY_SSL_HEADER"):
    _header, _value = os.environ["DJANGO_SECURE_PROXY_SSL_HEADER"].split(",", 1)
    SECURE_PROXY_SSL_HEADER = (_header.strip(), _value.strip())

# Behind proxies, which of them to believe about the client's address (X-Forwarded-For):
# SESSIONS_MGMT_PROXY_COUNT=1 for one proxy in front (nginx, a load balancer), or
# SESSIONS_MGMT_TRUSTED_PROXIES=10.0.0.2,10.0.0.3 for the proxies' own addresses. Unset,
# only the socket's peer is believed (sessions_mgmt.W008 warns when a TLS proxy is set).
if os.environ.get("SESSIONS_MGMT_PROXY_COUNT"):
    SESSIONS_MGMT_CLIENT_IP = {"proxy_count": int(os.environ["SESSIONS_MGMT_PROXY_COUNT"])}
elif os.environ.get("SESSIONS_MGMT_TRUSTED_PROXIES"):
    SESSIONS_MGMT_CLIENT_IP = {
        "proxy_trusted_ips": [
            ip.strip() for ip in os.environ["SESSIONS_MGMT_TRUSTED_PROXIES"].split(",") if ip
        ]
    }

# Where the new-device alert's links point, e.g. https://accounts.example.com (else the
# signing-in request's own host: see sessions_mgmt.W006).
SESSIONS_MGMT_SITE_URL = os.environ.get("DJANGO_SITE_URL") or None

# A limit on concurrent sessions per account, e.g. SESSIONS_MGMT_MAX_SESSIONS=5 and
# SESSIONS_MGMT_LIMIT_POLICY=deny_new (or end_oldest, the default); none when unset.
if os.environ.get("SESSIONS_MGMT_MAX_SESSIONS"):
    SESSIONS_MGMT_MAX_SESSIONS = int(os.environ["SESSIONS_MGMT_MAX_SESSIONS"])
SESSIONS_MGMT_LIMIT_POLICY = os.environ.get("SESSIONS_MGMT_LIMIT_POLICY", "end_oldest")

# Device-bound sessions (DBSC: a copied session cookie stops working on any other device).
# Off unless SESSIONS_MGMT_DEVICE_BOUND=true; browsers only use it over HTTPS.
SESSIONS_MGMT_DEVICE_BOUND = env_bool("SESSIONS_MGMT_DEVICE_BOUND", False)
SESSIONS_MGMT_DEVICE_BOUND_REFUSED = os.environ.get(
    "SESSIONS_MGMT_DEVICE_BOUND_REFUSED", "anonymous"
)

# New-device alerts go to the console in the demo (Django 6.1 configures mail as MAILERS).
_MAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
if django.VERSION >= (6, 1):
    MAILERS = {"default": {"BACKEND": _MAIL_BACKEND}}
else:
    EMAIL_BACKEND = _MAIL_BACKEND
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "sessions-mgmt-demo@localhost")

# Django's ModelBackend, with wrong passwords counted and limited (sessions_mgmt.throttle).
AUTHENTICATION_BACKENDS = ["sessions_mgmt.backends.ThrottledModelBackend"]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "sessions_mgmt:device_list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
