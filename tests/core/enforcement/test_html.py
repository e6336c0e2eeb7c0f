"""Streaming HTML rewriting (gateway/core/enforcement/html.py): the banner's markup lands
right after `<head>` however the body is chunked, and personalised HTML gets cache headers
that keep shared caches from storing it."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.enforcement.html import (
    PageInjector,
    private_cache_control,
    vary_with_cookie,
    weak_etag,
)

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
