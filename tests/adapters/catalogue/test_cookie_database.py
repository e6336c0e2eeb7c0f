"""The known-cookie data shipped in the package (gateway/adapters/catalogue/cookie_database.py):
the Open Cookie Database with its licence, the gateway's framework cookies, and the tracker
catalogue's cookie names, read through importlib.resources."""

from __future__ import annotations

import csv
import hashlib
import tomllib
from collections import Counter
from importlib.resources import files

import pytest

from gateway.adapters.catalogue.cookie_database import (
    FRAMEWORK_COOKIES,
    OPEN_COOKIE_DATABASE,
    cookie_database,
    tracker_cookies,
)
from gateway.core.enforcement.cookies import CookieClassifier
from gateway.core.enforcement.knowncookies import OCD_CATEGORIES

PACKAGE = files("gateway.adapters.catalogue")
OCD_DIR = PACKAGE / OPEN_COOKIE_DATABASE[0]


def classifier() -> CookieClassifier:
    return CookieClassifier((), catalogue=tracker_cookies(), database=cookie_database())


def test_the_database_ships_with_its_licence_and_a_readme_naming_its_origin() -> None:
    licence = (OCD_DIR / "LICENSE").read_text(encoding="utf-8")
    readme = (OCD_DIR / "README.md").read_text(encoding="utf-8")
    assert "Apache License" in licence and "Version 2.0" in licence
    for fact in ("jkwakman/Open-Cookie-Database", "0ee5a17", "2026-01-21", "Apache-2.0"):
        assert fact in readme


def test_the_csv_is_shipped_as_published() -> None:
    data = (OCD_DIR / OPEN_COOKIE_DATABASE[1]).read_bytes()
    readme = (OCD_DIR / "README.md").read_text(encoding="utf-8")
    assert hashlib.sha256(data).hexdigest() in readme
    rows = list(csv.DictReader(data.decode("utf-8").splitlines()))
    assert len(rows) == 2264
    assert set(Counter(row["Category"] for row in rows)) == set(OCD_CATEGORIES)


def test_every_row_with_a_name_is_loaded_but_short_third_party_prefixes() -> None:
    names = {(entry.name, entry.prefix) for entry in cookie_database()}
    assert len(names) > 2200
    assert ("_ga_", True) in names and ("PHPSESSID", False) in names
    assert ("_s", True) not in names  # Marfeel's, on events.newsroom.bi


def test_every_framework_cookie_names_its_documentation() -> None:
    entries = tomllib.loads((PACKAGE / FRAMEWORK_COOKIES).read_text(encoding="utf-8"))["cookie"]
    assert len(entries) >= 15
    for entry in entries:
        assert entry["source"].startswith("https://"), entry["name"]
        assert entry["category"] == "necessary", entry["name"]
        assert entry["description"] and entry["retention"] and entry["platform"]


@pytest.mark.parametrize(("name", "platform"), [
    ("PHPSESSID", "PHP.net"), ("JSESSIONID", "J2EE"), ("laravel_session", "Laravel"),
    ("XSRF-TOKEN", ""), ("wordpress_logged_in_5f4dcc3b", "WordPress"),
    ("csrftoken", "Django"), ("sessionid", "Django"), ("connect.sid", "Express (express-session)"),
    ("SSESS3a4b5c", "Drupal"), (".AspNetCore.Session", "ASP.NET Core"),
    ("ASP.NET_SessionId", "ASP.net"),
])
def test_common_session_and_csrf_cookies_are_necessary(name: str, platform: str) -> None:
    found = classifier().classify(name)
    assert (found.category, found.source, found.platform) == ("necessary", "database", platform)


@pytest.mark.parametrize(("name", "category"), [
    ("_hjSessionUser_123", "analytics"), ("_ga_ABC", "analytics"), ("_ga", "analytics"),
    ("_fbp", "marketing"), ("li_fat_id", "marketing"),
])
def test_tracker_cookies_get_the_catalogues_category(name: str, category: str) -> None:
    found = classifier().classify(name)
    assert (found.category, found.source) == (category, "catalogue")


def test_a_sites_own_generic_names_are_not_taken_for_a_trackers() -> None:
    for name in ("_session_id", "captcha_token", "ab_variant", "theme"):
        assert classifier().classify(name).source == "unknown", name


def test_the_data_is_read_once_per_process() -> None:
    assert cookie_database() is cookie_database()
    assert tracker_cookies() is tracker_cookies()
