"""Known cookies (gateway/core/enforcement/knowncookies.py): reading the Open Cookie
Database's CSV and the gateway's own entries, and looking names up by exact name or prefix."""

from __future__ import annotations

import pytest

from gateway.core.enforcement.knowncookies import (
    KnownCookie,
    NameTable,
    parse_known_cookies,
    parse_open_cookie_database,
)

HEADER = ("ID,Platform,Category,Cookie / Data Key name,Domain,Description,Retention period,"
          "Data Controller,User Privacy & GDPR Rights Portals,Wildcard match\n")


def csv(*rows: str) -> str:
    return HEADER + "".join(row + "\n" for row in rows)


def by_name(entries: list[KnownCookie]) -> dict[str, KnownCookie]:
    return {entry.pattern: entry for entry in entries}


@pytest.mark.parametrize(("ocd", "ours"), [
    ("Functional", "necessary"), ("Necessary", "necessary"), ("Security", "necessary"),
    ("Personalization", "preferences"), ("Analytics", "analytics"),
    ("Marketing", "marketing"),
])
def test_the_databases_categories_map_to_ours(ocd: str, ours: str) -> None:
    [entry] = parse_open_cookie_database(csv(f"1,Acme,{ocd},acme_id,,An id,1 year,Acme,,0"))
    assert entry.category == ours


def test_a_wildcard_row_is_a_prefix_and_keeps_platform_description_and_retention() -> None:
    [entry] = parse_open_cookie_database(csv(
        '1,Hotjar,Functional,_hjSessionUser_,,"Persists the\n  Hotjar user id",365 days,'
        "Hotjar,,1"))
    assert entry == KnownCookie("_hjSessionUser_", "necessary", prefix=True, platform="Hotjar",
                                description="Persists the Hotjar user id",
                                retention="365 days")
    assert entry.pattern == "_hjSessionUser_*"


def test_rows_without_a_name_or_with_another_category_are_left_out() -> None:
    assert parse_open_cookie_database(csv(
        "1,Acme,Functional,,,No name,1 year,Acme,,0",
        "2,Acme,Tracking,acme_t,,Unknown category,1 year,Acme,,0",
    )) == []


def test_short_prefixes_on_another_partys_domain_are_left_out() -> None:
    entries = by_name(parse_open_cookie_database(csv(
        "1,Marfeel,Analytics,_s,events.newsroom.bi,Session,30 minutes,Marfeel,,1",
        "2,Mixpanel,Analytics,mp_,,Mixpanel id,1 year,Mixpanel,,1",
        "3,Yandex,Analytics,_ym_visorc_,.yandex.ru,Visor,30 minutes,Yandex,,1",
    )))
    assert set(entries) == {"mp_*", "_ym_visorc_*"}


def test_a_name_listed_twice_takes_the_first_party_row_then_the_strictest() -> None:
    entries = by_name(parse_open_cookie_database(csv(
        "1,Xandr,Functional,token,.adnxs.com,Xandr token,session,Xandr,,0",
        "2,Adform,Marketing,token,adform.net (3rd party),Adform token,60 days,Adform,,0",
        "3,ShareThis,Functional,euconsent,,Consent string,1 year,ShareThis,,0",
        "4,LiveRamp,Marketing,euconsent,faktor.io,Consent string,1 year,LiveRamp,,0",
    )))
    assert entries["token"].platform == "Adform"
    assert entries["euconsent"].platform == "ShareThis"


def test_a_file_that_is_not_the_database_is_refused() -> None:
    with pytest.raises(ValueError, match="Open Cookie Database"):
        parse_open_cookie_database("name,category\n_ga,Analytics\n")


def test_own_entries_take_a_trailing_star_as_a_prefix() -> None:
    entries = parse_known_cookies([
        {"name": "csrftoken", "category": "necessary", "platform": "Django",
         "description": "CSRF", "retention": "1 year", "source": "https://docs.example"},
        {"name": "SESS*", "category": "necessary", "platform": "Drupal"},
    ])
    assert [(e.name, e.prefix, e.platform) for e in entries] == [
        ("csrftoken", False, "Django"), ("SESS", True, "Drupal")]


@pytest.mark.parametrize("entry", [
    {"name": "x"}, {"category": "necessary"}, {"name": "*", "category": "necessary"},
    {"name": "x", "category": "functional"},
])
def test_an_own_entry_without_name_or_category_is_a_packaging_error(
    entry: dict[str, str],
) -> None:
    with pytest.raises(ValueError, match="entry 1"):
        parse_known_cookies([entry])


def test_an_exact_name_beats_a_prefix_and_a_longer_prefix_a_shorter() -> None:
    table = NameTable([
        KnownCookie("_ga", "analytics", prefix=True, platform="short"),
        KnownCookie("_ga_", "analytics", prefix=True, platform="long"),
        KnownCookie("_ga_EXACT", "necessary", platform="exact"),
    ])
    found = {name: table.lookup(name) for name in ("_ga_EXACT", "_ga_X1", "_gat", "_g", "x")}
    assert {n: e.platform if e else None for n, e in found.items()} == {
        "_ga_EXACT": "exact", "_ga_X1": "long", "_gat": "short", "_g": None, "x": None}


def test_for_a_name_listed_twice_the_entry_given_first_wins() -> None:
    table = NameTable([KnownCookie("sessionid", "necessary", platform="Django"),
                       KnownCookie("sessionid", "marketing", platform="Instagram")])
    assert len(table) == 1
    found = table.lookup("sessionid")
    assert found is not None and found.platform == "Django"


def test_a_prefix_matches_the_bare_prefix_too_and_names_are_case_sensitive() -> None:
    table = NameTable([KnownCookie("wp-settings-", "necessary", prefix=True)])
    assert table.lookup("wp-settings-") is not None
    assert table.lookup("WP-SETTINGS-1") is None
