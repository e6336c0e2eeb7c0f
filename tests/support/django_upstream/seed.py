"""`python -m tests.support.django_upstream.seed`: create the tables, a superuser and 23
books in DJANGO_UPSTREAM_DIR's database."""

from __future__ import annotations

import os

USERNAME = "admin"
PASSWORD = "correct horse battery staple"
BOOKS = 23


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.support.django_upstream.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from tests.support.django_upstream.models import Book

    call_command("migrate", run_syncdb=True, verbosity=0)
    get_user_model().objects.create_superuser(USERNAME, "admin@example.org", PASSWORD)
    Book.objects.bulk_create(Book(title=f"Book {n:02d}", year=2000 + n)
                             for n in range(1, BOOKS + 1))


if __name__ == "__main__":
    main()
