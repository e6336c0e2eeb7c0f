"""The banner's files stay small: they load on every page of every site."""

from __future__ import annotations

import gzip

from tests.conftest import REPO

JS_BUDGET = 6 * 1024
CSS_BUDGET = 2 * 1024


def gzipped(name: str) -> int:
    return len(gzip.compress((REPO / "static" / name).read_bytes(), compresslevel=9))


def test_consent_js_fits_its_gzip_budget() -> None:
    assert 0 < gzipped("consent.js") <= JS_BUDGET


def test_consent_css_fits_its_gzip_budget() -> None:
    assert 0 < gzipped("consent.css") <= CSS_BUDGET
