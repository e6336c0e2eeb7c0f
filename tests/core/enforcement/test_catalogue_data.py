"""The tracker catalogue's data (gateway/adapters/catalogue/trackers.toml): well-formed,
sourced, specific enough not to hit first-party pages, and covering the services the
"nothing tracks before consent" issue names. Only the file is read; matching is tested with
the code that does it."""

from __future__ import annotations

import itertools
import re
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

CATALOGUE = (
    Path(__file__).resolve().parents[3] / "gateway" / "adapters" / "catalogue" / "trackers.toml"
)
CATEGORIES = {"necessary", "preferences", "analytics", "marketing"}
KEYS = {
    "id", "name", "vendor", "category", "hosts", "paths", "urls", "markers", "cookies",
    "source", "shared_host",
}
# The services the issue (and its brief) say must be covered, by id.
REQUIRED = {
    "google-analytics", "google-tag-manager", "google-ads", "google-adsense", "google-maps",
    "google-recaptcha", "youtube", "meta-pixel", "facebook-social", "instagram-embed",
    "linkedin-insight", "microsoft-clarity", "microsoft-uet", "tiktok-pixel", "tiktok-embed",
    "pinterest-tag", "x-pixel", "x-embed", "snap-pixel", "reddit-pixel", "hubspot", "hotjar",
    "mouseflow", "crazy-egg", "matomo", "matomo-tag-manager", "plausible", "umami",
    "yandex-metrica", "criteo", "taboola", "outbrain", "adform", "vimeo", "spotify",
    "soundcloud", "intercom", "zendesk", "drift", "mailchimp", "calendly", "typeform",
    "disqus", "addthis", "sharethis",
}

SERVICES: list[dict[str, Any]] = tomllib.loads(CATALOGUE.read_text("utf-8"))["service"]


def _by_id(service_id: str) -> dict[str, Any]:
    return next(s for s in SERVICES if s["id"] == service_id)


def _domain(host: str) -> str:
    return host.lower().removeprefix("*.")


def test_size_and_unique_ids() -> None:
    ids = [s["id"] for s in SERVICES]
    assert len(ids) >= 60
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", i) for i in ids)


def test_required_services_present() -> None:
    missing = REQUIRED - {s["id"] for s in SERVICES}
    assert not missing


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s["id"])
def test_entry_is_well_formed(service: dict[str, Any]) -> None:
    assert set(service) <= KEYS, set(service) - KEYS
    assert service["name"] and service["vendor"]
    assert service["category"] in CATEGORIES
    assert service["source"].startswith("https://")
    assert service.get("hosts") or service.get("paths") or service.get("urls")
    for host in service.get("hosts", []):
        assert re.fullmatch(r"(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)+", host), host
    for url in service.get("urls", []):
        assert "/" in url and "://" not in url and url == url.strip(), url
    for path in service.get("paths", []):
        assert path.startswith("*/") and "." in path.rsplit("/", 1)[-1], path
    for cookie in service.get("cookies", []):
        assert cookie and "*" not in cookie[:-1] and cookie != "*", cookie


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s["id"])
def test_markers_are_specific(service: dict[str, Any]) -> None:
    for marker in service.get("markers", []):
        assert len(marker) >= 6, marker
        # Plain words and prose ("clarity", "Analytics", "load the map") occur in ordinary
        # pages; an identifier must at least be camelCase or carry punctuation or digits.
        words = re.fullmatch(r"[A-Za-z ]+", marker) is not None
        prose = words and (" " in marker or marker.islower() or marker.istitle())
        assert not prose, marker


def test_no_host_is_claimed_twice() -> None:
    """A host (or a subdomain of one) listed by two services needs `shared_host = true`."""
    clashes = []
    for a, b in itertools.combinations(SERVICES, 2):
        if a.get("shared_host") or b.get("shared_host"):
            continue
        hosts_a, hosts_b = map(_domain, a.get("hosts", [])), map(_domain, b.get("hosts", []))
        for ha, hb in itertools.product(hosts_a, hosts_b):
            if ha == hb or ha.endswith("." + hb) or hb.endswith("." + ha):
                clashes.append((a["id"], ha, b["id"], hb))
    assert not clashes


@pytest.mark.parametrize(
    ("url", "service_id"),
    [
        ("www.google.com/maps/embed?pb=!1m18", "google-maps"),
        ("www.googletagmanager.com/gtag/js?id=AW-123", "google-ads"),
        ("www.googletagmanager.com/gtag/js?id=G-ABC", "google-analytics"),
        ("www.facebook.com/tr?id=1&ev=PageView&noscript=1", "meta-pixel"),
        ("connect.facebook.net/en_US/sdk.js", "facebook-social"),
    ],
)
def test_urls_cover_the_shared_hosts(url: str, service_id: str) -> None:
    assert any(fnmatchcase(url, pattern) for pattern in _by_id(service_id)["urls"])


@pytest.mark.parametrize(
    ("path", "service_id", "matches"),
    [
        ("/stats/matomo.js", "matomo", True),
        ("/piwik.php", "matomo", True),
        ("/js/container_aB3dE5gH.js", "matomo-tag-manager", True),
        ("/js/container_queries.js", "matomo-tag-manager", False),
        ("/js/plausible.outbound-links.js", "plausible", True),
        ("/js/script.hash.outbound-links.js", "plausible", True),
        ("/js/script.js", "plausible", False),
        ("/js/script.min.js", "plausible", False),
        ("/umami.js", "umami", True),
    ],
)
def test_self_hosted_paths(path: str, service_id: str, matches: bool) -> None:
    assert any(fnmatchcase(path, p) for p in _by_id(service_id)["paths"]) is matches
