"""The pure core behind the HTTP layer: HTML injection, cache headers, cookie enforcement,
client address, IP truncation, the visitor's choice and the banner's language and hash."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.adapters.configfile import load_config
from gateway.core.config import GatewayConfig, SiteConfig
from gateway.core.consent.banner import banner_view, negotiate_language
from gateway.core.consent.choice import choice_from_form, choice_from_json, safe_return_path
from gateway.core.consent.cookie import Consent, granted_categories, new_consent_id
from gateway.core.enforcement.cookies import (
    CookieClassifier,
    filter_set_cookies,
    strip_request_cookies,
)
from gateway.core.enforcement.html import (
    PageInjector,
    private_cache_control,
    vary_with_cookie,
    weak_etag,
)
from gateway.core.errors import BadRequest, InvalidField
from gateway.core.network import resolve_peer
from gateway.core.pseudonymise import truncate_ip
from gateway.core.types import OPTIONAL_CATEGORIES, Category
from tests.conftest import EXAMPLE_CONFIG, SECRET

# ------------------------------------------------------------------------ PageInjector

HEAD = b'<script src="/_consent/consent.js?v=3f2a" id="consent-gateway"></script>'
BODY = b'<noscript><a href="/_consent/preferences">Cookie-instellingen</a></noscript>'
DOCUMENT = (
    b"<!DOCTYPE html>\n<html lang=\"nl\">\n<HEAD data-x=\"1\">\n<meta charset=\"utf-8\">\n"
    b"<title>Fietsenwinkel \xe2\x80\x93 Welkom</title>\n"
    b"<link rel=\"stylesheet\" href=\"/static/site.css\">\n"
    b"</HEAD >\n<body class=\"home\">\n<h1>Welkom</h1>\n<p>Bekijk onze fietsen.</p>\n"
    b"</body>\n</html>\n"
)
NO_HEAD = (
    b"<!DOCTYPE html><html><title>Winkelmand</title>"
    b"<body data-page=\"cart\"><p>Uw winkelmand is leeg.</p></body></html>"
)
FRAGMENT = b'<div class="product"><h2>Stadsfiets</h2><p>\xe2\x82\xac 549</p></div>'


def expected(document: bytes) -> bytes:
    """Head markup right after <head ...> (else before </head> or <body>), body markup right
    after <body ...>; a fragment gets both at the end. Written independently of the code."""
    lowered = document.lower()
    head_open = lowered.find(b"<head")
    if head_open >= 0 and lowered[head_open + 5:head_open + 6] in (b">", b" "):
        at = lowered.index(b">", head_open) + 1
    else:
        found = [i for i in (lowered.find(b"</head"), lowered.find(b"<body")) if i >= 0]
        at = min(found) if found else len(document)
    document = document[:at] + HEAD + document[at:]
    lowered = document.lower()
    body_open = lowered.find(b"<body", at + len(HEAD))
    at = lowered.index(b">", body_open) + 1 if body_open >= 0 else len(document)
    return document[:at] + BODY + document[at:]


def make_injector(langs: list[str | None] | None = None) -> PageInjector:
    def head(lang: str | None) -> bytes:
        if langs is not None:
            langs.append(lang)
        return HEAD

    return PageInjector(head, BODY)


def inject(chunks: list[bytes], langs: list[str | None] | None = None) -> bytes:
    injector = make_injector(langs)
    return b"".join(injector.feed(chunk) for chunk in chunks) + injector.finish()


def split_at(document: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(document)]
    return [document[a:b] for a, b in pairwise(bounds)]


def test_the_banner_lands_right_after_the_head_start_tag() -> None:
    out = inject([DOCUMENT])
    assert out.index(b'<HEAD data-x="1">') + len(b'<HEAD data-x="1">') == out.index(HEAD)
    assert out.index(b'<body class="home">') + len(b'<body class="home">') == out.index(BODY)
    assert out.replace(HEAD, b"").replace(BODY, b"") == DOCUMENT


def test_the_page_language_is_handed_to_the_head_markup() -> None:
    langs: list[str | None] = []
    inject([DOCUMENT[:20], DOCUMENT[20:]], langs)
    assert langs == ["nl"]
    inject([b"<html lang='en-GB'><head></head><body></body></html>"], langs)
    inject([b"<html><head></head></html>"], langs)
    assert langs == ["nl", "en-GB", None]


def test_a_header_element_is_not_taken_for_the_head() -> None:
    document = b"<html><header>x</header></head><body></body></html>"
    out = inject([document])
    assert out.index(HEAD) == document.index(b"</head>")


@pytest.mark.parametrize(
    "document", [DOCUMENT, NO_HEAD, FRAGMENT], ids=["head", "body", "fragment"]
)
def test_every_split_into_two_chunks_gives_the_same_document(document: bytes) -> None:
    wrong = [
        cut for cut in range(len(document) + 1)
        if inject([document[:cut], document[cut:]]) != expected(document)
    ]
    assert wrong == []


@given(cuts=st.lists(st.integers(min_value=0, max_value=len(DOCUMENT)), max_size=40))
def test_any_chunking_gives_the_same_document(cuts: list[int]) -> None:
    assert inject(split_at(DOCUMENT, cuts)) == expected(DOCUMENT)


@given(cuts=st.lists(st.integers(min_value=0, max_value=len(NO_HEAD)), max_size=40))
def test_any_chunking_of_a_document_without_head_gives_the_same_document(
    cuts: list[int],
) -> None:
    assert inject(split_at(NO_HEAD, cuts)) == expected(NO_HEAD)


def test_one_byte_chunks_give_the_same_document() -> None:
    assert inject([DOCUMENT[i : i + 1] for i in range(len(DOCUMENT))]) == expected(DOCUMENT)


def test_without_a_head_the_banner_goes_before_body() -> None:
    out = inject([NO_HEAD])
    assert out == NO_HEAD.replace(b"<body", HEAD + b"<body").replace(
        b'data-page="cart">', b'data-page="cart">' + BODY)


def test_a_fragment_gets_the_markup_at_its_end() -> None:
    assert inject([FRAGMENT]) == FRAGMENT + HEAD + BODY


def test_an_empty_body_gets_just_the_markup() -> None:
    assert inject([]) == HEAD + BODY


def test_the_markup_is_injected_once_even_if_head_appears_twice() -> None:
    document = DOCUMENT + b"<template><html><head></head><body></body></html></template>"
    out = inject([document[:40], document[40:]])
    assert out.count(HEAD) == 1 and out.count(BODY) == 1
    assert out.replace(HEAD, b"").replace(BODY, b"") == document


def test_chunks_after_the_injection_pass_through_untouched() -> None:
    injector = make_injector()
    injector.feed(b"<html><head></head><body>")
    tail = b"<p>" + b"x" * 10_000 + b"</p></body></html>"
    assert injector.feed(tail) == tail
    assert injector.finish() == b""


# ---------------------------------------------------------------- cache headers


def directives(value: str) -> list[str]:
    return [d.strip().lower() for d in value.split(",")]


def test_personalised_html_is_marked_private() -> None:
    assert directives(private_cache_control(None)) == ["private"]


def test_shared_cache_directives_are_removed() -> None:
    result = directives(private_cache_control("public, max-age=600, s-maxage=3600"))
    assert "private" in result
    assert "public" not in result
    assert not any(d.startswith("s-maxage") for d in result)


def test_the_browser_max_age_is_kept() -> None:
    assert "max-age=600" in directives(private_cache_control("public, max-age=600"))


def test_a_stricter_no_store_is_kept() -> None:
    assert "no-store" in directives(private_cache_control("no-store, max-age=0"))


def test_private_is_not_repeated() -> None:
    result = directives(private_cache_control("private, max-age=60"))
    assert result.count("private") == 1


def test_vary_gains_cookie() -> None:
    assert vary_with_cookie(None) == "Cookie"
    assert vary_with_cookie("Accept-Encoding") == "Accept-Encoding, Cookie"


def test_vary_already_naming_cookie_or_star_is_left_alone() -> None:
    assert vary_with_cookie("Accept-Encoding, cookie") == "Accept-Encoding, cookie"
    assert vary_with_cookie("*") == "*"


def test_a_strong_etag_becomes_weak_and_a_weak_one_stays() -> None:
    assert weak_etag('"33a64df551425fcc55e4d42a148795d9f25f89d4"') == (
        'W/"33a64df551425fcc55e4d42a148795d9f25f89d4"'
    )
    assert weak_etag('W/"0815"') == 'W/"0815"'


# ---------------------------------------------------------------------- cookies

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


# ------------------------------------------------------------------ client address


def peer(socket_address: str, *, xff: str | None = None, proto: str | None = None,
         trusted: tuple[str, ...] = ()) -> tuple[str, str]:
    result = resolve_peer(socket_address=socket_address, scheme="http", forwarded_for=xff,
                          forwarded_proto=proto, trusted_proxies=trusted)
    return result.address, result.scheme


def test_the_socket_address_is_the_client_when_no_proxy_is_trusted() -> None:
    assert peer("203.0.113.77", xff="198.51.100.9") == ("203.0.113.77", "http")


def test_forwarded_headers_from_an_untrusted_peer_are_ignored() -> None:
    result = peer("203.0.113.77", xff="198.51.100.9", proto="https", trusted=("10.0.0.0/8",))
    assert result == ("203.0.113.77", "http")


def test_forwarded_for_from_a_trusted_proxy_names_the_client() -> None:
    assert peer("10.0.0.2", xff="198.51.100.9", trusted=("10.0.0.2",))[0] == "198.51.100.9"


def test_the_rightmost_untrusted_hop_is_the_client_not_a_spoofed_leftmost_one() -> None:
    xff = "1.2.3.4, 198.51.100.9, 10.0.0.7"  # 1.2.3.4 was made up by the client
    assert peer("10.0.0.2", xff=xff, trusted=("10.0.0.0/8",))[0] == "198.51.100.9"


def test_a_trusted_proxy_without_forwarded_for_is_itself_the_client() -> None:
    assert peer("10.0.0.2", trusted=("10.0.0.0/8",)) == ("10.0.0.2", "http")


def test_forwarded_proto_is_believed_from_a_trusted_proxy() -> None:
    assert peer("10.0.0.2", xff="198.51.100.9", proto="https", trusted=("10.0.0.2",))[1] == (
        "https"
    )


def test_a_nonsense_forwarded_proto_keeps_the_socket_scheme() -> None:
    assert peer("10.0.0.2", proto="gopher", trusted=("10.0.0.2",))[1] == "http"


def test_an_ipv6_proxy_network_is_honoured() -> None:
    xff = "2a02:a45e:1234:5678::1"
    assert peer("fd00::2", xff=xff, trusted=("fd00::/8",))[0] == xff


# ------------------------------------------------------------------- IP truncation


def test_the_last_ipv4_byte_is_zeroed_by_default() -> None:
    assert truncate_ip("81.2.69.142") == "81.2.69.0"


def test_masking_two_bytes_zeroes_the_last_two() -> None:
    assert truncate_ip("81.2.69.142", ipv4_mask_bytes=2) == "81.2.0.0"


def test_masking_three_bytes_keeps_only_the_first() -> None:
    assert truncate_ip("81.2.69.142", ipv4_mask_bytes=3) == "81.0.0.0"


def test_an_ipv6_address_keeps_its_first_48_bits() -> None:
    assert truncate_ip("2a02:a45e:1234:5678:9abc:def0:1234:5678") == "2a02:a45e:1234::"


def test_an_ipv6_prefix_of_32_bits_can_be_configured() -> None:
    assert truncate_ip("2a02:a45e:1234:5678::1", ipv6_prefix=32) == "2a02:a45e::"


def test_an_ipv4_mapped_ipv6_address_is_truncated_as_ipv4() -> None:
    assert truncate_ip("::ffff:81.2.69.142") == "81.2.69.0"


@given(st.ip_addresses(), st.integers(1, 3), st.integers(16, 64))
def test_truncation_keeps_exactly_the_network_part(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, mask_bytes: int, prefix: int
) -> None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    bits = 32 - 8 * mask_bytes if ip.version == 4 else prefix
    network = ipaddress.ip_network(f"{ip}/{bits}", strict=False)
    assert truncate_ip(str(ip), ipv4_mask_bytes=mask_bytes, ipv6_prefix=prefix) == str(
        network.network_address)


@pytest.mark.parametrize("garbage", ["", "unknown", "81.2.69", "81.2.69.142.5", "/tmp/gw.sock",
                                     "81.2.69.142, 10.0.0.1", "<script>"])
def test_anything_but_an_ip_address_becomes_the_placeholder(garbage: str) -> None:
    assert truncate_ip(garbage) == "0.0.0.0"


# ------------------------------------------------------------------- visitor choice


def test_accept_all_grants_every_optional_category() -> None:
    assert choice_from_json({"action": "accept_all"}).granted == frozenset(OPTIONAL_CATEGORIES)


def test_reject_all_grants_nothing_even_with_ticked_categories() -> None:
    choice = choice_from_json({"action": "reject_all", "categories": {"analytics": True}})
    assert choice.granted == frozenset()


def test_custom_grants_exactly_the_categories_set_true() -> None:
    choice = choice_from_json({"action": "custom",
                               "categories": {"analytics": True, "marketing": False}})
    assert choice.granted == {"analytics"}


def test_custom_accepts_necessary_true_without_counting_it_as_optional() -> None:
    choice = choice_from_json({"action": "custom", "categories": {"necessary": True}})
    assert choice.granted == frozenset()


def test_a_custom_choice_without_categories_is_refused() -> None:
    with pytest.raises(InvalidField) as caught:
        choice_from_json({"action": "custom"})
    assert caught.value.field == "categories"


def test_an_unknown_category_is_refused_by_its_field() -> None:
    with pytest.raises(InvalidField) as caught:
        choice_from_json({"action": "custom", "categories": {"tracking": True}})
    assert caught.value.field == "categories.tracking"


@pytest.mark.parametrize("action", ["accept", "withdraw", "erase", "", None, 1])
def test_an_action_a_visitor_may_not_send_is_refused(action: object) -> None:
    with pytest.raises(InvalidField) as caught:
        choice_from_json({"action": action})
    assert caught.value.field == "action"


def test_refusing_necessary_is_refused() -> None:
    with pytest.raises(InvalidField) as caught:
        choice_from_json({"action": "custom", "categories": {"necessary": False}})
    assert caught.value.field == "categories.necessary"


@pytest.mark.parametrize("value", ["true", 1, None, ["yes"]])
def test_a_category_value_must_be_a_boolean(value: object) -> None:
    with pytest.raises(InvalidField) as caught:
        choice_from_json({"action": "custom", "categories": {"analytics": value}})
    assert caught.value.field == "categories.analytics"


def test_an_unknown_top_level_field_is_refused_by_name() -> None:
    with pytest.raises(InvalidField) as caught:
        choice_from_json({"action": "accept_all", "ip": "81.2.69.142"})
    assert caught.value.field == "ip"


def test_a_body_that_is_not_an_object_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        choice_from_json(["accept_all"])


def test_the_page_keeps_only_the_path() -> None:
    choice = choice_from_json({"action": "accept_all",
                               "page": "/bestellen/bevestiging?email=jan%40example.nl#top"})
    assert choice.page == "/bestellen/bevestiging"


def test_a_full_url_as_page_keeps_only_its_path() -> None:
    choice = choice_from_json({"action": "reject_all",
                               "page": "https://fietsen.example/zoeken?q=bakfiets"})
    assert choice.page == "/zoeken"


def test_a_form_grants_the_ticked_checkboxes() -> None:
    choice = choice_from_form([("action", "custom"), ("preferences", "on"),
                               ("analytics", "off"), ("page", "/fietsen?kleur=rood")])
    assert choice.granted == {"preferences"}
    assert choice.page == "/fietsen"
    assert choice.source == "preferences"


def test_a_form_with_an_unknown_field_is_refused_by_name() -> None:
    with pytest.raises(InvalidField) as caught:
        choice_from_form([("action", "accept_all"), ("tracking", "on")])
    assert caught.value.field == "tracking"


def test_a_form_refusing_necessary_is_refused() -> None:
    with pytest.raises(InvalidField) as caught:
        choice_from_form([("action", "custom"), ("necessary", "off")])
    assert caught.value.field == "necessary"


def test_a_form_sends_the_visitor_back_to_a_local_path() -> None:
    choice = choice_from_form([("action", "reject_all"), ("return_to", "/fietsen?p=2")])
    assert choice.return_to == "/fietsen?p=2"


@pytest.mark.parametrize("target", ["//evil.example", "//evil.example/fietsen", "https://evil",
                                    "/\\evil.example", "\\\\evil.example", "javascript:alert(1)",
                                    "/fietsen\r\nSet-Cookie: x=1", "evil.example", ""])
def test_a_return_path_leading_off_site_becomes_the_home_page(target: str) -> None:
    assert safe_return_path(target) == "/"


def test_a_form_cannot_redirect_off_site() -> None:
    choice = choice_from_form([("action", "accept_all"), ("return_to", "//evil.example")])
    assert choice.return_to == "/"


# ------------------------------------------------------------------ language, banner

FIREFOX_NL = "nl,en-US;q=0.7,en;q=0.3"
CHROME_DE = "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7"
SAFARI_FR = "fr-FR,fr;q=0.9"


@pytest.mark.parametrize(("header", "language"), [
    (FIREFOX_NL, "nl"), (CHROME_DE, "de"), (SAFARI_FR, "fr"), ("en-GB,en;q=0.9", "en"),
    ("fr;q=0.4, de;q=0.8", "de"), ("es-ES,es;q=0.9,en;q=0.5", "en"), ("de;q=0, en", "en"),
])
def test_the_language_is_picked_by_quality(
    config: GatewayConfig, header: str, language: str
) -> None:
    assert negotiate_language(header, config.sites[0]) == language


@pytest.mark.parametrize("header", [None, "", "es-ES,es;q=0.9", "*", "en;q=0", "de;q=abc"])
def test_the_site_default_is_used_when_nothing_offered_is_asked_for(
    config: GatewayConfig, header: str | None
) -> None:
    assert negotiate_language(header, config.sites[0]) == "nl"


def test_a_language_the_site_does_not_offer_is_not_picked() -> None:
    site = SiteConfig(id="shop", languages=("en", "nl"), default_language="en")
    assert negotiate_language(CHROME_DE, site) == "en"


def banner_hash(tmp_path: Path, language: str = "nl", **env: str) -> str:
    environ = {"GATEWAY_SERVER_SECRET_KEYS": SECRET,
               "GATEWAY_STORAGE_PATH": str(tmp_path / "db.sqlite3"), **env}
    config = load_config(EXAMPLE_CONFIG, environ)
    return banner_view(config, config.sites[0], language).banner_hash  # type: ignore[arg-type]


BANNER_KEYS = ["TITLE", "BODY", "ACCEPT_ALL", "REJECT_ALL", "SETTINGS", "SAVE", "PRIVACY_LINK",
               "REOPEN", "ALWAYS_ON", "WITHDRAW"]
CATEGORY_KEYS = [f"{category.upper()}_TEXTS_NL_{part}"
                 for category in ("necessary", "preferences", "analytics", "marketing")
                 for part in ("TITLE", "DESCRIPTION")]


def test_the_banner_hash_is_stable_for_the_same_texts(tmp_path: Path) -> None:
    assert banner_hash(tmp_path) == banner_hash(tmp_path)


@pytest.mark.parametrize("env", [f"GATEWAY_BANNER_TEXTS_NL_{key}" for key in BANNER_KEYS]
                         + [f"GATEWAY_CATEGORIES_{key}" for key in CATEGORY_KEYS])
def test_the_banner_hash_changes_when_any_shown_text_changes(tmp_path: Path, env: str) -> None:
    assert banner_hash(tmp_path, **{env: "Gewijzigd"}) != banner_hash(tmp_path)


def test_the_banner_hash_ignores_texts_of_another_language(tmp_path: Path) -> None:
    changed = {"GATEWAY_BANNER_TEXTS_EN_TITLE": "Changed"}
    assert banner_hash(tmp_path, "nl", **changed) == banner_hash(tmp_path, "nl")


def test_the_banner_hash_differs_per_language(tmp_path: Path) -> None:
    hashes = {language: banner_hash(tmp_path, language) for language in ("nl", "en", "de", "fr")}
    assert len(set(hashes.values())) == 4


def test_the_banner_hash_changes_with_the_policy_revision(tmp_path: Path) -> None:
    assert banner_hash(tmp_path, GATEWAY_SITES_DEMO_REVISION="2") != banner_hash(tmp_path)


def test_the_banner_view_shows_necessary_locked_and_nothing_else_locked(
    config: GatewayConfig,
) -> None:
    view = banner_view(config, config.sites[0], "en")
    assert [(c["id"], c["locked"]) for c in view.categories] == [
        ("necessary", True), ("preferences", False), ("analytics", False), ("marketing", False)]
    assert (view.texts["accept_all"], view.texts["reject_all"]) == ("Accept all", "Reject all")
