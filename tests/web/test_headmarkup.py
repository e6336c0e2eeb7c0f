"""The injected head markup (gateway/web/headmarkup.py): rendered once per site, language,
consent state and charset, it gives exactly the bytes a fresh `banner_tags` would."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.core.config import GatewayConfig
from gateway.core.consent.banner import BannerView, banner_tags, banner_view
from gateway.core.consent.cookie import Consent
from gateway.core.enforcement.html import markup_bytes
from gateway.web.headmarkup import HeadMarkup

VERSIONS = {"consent.css": "c55", "consent.js": "j5"}
CONSENT = Consent("id-1", "demo", frozenset({"necessary", "analytics"}), 1,
                  datetime(2026, 11, 21, 12, 0, tzinfo=UTC))


def fresh(view: BannerView, consent: Consent | None, charset: str, nonce: str, token: str,
          *, gpc: bool = False) -> bytes:
    state = view.state_attribute(consent, gpc=gpc, mode="opt-in")
    tags = banner_tags(state, prefix="/_consent", nonce=nonce, versions=VERSIONS,
                       page_token=token)
    return markup_bytes(tags, charset)


@pytest.mark.parametrize("charset", ["utf-8", "", "iso-8859-1", "windows-1250"])
@pytest.mark.parametrize("consent", [None, CONSENT], ids=["undecided", "decided"])
def test_each_response_gets_the_bytes_a_fresh_rendering_gives(
    config: GatewayConfig, charset: str, consent: Consent | None
) -> None:
    heads = HeadMarkup(prefix="/_consent", versions=VERSIONS)
    for language in ("nl", "fr", "nl"):
        view = banner_view(config, config.sites[0], language)
        for nonce, token in (("n0nce-A_1", "tok.en-1"), ("other", 'odd"<&>')):
            for gpc in (False, True):
                got = heads.render(view, consent, gpc=gpc, mode="opt-in", charset=charset,
                                   nonce=nonce, page_token=token)
                assert got == fresh(view, consent, charset, nonce, token, gpc=gpc)


def test_the_cache_keeps_only_its_size_and_a_new_view_is_rendered_anew(
    config: GatewayConfig,
) -> None:
    heads = HeadMarkup(prefix="/_consent", versions=VERSIONS, size=2)
    views = [banner_view(config, config.sites[0], lang) for lang in ("nl", "en", "de")]
    for view in views:
        heads.render(view, None, gpc=False, mode="opt-in", charset="utf-8", nonce="n",
                     page_token="t")
    assert len(heads._pieces) == 2
    for view in views:
        assert heads.render(view, None, gpc=False, mode="opt-in", charset="utf-8", nonce="n",
                            page_token="t") == fresh(view, None, "utf-8", "n", "t")
