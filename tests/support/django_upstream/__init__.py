"""A minimal Django project whose admin (django.contrib.admin, from PyPI) stands behind the
gateway in `tests/system/test_real_application.py`: sessions, a log-in, CSRF-protected
forms, redirects after POST and a paginated change list. `server.py` starts it."""
