"""The admin, and /echo/: what the request looked like when it reached Django."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import path

SEEN = ("HTTP_HOST", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
        "HTTP_FORWARDED")


def echo(request: HttpRequest) -> JsonResponse:
    return JsonResponse({
        **{name: request.META.get(name) for name in SEEN},
        "absolute_uri": request.build_absolute_uri("/admin/"),
    })


urlpatterns = [
    path("admin/", admin.site.urls),
    path("echo/", echo),
]
