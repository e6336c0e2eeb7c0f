"""Cookie enforcement (gateway/core/enforcement/cookies.py): which category a cookie belongs
to, and which `Set-Cookie`s and request cookies a visitor's consent lets through."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.core.config import GatewayConfig
from gateway.core.consent.cookie import Consent, granted_categories, new_consent_id
from gateway.core.enforcement.cookies import (
    CookieClassifier,
    filter_set_cookies,
    strip_request_cookies,
)
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
