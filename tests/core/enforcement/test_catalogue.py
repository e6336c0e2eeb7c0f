"""The tracker catalogue as values (gateway/core/enforcement/catalogue.py): a service's rules,
the checks on the file, and how a site's own rules extend and override it."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.core.enforcement.catalogue import (
    Catalogue,
    CatalogueError,
    TrackerService,
    merged_rules,
    parse_catalogue,
)
from gateway.core.enforcement.rules import BlockRule, BlockRules
from gateway.core.types import Category


def service(**fields: Any) -> dict[str, Any]:
    return {"id": "hotjar", "name": "Hotjar", "vendor": "Hotjar Ltd.", "category": "analytics",
            "hosts": ["hotjar.com", "hotjar.io"], "markers": ["_hjSettings"],
            "source": "https://help.hotjar.com/install", **fields}


HOTJAR = parse_catalogue({"service": [service()]})
MAPS = service(id="google-maps", name="Google Maps", category="marketing",
               hosts=["maps.googleapis.com"], urls=["www.google.com/maps/embed*"],
               markers=["google.maps.Map("])
MATOMO = service(id="matomo", name="Matomo", hosts=[], paths=["*/matomo.js"],
                 markers=["_paq.push("])


def category(url: str, rules: BlockRules) -> Category | None:
    found = rules.match(url)
    return found[0].category if found else None


def test_a_service_is_read_with_all_its_fields() -> None:
    found = parse_catalogue({"service": [service(cookies=["_hj*"], shared_host=True)]})
    assert found.services == (TrackerService(
        id="hotjar", name="Hotjar", vendor="Hotjar Ltd.", category="analytics",
        source="https://help.hotjar.com/install", hosts=("hotjar.com", "hotjar.io"),
        markers=("_hjSettings",), cookies=("_hj*",), shared_host=True,
    ),)
    assert found.service("hotjar") is found.services[0]
    assert found.service("nothing") is None


def test_a_service_gives_one_rule_a_host_and_its_urls_paths_and_markers_once() -> None:
    rules = parse_catalogue({"service": [MAPS, MATOMO]}).block_rules()
    assert rules == (
        BlockRule("maps.googleapis.com", "marketing", ("google.maps.Map(",),
                  ("www.google.com/maps/embed*",), (), "Google Maps"),
        BlockRule("", "analytics", ("_paq.push(",), (), ("*/matomo.js",), "Matomo"),
    )


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        (service(category="tracking"), "service[hotjar]: category must be one of"),
        (service(id="Hot Jar"), "is not a lower-case slug"),
        (service(source="http://hotjar.com"), "source must be an https:// URL"),
        (service(hosts=[], markers=[]), "needs at least one of hosts, urls, paths, markers"),
        (service(hosts=["https://hotjar.com"]), "is not a lower-case host name or glob"),
        (service(urls=["https://www.google.com/maps"]), "is not host/path (no scheme)"),
        (service(paths=["matomo.js"]), "must start with / or *"),
        (service(markers="_hjSettings"), "markers must be a list of non-empty strings"),
        (service(markers=[""]), "markers must be a list of non-empty strings"),
        (service(colour="red"), "unknown key 'colour'"),
        (service(vendor=""), "vendor is missing or empty"),
        (service(shared_host="yes"), "shared_host must be true or false"),
    ],
)
def test_every_problem_of_a_service_is_named(table: dict[str, Any], problem: str) -> None:
    with pytest.raises(CatalogueError) as raised:
        parse_catalogue({"service": [table]})
    assert any(problem in p for p in raised.value.problems), raised.value.problems


def test_problems_of_several_services_are_named_at_once() -> None:
    with pytest.raises(CatalogueError) as raised:
        parse_catalogue({"service": [service(), service(), service(id="x", category="?")],
                         "extra": 1})
    assert sorted(raised.value.problems) == [
        "service id 'hotjar' is used twice",
        "service[x]: category must be one of necessary, preferences, analytics, marketing",
        "unknown top-level key(s) extra",
    ]


def test_without_the_catalogue_only_the_sites_own_rules_count() -> None:
    rules = merged_rules(None, [BlockRule("stats.example", "analytics")])
    assert category("https://stats.example/s.js", rules) == "analytics"
    assert category("https://static.hotjar.com/c/hotjar-1.js", rules) is None
    assert not merged_rules(None, [])


def test_own_rules_extend_the_catalogue() -> None:
    rules = merged_rules(HOTJAR, [BlockRule("stats.example", "analytics")])
    assert category("https://stats.example/s.js", rules) == "analytics"
    assert category("https://static.hotjar.com/c/hotjar-1.js", rules) == "analytics"


def test_an_own_rule_for_a_subdomain_overrides_only_that_subdomain() -> None:
    rules = merged_rules(HOTJAR, [BlockRule("static.hotjar.com", "marketing")])
    assert category("https://static.hotjar.com/c/hotjar-1.js", rules) == "marketing"
    assert category("https://script.hotjar.com/modules.js", rules) == "analytics"
    assert rules.marker_categories(b"h._hjSettings={}", frozenset({"analytics"})) == ["analytics"]


def test_an_own_rule_naming_a_services_host_moves_the_whole_service() -> None:
    catalogue = parse_catalogue({"service": [service(), MAPS]})
    rules = merged_rules(catalogue, [BlockRule("hotjar.com", "necessary")])
    assert category("https://static.hotjar.com/c/hotjar-1.js", rules) == "necessary"
    assert category("https://vars.hotjar.io/x", rules) == "necessary"  # its other host
    assert rules.marker_categories(b"h._hjSettings={}", frozenset({"analytics"})) == []
    assert category("https://www.google.com/maps/embed?pb=1", rules) == "marketing"


def test_an_empty_catalogue_is_no_rules() -> None:
    assert not merged_rules(Catalogue(()), [])
