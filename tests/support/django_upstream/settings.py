"""Settings of the Django upstream, close to a production deployment's: DEBUG off and an
ALLOWED_HOSTS list naming only the public host, so a request that reaches Django with any
other Host (the upstream's own address, say) is answered 400."""

from __future__ import annotations

import os
from pathlib import Path

DATA = Path(os.environ["DJANGO_UPSTREAM_DIR"])

SECRET_KEY = "django-upstream-test-key-0123456789-abcdefghijklmnopqrstuvwxyz"
DEBUG = False
ALLOWED_HOSTS = os.environ.get("DJANGO_UPSTREAM_ALLOWED_HOSTS", "localhost").split(",")
USE_X_FORWARDED_HOST = False  # the default: Django reads Host, nothing else

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "tests.support.django_upstream",
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
ROOT_URLCONF = "tests.support.django_upstream.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA / "db.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Django's advice for tests: a fast hasher instead of 1,000,000 rounds of PBKDF2.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STATIC_URL = "/static/"
USE_TZ = True
LANGUAGE_CODE = "en-us"
# Refused hosts, CSRF failures and errors go to the server's output, which the test shows.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {name: {"handlers": ["console"], "level": "WARNING"}
                for name in ("django.request", "django.security")},
}
