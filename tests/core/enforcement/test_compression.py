"""Compressing rewritten HTML for the browser, chunk by chunk."""

from __future__ import annotations

import gzip
from collections.abc import Callable

import brotli
import pytest

from gateway.core.enforcement.compression import Coding, encoder_for, preferred_coding
from gateway.core.enforcement.html import markup_bytes, vary_with

PAGE = b"<!doctype html><html><head><title>t</title></head><body>" + b"<p>hello</p>" * 500


@pytest.mark.parametrize(("accept", "chosen"), [
    ("gzip, deflate, br, zstd", "br"),
    ("gzip, deflate", "gzip"),
    ("br;q=0, gzip", "gzip"),
    ("*", "br"),
    ("br;q=0, gzip;q=0", None),
    ("identity", None),
    (None, None),
    ("gzip;q=oops", None),
])
def test_the_browsers_accept_encoding_picks_the_coding(accept: str | None, chosen: str) -> None:
    assert preferred_coding(accept) == chosen


@pytest.mark.parametrize(("coding", "decompress"), [("gzip", gzip.decompress),
                                                    ("br", brotli.decompress)])
def test_each_chunk_is_flushed_and_the_whole_decodes(
    coding: Coding, decompress: Callable[[bytes], bytes]
) -> None:
    encoder = encoder_for(coding)
    pieces = [encoder.feed(PAGE[i:i + 700]) for i in range(0, len(PAGE), 700)]
    assert all(pieces), "a chunk held back: the browser would wait for it"
    body = b"".join(pieces) + encoder.finish()
    assert decompress(body) == PAGE
    assert len(body) < len(PAGE) / 5


def test_vary_gets_each_name_once() -> None:
    assert vary_with(None, "Cookie", "Accept-Encoding") == "Cookie, Accept-Encoding"
    assert vary_with("accept-encoding", "Cookie", "Accept-Encoding") == "accept-encoding, Cookie"
    assert vary_with("*", "Cookie") == "*"


@pytest.mark.parametrize(("text", "charset", "expected"), [
    ("Paramètres", "utf-8", "Paramètres".encode()),
    ("Paramètres", "iso-8859-1", b"Param\xe8tres"),
    ("Paramètres €", "windows-1252", b"Param\xe8tres \x80"),
    ("Paramètres €", "iso-8859-1", b"Param\xe8tres &#8364;"),
    ("Paramètres", "", b"Param&#232;tres"),
    ("Paramètres", "no-such-charset", b"Param&#232;tres"),
])
def test_injected_markup_is_in_the_pages_charset(text: str, charset: str, expected: bytes) -> None:
    assert markup_bytes(text, charset) == expected
