"""The ASGI application uvicorn serves; static files (the admin's CSS and JavaScript) come
from the installed apps, as `runserver` would serve them."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.support.django_upstream.settings")

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

application = ASGIStaticFilesHandler(get_asgi_application())
