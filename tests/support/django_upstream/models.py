"""The one model the admin lists."""

from __future__ import annotations

from django.db import models


class Book(models.Model):
    title = models.CharField(max_length=200)
    year = models.PositiveIntegerField()

    class Meta:
        ordering = ("-id",)  # the newest first, so a saved book is on the first page

    def __str__(self) -> str:
        return self.title
