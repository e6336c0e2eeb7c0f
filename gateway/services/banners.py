"""What the banner shows a request: its language, the cached view per site and language, and
the packaged script and stylesheet it loads."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from gateway.core.config import GatewayConfig, SiteConfig
from gateway.core.consent.banner import (
    BannerView,
    banner_view,
    negotiate_language,
    offered_language,
)
from gateway.core.request import RequestContext
from gateway.core.types import Language


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    etag: str
    gzipped: bytes  # gzip -9 of `body`, made once at start: about a third of the size


def load_assets(folder: Path) -> dict[str, Asset]:
    assets = {}
    for name, media_type in (("consent.js", "text/javascript"), ("consent.css", "text/css")):
        body = (folder / name).read_bytes()
        assets[name] = Asset(body, media_type, hashlib.sha256(body).hexdigest()[:16],
                             gzip.compress(body, compresslevel=9, mtime=0))
    return assets


class BannerService:
    def __init__(self, config: GatewayConfig, assets: dict[str, Asset]) -> None:
        self.config = config
        self.assets = assets
        self._views: dict[tuple[str, Language], BannerView] = {}

    def language_for(self, ctx: RequestContext, requested: object = None) -> Language:
        """Config override, else what the page asks for (`<html lang>`), else the browser."""
        return (
            ctx.site.language
            or offered_language(requested, ctx.site)
            or negotiate_language(ctx.accept_language, ctx.site)
        )

    def view(self, site: SiteConfig, language: Language) -> BannerView:
        key = (site.id, language)
        if key not in self._views:
            self._views[key] = banner_view(self.config, site, language)
        return self._views[key]

    def view_for(self, ctx: RequestContext, requested: object = None) -> BannerView:
        return self.view(ctx.site, self.language_for(ctx, requested))

    def asset_version(self, name: str) -> str:
        return self.assets[name].etag
