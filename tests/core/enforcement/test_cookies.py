"""Cookie enforcement (gateway/core/enforcement/cookies.py): which category a cookie belongs
to, and which `Set-Cookie`s and request cookies a visitor's consent lets through."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.core.config import GatewayConfig
from gateway.core.consent.cookie import Consent, granted_categories, new_consent_id
from gateway.core.enforcement.cookies import (
    CLASSIFICATION_CACHE,
    Classification,
    CookieClassifier,
    filter_set_cookies,
    script_cookie_domains,
    strip_request_cookies,
)
from gateway.core.enforcement.knowncookies import KnownCookie
from gateway.core.types import OPTIONAL_CATEGORIES, Category

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
GA = "_ga=GA1.1.1234567890.1732190400; Path=/; Domain=.fietsen.example; Max-Age=63072000"
GA_SESSION = "_ga_8XKQ2Y5Z1R=GS1.1.1732190400.1.0.1732190400.0.0.0; Path=/; Max-Age=63072000"
FBP = "_fbp=fb.1.1732190400000.1234567890; Path=/; Max-Age=7776000; SameSite=Lax"
GCL = "_gcl_au=1.1.1234567890.1732190400; Path=/; Max-Age=7776000"
CART = "cart=8f3a9c21; Path=/; HttpOnly; SameSite=Lax"
UNKNOWN = "ab_variant=checkout-b; Path=/; Max-Age=2592000"
OWN = "consent=.eJyrVk.abc; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax"


@pytest.fixture
def classifier(config: GatewayConfig) -> CookieClassifier:
    return CookieClassifier(
        ((rule.pattern, rule.category) for rule in config.cookies),
        unknown=config.consent.unknown_cookie_policy,
    )


def consent_for(*granted: Category) -> Consent:
    return Consent(new_consent_id(), "demo", granted_categories(granted), 1, NOW)


def passes(classifier: CookieClassifier, set_cookie: str, consent: Consent | None) -> bool:
    passed, blocked = filter_set_cookies([set_cookie], classifier, consent, own_cookie="consent")
    assert len(passed) + len(blocked) == 1
    return passed == [set_cookie]


@pytest.mark.parametrize("set_cookie", [GA, GA_SESSION])
def test_an_analytics_cookie_is_blocked_without_consent(
    classifier: CookieClassifier, set_cookie: str
) -> None:
    assert not passes(classifier, set_cookie, None)


def test_an_analytics_cookie_is_blocked_after_a_rejection(classifier: CookieClassifier) -> None:
    assert not passes(classifier, GA, consent_for())


@pytest.mark.parametrize("set_cookie", [GA, GA_SESSION])
def test_an_analytics_cookie_passes_with_analytics_consent(
    classifier: CookieClassifier, set_cookie: str
) -> None:
    assert passes(classifier, set_cookie, consent_for("analytics"))


@pytest.mark.parametrize("set_cookie", [FBP, GCL])
def test_a_marketing_cookie_is_not_let_through_by_analytics_consent(
    classifier: CookieClassifier, set_cookie: str
) -> None:
    assert not passes(classifier, set_cookie, consent_for("analytics"))


@pytest.mark.parametrize("set_cookie", [FBP, GCL])
def test_a_marketing_cookie_passes_with_marketing_consent(
    classifier: CookieClassifier, set_cookie: str
) -> None:
    assert passes(classifier, set_cookie, consent_for("marketing"))


def test_a_necessary_cookie_passes_without_any_consent(classifier: CookieClassifier) -> None:
    assert passes(classifier, CART, None)


def test_an_unknown_cookie_is_blocked_unless_every_optional_category_is_granted(
    classifier: CookieClassifier,
) -> None:
    assert not passes(classifier, UNKNOWN, None)
    assert not passes(classifier, UNKNOWN, consent_for("analytics", "marketing"))
    assert passes(classifier, UNKNOWN, consent_for(*OPTIONAL_CATEGORIES))


def test_an_unknown_cookie_passes_under_the_allow_policy(config: GatewayConfig) -> None:
    allowing = CookieClassifier(
        ((rule.pattern, rule.category) for rule in config.cookies), unknown="allow"
    )
    assert passes(allowing, UNKNOWN, None)
    assert not passes(allowing, GA, None)


def test_cookie_rules_match_names_case_sensitively(classifier: CookieClassifier) -> None:
    # `_GA` is not `_ga*`: unknown, so it fails closed.
    assert classifier.category_of("_GA") is None
    assert not passes(classifier, "_GA=1; Path=/", consent_for("analytics"))


def test_the_consent_cookie_itself_always_passes(classifier: CookieClassifier) -> None:
    assert passes(classifier, OWN, None)
    secure_own = "__Host-consent=x; Path=/; Secure; HttpOnly"
    passed, _ = filter_set_cookies([secure_own], classifier, None, own_cookie="__Host-consent")
    assert passed == [secure_own]


def test_filtering_keeps_header_values_and_their_order(classifier: CookieClassifier) -> None:
    values = [GA, CART, FBP, OWN, UNKNOWN, GCL, GA_SESSION]
    passed, blocked = filter_set_cookies(
        values, classifier, consent_for("analytics"), own_cookie="consent"
    )
    assert passed == [GA, CART, OWN, GA_SESSION]
    assert blocked == [FBP, UNKNOWN, GCL]


def test_request_cookies_of_refused_categories_are_stripped(
    classifier: CookieClassifier,
) -> None:
    header = "cart=8f3a9c21; _ga=GA1.1.1234567890.1732190400; _fbp=fb.1.1732190400000.1"
    kept, dropped = strip_request_cookies(header, classifier, consent_for("analytics"),
                                          own_cookie="consent")
    assert kept == "cart=8f3a9c21; _ga=GA1.1.1234567890.1732190400"
    assert dropped == ["_fbp"]


def test_stripping_keeps_the_remaining_pairs_byte_for_byte(classifier: CookieClassifier) -> None:
    pairs = ['sessionid="YT1i="', "csrftoken=Zm9v+YmFy/==", "session_flash=Bestelling geplaatst",
             "lang=nl-BE", "consent=.eJy.x-_"]
    header = "; ".join([*pairs[:3], "_gid=GA1.1.99.1", *pairs[3:]])
    kept, dropped = strip_request_cookies(header, classifier, consent_for("preferences"),
                                          own_cookie="consent")
    assert dropped == ["_gid"]
    assert kept == "; ".join(pairs)


def test_stripping_without_consent_keeps_only_necessary_and_own_cookies(
    classifier: CookieClassifier,
) -> None:
    header = "theme=dark; _ga=GA1.1.1.2; consent=abc.def; ab_variant=b; session=Q2Fy"
    kept, dropped = strip_request_cookies(header, classifier, None, own_cookie="consent")
    assert kept == "consent=abc.def; session=Q2Fy"
    assert dropped == ["theme", "_ga", "ab_variant"]


# ------------------------------------------------------ precedence: rule, catalogue, database

HOTJAR = KnownCookie("_hj", "analytics", prefix=True, platform="Hotjar")
DATABASE = (
    KnownCookie("_hjSessionUser_", "necessary", prefix=True, platform="Hotjar",
                description="Persists the Hotjar user id", retention="365 days"),
    KnownCookie("PHPSESSID", "necessary", platform="PHP.net", description="PHP session",
                retention="session"),
    KnownCookie("_ga_", "analytics", prefix=True, platform="Google Analytics"),
)


def known(*rules: tuple[str, Category]) -> CookieClassifier:
    return CookieClassifier(rules, catalogue=(HOTJAR,), database=DATABASE)


def test_the_database_classifies_a_cookie_no_rule_names() -> None:
    assert known().classify("PHPSESSID") == Classification(
        "necessary", "database", "PHPSESSID", "PHP.net", "PHP session", "session")
    assert known().classify("_ga_ABC").pattern == "_ga_*"


def test_the_catalogue_beats_the_database_and_keeps_its_description() -> None:
    # The database files Hotjar's user cookie under Functional; the catalogue knows better.
    found = known().classify("_hjSessionUser_123")
    assert (found.category, found.source, found.pattern) == ("analytics", "catalogue", "_hj*")
    assert (found.platform, found.retention) == ("Hotjar", "365 days")


def test_a_rule_beats_the_catalogue_and_the_database() -> None:
    classifier = known(("_hjSessionUser_*", "necessary"), ("PHPSESSID", "marketing"))
    hotjar, php = classifier.classify("_hjSessionUser_1"), classifier.classify("PHPSESSID")
    assert (hotjar.category, hotjar.source, hotjar.pattern) == (
        "necessary", "rule", "_hjSessionUser_*")
    assert (php.category, php.source, php.description) == ("marketing", "rule", "PHP session")


def test_a_cookie_none_of_them_knows_is_unknown_and_follows_the_policy() -> None:
    assert known().classify("ab_variant") == Classification(None, "unknown")
    assert not known().is_allowed("ab_variant", None, own_cookie="consent")
    assert known().is_allowed("PHPSESSID", None, own_cookie="consent")


def test_classifications_are_cached_within_a_bound() -> None:
    classifier = known()
    for n in range(CLASSIFICATION_CACHE + 100):
        classifier.classify(f"made_up_{n}")
    info = classifier.classify.cache_info()  # type: ignore[attr-defined]
    assert info.currsize == CLASSIFICATION_CACHE
    classifier.classify("PHPSESSID")
    classifier.classify("PHPSESSID")
    assert classifier.classify.cache_info().hits >= 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(("host", "domains"), [
    ("www.shop.example", ["shop.example", "www.shop.example"]),
    ("shop.example:8443", ["shop.example"]),
    ("a.b.c.d.e.example", ["e.example", "d.e.example", "c.d.e.example", "b.c.d.e.example"]),
    ("localhost", []), ("localhost:8000", []), ("192.0.2.7", []), ("[2001:db8::1]:80", []),
])
def test_script_cookie_domains_are_the_hosts_parents_widest_first(
    host: str, domains: list[str]
) -> None:
    assert script_cookie_domains(host) == domains
