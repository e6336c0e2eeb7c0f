"""The cookie inventory for a site owner (gateway/core/enforcement/inventory_report.py): the
terminal table and the `[[cookies]]` rules of `consent-gateway cookies [--toml]`."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from fnmatch import fnmatchcase

from gateway.core.config.sites import CookieRule
from gateway.core.enforcement.cookies import Classification, SeenCookie
from gateway.core.enforcement.inventory_report import cookie_rules_toml, inventory_table

FIRST, LAST = datetime(2026, 10, 2, tzinfo=UTC), datetime(2026, 11, 14, tzinfo=UTC)
FACTS = {
    "PHPSESSID": Classification("necessary", "database", "PHPSESSID", "PHP.net",
                                "PHP session", "session"),
    "_hjSessionUser_1": Classification("analytics", "catalogue", "_hj*", "Hotjar",
                                       "Hotjar user id", "365 days"),
    "_hjSession_1": Classification("analytics", "catalogue", "_hj*", "Hotjar"),
    "lang": Classification("preferences", "rule", "lang"),
    "ab_variant": Classification(None, "unknown"),
}


def seen(name: str, category: str = "necessary", **extra: str) -> SeenCookie:
    return SeenCookie("demo", name, category, FIRST, LAST, 12, "/", "", False,
                      **extra)  # type: ignore[arg-type]


COOKIES = [seen("PHPSESSID", source="database"),
           seen("_hjSessionUser_1", "analytics", source="catalogue", set_by="script"),
           seen("_hjSession_1", "analytics", source="catalogue", set_by="script"),
           seen("lang", "preferences"), seen("ab_variant", "unknown", source="unknown")]


def test_the_table_has_a_line_per_cookie_with_category_source_and_platform() -> None:
    lines = inventory_table(COOKIES, FACTS).splitlines()
    assert lines[0].split() == ["site", "cookie", "category", "source", "set", "by",
                                "platform", "first", "seen", "last", "seen", "count"]
    assert lines[1].split() == ["demo", "PHPSESSID", "necessary", "database", "server",
                                "PHP.net", "2026-10-02", "2026-11-14", "12"]
    assert lines[2].split()[:6] == ["demo", "_hjSessionUser_1", "analytics", "catalogue",
                                    "script", "Hotjar"]
    assert len(lines) == 1 + len(COOKIES)


def test_the_rules_parse_as_toml_and_pin_todays_categories() -> None:
    text = cookie_rules_toml(COOKIES, FACTS)
    rules = [CookieRule(**rule) for rule in tomllib.loads(text)["cookies"]]
    assert [(r.pattern, r.category) for r in rules] == [
        ("PHPSESSID", "necessary"), ("_hj*", "analytics")]  # one rule for both Hotjar names
    assert "# Already classified by your [[cookies]] rules: lang." in text
    assert "# _hjSessionUser_1, _hjSession_1: Hotjar, tracker catalogue, 365 days." in text
    assert "# PHPSESSID: PHP.net, cookie database, session.\n# PHP session\n" in text


def test_an_unknown_cookie_gets_a_commented_out_rule_to_fill_in() -> None:
    text = cookie_rules_toml(COOKIES, FACTS)
    assert '# [[cookies]]\n# pattern = "ab_variant"\n# category = ""' in text
    assert {"pattern": "ab_variant", "category": ""} in uncommented(text)["cookies"]


def uncommented(text: str) -> dict[str, object]:
    """The document with the commented-out rules put back, as a site owner would."""
    rule_lines = ("# [[cookies]]", "# pattern = ", "# category = ")
    return tomllib.loads("\n".join(line.removeprefix("# ") if line.startswith(rule_lines)
                                   else line for line in text.splitlines()))


def test_hostile_names_cannot_break_out_of_a_comment_a_string_or_a_glob() -> None:
    names = ['evil\n[server]\nport = 1', 'q"uote\\', "st*r?[x]", "\x1b[31mred"]
    cookies = [seen(name, "unknown", source="unknown") for name in names]
    text = cookie_rules_toml(cookies, {})
    document = uncommented(text)
    patterns = [rule["pattern"] for rule in document["cookies"]]  # type: ignore[attr-defined]
    assert set(document) == {"cookies"}
    assert all(fnmatchcase(name, p) for name, p in zip(sorted(names), patterns, strict=True))
    assert not fnmatchcase("stXrY[x]", patterns[sorted(names).index("st*r?[x]")])
    assert "\x1b" not in text and "\x1b" not in inventory_table(cookies, {})


def test_an_empty_inventory_prints_nothing_but_the_header() -> None:
    assert inventory_table([], {}) == ""
    assert tomllib.loads(cookie_rules_toml([], {})) == {}
