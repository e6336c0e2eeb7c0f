"""Books in the admin, five to a page."""

from __future__ import annotations

from django.contrib import admin

from tests.support.django_upstream.models import Book


@admin.register(Book)
class BookAdmin(admin.ModelAdmin):
    list_display = ("title", "year")
    list_per_page = 5
    search_fields = ("title",)
