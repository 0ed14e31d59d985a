"""Django settings of the review desk. The case store comes from ``$SALES_AUDIT_CASES`` (a database URL:
``sqlite:///path/cases.sqlite3`` or ``postgresql://user@host/db``), set by :func:`desk.setup`."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from desk.store import database_settings

BASE_DIR = Path(__file__).resolve().parent
CASES_URL = os.environ.get("SALES_AUDIT_CASES", "sqlite:///cases.sqlite3")
DATABASES = {"default": database_settings(CASES_URL)}


def _secret_key() -> str:
    """Signs sessions and CSRF tokens: ``$SALES_AUDIT_SECRET_KEY``, else a random key kept (mode 0600) in
    ``~/.sales-audit/desk-secret-key`` so that sessions survive a restart."""
    if os.environ.get("SALES_AUDIT_SECRET_KEY"):
        return os.environ["SALES_AUDIT_SECRET_KEY"]
    path = Path(os.environ.get("SALES_AUDIT_HOME", Path.home() / ".sales-audit")) / "desk-secret-key"
    try:
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(key)
        return key
    except FileExistsError:  # another process wrote it first
        return path.read_text(encoding="utf-8").strip()
    except OSError:  # a read-only home: sessions last as long as the process
        return secrets.token_urlsafe(50)


SECRET_KEY = _secret_key()
DEBUG = False
# `audit serve` binds to one address; the Host header is not used to build links.
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "rest_framework.authtoken",
    "desk.apps.DeskConfig",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "desk.urls"
WSGI_APPLICATION = "desk.wsgi.application"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The throttle's counts of failed logins live in the process (one `audit serve` process).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
}
# Failed logins per username (API and browser) before each further attempt waits.
LOGIN_FAILURES_ALLOWED = 5
LOGIN_FAILURE_WINDOW_SECONDS = 300
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "handlers": {"null": {"class": "logging.NullHandler"}},
           "loggers": {"django.request": {"handlers": ["null"], "propagate": False}}}
