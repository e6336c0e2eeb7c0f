"""Block rules (gateway/core/enforcement/rules.py): which rule a URL falls under, which
categories an inline script's markers name, and when a tag cannot match at all."""

from __future__ import annotations

import pytest

from gateway.core.enforcement.rules import BlockRule, BlockRules, marker_pattern, url_parts
from gateway.core.types import Category

GOOGLE = (
    BlockRule("google.com", "marketing", service="Google"),
    BlockRule("", "necessary", urls=("www.google.com/recaptcha/*",), service="reCAPTCHA"),
    BlockRule("", "marketing", urls=("www.google.com/maps/embed*",), service="Maps"),
    BlockRule("", "analytics", urls=("www.googletagmanager.com/gtag/js?id=G-*",)),
    BlockRule("googletagmanager.com", "marketing"),
    BlockRule("ads.example.com", "analytics"),
    BlockRule("*.cdn-tracker.net", "marketing"),
    BlockRule("", "analytics", paths=("*/matomo.js", "*/container_????????.js")),
)


def category(url: str, rules: BlockRules) -> Category | None:
    found = rules.match(url)
    return found[0].category if found else None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.google.com/recaptcha/api.js", "necessary"),  # a URL glob beats the host
        ("https://www.google.com/maps/embed?pb=!1m18", "marketing"),
        ("https://www.google.com/search?q=x", "marketing"),  # the host rule
        ("https://www.googletagmanager.com/gtag/js?id=G-ABC123", "analytics"),
        ("https://www.googletagmanager.com/gtag/js?id=AW-1", "marketing"),
        ("https://www.googletagmanager.com/gtm.js?id=GTM-1", "marketing"),
        ("https://x.ads.example.com/p.gif", "analytics"),  # the longest host wins
        ("https://a.b.cdn-tracker.net/x.js", "marketing"),
        ("https://cdn-tracker.net/x.js", None),  # a glob `*.` needs a label before it
        ("/stats/matomo.js", "analytics"),  # a path on the site's own host
        ("https://stats.example.org/piwik/MATOMO.JS?v=1", "analytics"),
        ("/js/container_AbCd1234.js", "analytics"),
        ("/js/container_AbCd12345.js", None),  # `?` is one character
        ("/js/matomo.json", None),
        ("data:text/javascript,x", None),
        ("javascript:void(0)", None),
        ("https:www.google.com/maps/embed", "marketing"),  # no slashes: the host still counts
    ],
)
def test_the_most_specific_rule_decides(url: str, expected: Category | None) -> None:
    assert category(url, BlockRules(GOOGLE)) == expected


def test_overrides_come_before_every_other_rule() -> None:
    rules = BlockRules(GOOGLE, overrides=[BlockRule("google.com", "necessary")])
    assert category("https://www.google.com/maps/embed?pb=1", rules) == "necessary"
    assert category("https://www.googletagmanager.com/gtm.js", rules) == "marketing"


def test_the_first_of_two_rules_for_one_host_wins() -> None:
    rules = BlockRules([BlockRule("a.example", "analytics"), BlockRule("a.example", "marketing")])
    assert category("https://a.example/x", rules) == "analytics"


def test_match_names_the_host_or_nothing_for_a_relative_url() -> None:
    rules = BlockRules(GOOGLE)
    assert rules.match("//WWW.Google.COM./maps/embed?x")[1] == "www.google.com"  # type: ignore[index]
    assert rules.match("/a/matomo.js")[1] == ""  # type: ignore[index]


def test_url_parts_lower_case_and_split_the_query() -> None:
    parts = url_parts(" https://Stats.Example/JS/Tracker.js?ID=Abc#frag ")
    assert parts is not None
    assert (parts.host, parts.path, parts.query) == ("stats.example", "/js/tracker.js", "id=abc")
    assert url_parts("js/x.js") == url_parts("/js/x.js")


def test_markers_name_every_blocked_category_they_find_in_category_order() -> None:
    rules = BlockRules([BlockRule("", "marketing", markers=("fbq(",)),
                        BlockRule("", "analytics", markers=("gtag(", "_paq.push"))])
    both = frozenset({"analytics", "marketing"})
    assert rules.marker_categories(b"fbq('x'); gtag('y')", both) == ["analytics", "marketing"]
    assert rules.marker_categories(b"fbq('x'); gtag('y')", frozenset({"marketing"})) \
        == ["marketing"]
    assert rules.marker_categories(b"omega_paq.push(1)", both) == []


def test_a_marker_named_by_two_rules_belongs_to_the_first() -> None:
    rules = BlockRules([BlockRule("", "analytics", markers=("gtag(",))],
                       overrides=[BlockRule("", "marketing", markers=("gtag(",))])
    everything = frozenset({"analytics", "marketing"})
    assert rules.marker_categories(b"gtag('js')", everything) == ["marketing"]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (b"ga('send')", [b"ga("]),
        (b"omega('send')", []),
        (b"x.ga(1)", [b"ga("]),
        (b"gtag('js')", [b"gtag("]),
        (b"$gt(1); 'gtm.start'", [b"'gtm.start'"]),
        (b"_paq.push([]); a_paq.push([])", [b"_paq.push"]),
        (b"gt", [b"gt"]),
    ],
)
def test_the_marker_trie_finds_markers_only_where_identifiers_start(
    text: bytes, found: list[bytes]
) -> None:
    pattern = marker_pattern(["ga(", "gtag(", "gt", "'gtm.start'", "_paq.push"])
    assert pattern is not None
    assert [m.group() for m in pattern.finditer(text)] == found


def test_marker_pattern_of_nothing_is_none() -> None:
    assert marker_pattern([]) is None


@pytest.mark.parametrize(
    ("tag", "may"),
    [
        (b'<img src="/img/a.webp" alt="A" loading="lazy">', False),
        (b'<img src="//cdn.example/a.webp">', True),
        (b'<img src="HTTPS:cdn.example/a.webp">', True),
        (b'<img src="&#47;&#47;cdn.example/a.webp">', True),  # a reference may hide a host
        (b'<img src="\\\\cdn.example\\a.webp">', True),
        (b'<script src="/stats/Matomo.js"></script>', True),  # a path rule's literal part
        (b'<script src="/stats/container_x.js"></script>', True),
        (b'<link rel="stylesheet" href="/css/site.css">', False),
    ],
)
def test_may_match_rules_out_only_tags_no_rule_can_match(tag: bytes, may: bool) -> None:
    assert BlockRules(GOOGLE).may_match(tag) is may


def test_no_rules_are_false() -> None:
    assert not BlockRules([])
    assert BlockRules([], overrides=[BlockRule("a.example", "analytics")])


def test_path_globs_are_tried_in_one_regex_first_rule_first() -> None:
    rules = BlockRules([
        BlockRule("", "analytics", paths=("*/a/*.js",)),
        BlockRule("", "marketing", paths=("*/a/b.js", "*/c.js")),
    ])
    assert [rule.category for rule, _ in filter(None, (
        rules.match("/x/a/b.js"), rules.match("/c.js"), rules.match("/A/Q.JS")))] == [
        "analytics", "marketing", "analytics"]
    assert rules.match("/b.js") is None


def test_url_verdicts_are_remembered_within_a_bound() -> None:
    from gateway.core.enforcement import rules as module

    rules = BlockRules(GOOGLE)
    first = rules.match("https://www.googletagmanager.com/gtm.js")
    assert rules.match("https://www.googletagmanager.com/gtm.js") == first is not None
    for i in range(module._MATCH_CACHE + 10):
        rules.match(f"/local/{i}.js")
    rules.match("//x.example/" + "a" * module._CACHED_URL_LENGTH)
    assert len(rules._matched) <= module._MATCH_CACHE
    assert not any(len(url) > module._CACHED_URL_LENGTH for url in rules._matched)
