"""The cookie firewall's per-process part: the classification rules, the script and embed
rules, and the inventory of cookies the upstream sets (counted here, written in batches)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from gateway.adapters.clock import Clock
from gateway.adapters.store import InventoryStore
from gateway.core.config import GatewayConfig
from gateway.core.consent.cookie import Consent
from gateway.core.enforcement.blocking import BlockRule
from gateway.core.enforcement.cookies import (
    CookieClassifier,
    expire_cookie,
    filter_set_cookies,
    set_cookie_name,
    strip_request_cookies,
)
from gateway.core.enforcement.inventory import CookieInventory
from gateway.core.errors import StoreError
from gateway.core.types import Category

log = logging.getLogger("consent_gateway")


class CookieFirewall:
    def __init__(self, config: GatewayConfig, *, store: InventoryStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.classifier = CookieClassifier(
            ((rule.pattern, rule.category) for rule in config.cookies),
            unknown=config.consent.unknown_cookie_policy,
        )
        self.block_rules = tuple(
            BlockRule(rule.host, rule.category, rule.markers) for rule in config.blocking
        )
        self.inventory = CookieInventory()

    def category_of(self, name: str) -> Category | None:
        """The category a rule puts this cookie in; `None` for a cookie no rule names."""
        return self.classifier.category_of(name)

    def filter_response_cookies(
        self, values: list[str], *, site: str, consent: Consent | None, own_cookie: str
    ) -> tuple[list[str], list[str]]:
        """Note every `Set-Cookie` in the inventory, then (passed, blocked) by consent."""
        now = self.clock()
        for value in values:
            category = self.classifier.category_of(set_cookie_name(value))
            self.inventory.observe(site=site, header_value=value, category=category, now=now)
        return filter_set_cookies(values, self.classifier, consent, own_cookie=own_cookie)

    def strip_request_cookies(
        self, raw: str, consent: Consent | None, *, own_cookie: str
    ) -> tuple[str, list[str]]:
        """(the `Cookie` header the app may see, names dropped from it)."""
        return strip_request_cookies(raw, self.classifier, consent, own_cookie=own_cookie)

    def expiring_cookies(self, site: str, names: Iterable[str]) -> list[str]:
        """`Set-Cookie` values deleting these cookies: at the path and domain the upstream set
        them with (learned by the inventory), and at `/` on this host in any case."""
        values = []
        for name in names:
            values.append(expire_cookie(name))
            path, domain = self.inventory.location(site, name) or ("/", "")
            if (path, domain) != ("/", ""):
                values.append(expire_cookie(name, path=path, domain=domain or None))
        return values

    async def load_inventory(self) -> None:
        self.inventory.remember(await self.store.cookie_inventory())

    async def flush_inventory(self) -> None:
        """Counts only: never worth failing a request or shutdown over."""
        rows = self.inventory.drain()
        try:
            await self.store.record_cookies(rows)
        except StoreError as exc:
            log.warning("cookie inventory not saved (%d cookie names): %s", len(rows), exc)
