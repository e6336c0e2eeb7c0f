"""The tags injected at the top of each page's `<head>`, rendered once and filled in.

What `banner_tags` writes depends on the site and language (the banner view), the
visitor's consent, GPC and regional regime, and the page's charset; only the nonce and the
page token change from response to response. So the markup is rendered once per such key
(a bounded LRU) with marks where those two go, and each response joins the pieces with its
own nonce and token: the bytes are exactly what rendering it afresh would give.
"""

from __future__ import annotations

import html
import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import Final

from gateway.core.config.regions import Mode
from gateway.core.consent.banner import BannerView, banner_tags
from gateway.core.consent.cookie import Consent
from gateway.core.enforcement.html import markup_bytes

# Control characters: escaped JSON (the state) never holds them raw, escaping leaves them.
_NONCE: Final = "\x01N\x01"
_PAGE_TOKEN_MARK: Final = "\x01T\x01"  # noqa: S105 - a mark, not a secret
_MARKS: Final = re.compile(b"(\x01[NT]\x01)")
_NONCE_MARK: Final = _NONCE.encode()
_TOKEN_MARK: Final = _PAGE_TOKEN_MARK.encode()
_Key = tuple[int, bool, str, Consent | None, str]


class HeadMarkup:
    """`render` gives `banner_tags` in the page's charset; `size` keys are kept."""

    def __init__(self, *, prefix: str, versions: Mapping[str, str], size: int = 512) -> None:
        self._prefix = prefix
        self._versions = dict(versions)
        self._size = size
        self._pieces: OrderedDict[_Key, tuple[BannerView, list[bytes]]] = OrderedDict()

    def render(
        self, view: BannerView, consent: Consent | None, *, gpc: bool, mode: Mode,
        charset: str, nonce: str, page_token: str,
    ) -> bytes:
        key = (id(view), gpc, mode, consent, charset)
        cached = self._pieces.get(key)
        if cached is None or cached[0] is not view:  # an id can outlive its view
            cached = view, self._template(view, consent, gpc=gpc, mode=mode, charset=charset)
            self._pieces[key] = cached
            if len(self._pieces) > self._size:
                self._pieces.popitem(last=False)
        else:
            self._pieces.move_to_end(key)
        nonce_bytes = markup_bytes(html.escape(nonce, quote=True), charset)
        token_bytes = markup_bytes(html.escape(page_token, quote=True), charset)
        return b"".join(
            nonce_bytes if piece == _NONCE_MARK else token_bytes if piece == _TOKEN_MARK
            else piece
            for piece in cached[1]
        )

    def _template(
        self, view: BannerView, consent: Consent | None, *, gpc: bool, mode: Mode, charset: str
    ) -> list[bytes]:
        state = view.state_attribute(consent, gpc=gpc, mode=mode)
        tags = banner_tags(state, prefix=self._prefix, nonce=_NONCE, versions=self._versions,
                           page_token=_PAGE_TOKEN_MARK)
        return _MARKS.split(markup_bytes(tags, charset))
