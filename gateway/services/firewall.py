"""The cookie firewall's per-process part: the classification (rules, tracker catalogue,
cookie database), the script and embed rules, and the inventory of cookies the upstream
sets and page scripts write (counted here, written in batches)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from gateway.adapters.catalogue import load_catalogue
from gateway.adapters.catalogue.cookie_database import cookie_database, tracker_cookies
from gateway.adapters.clock import Clock
from gateway.adapters.store import InventoryStore
from gateway.core.config import GatewayConfig
from gateway.core.consent.cookie import Consent
from gateway.core.enforcement.catalogue import merged_rules
from gateway.core.enforcement.cookies import (
    Classification,
    CookieClassifier,
    expire_cookie,
    filter_set_cookies,
    script_cookie_domains,
    set_cookie_name,
    strip_request_cookies,
)
from gateway.core.enforcement.inventory import CookieInventory
from gateway.core.enforcement.rules import BlockRule, BlockRules
from gateway.core.errors import StoreError
from gateway.core.types import Category

log = logging.getLogger("consent_gateway")

# Names are the upstream's choice: past this many, no more first-sight log lines.
MAX_REPORTED = 1000


def cookie_classifier(config: GatewayConfig) -> CookieClassifier:
    """The site owner's `[[cookies]]` rules, then (with `consent.cookie_database`) the
    tracker catalogue's cookie names and the cookie database."""
    known = config.consent.cookie_database
    return CookieClassifier(
        ((rule.pattern, rule.category) for rule in config.cookies),
        unknown=config.consent.unknown_cookie_policy,
        catalogue=tracker_cookies() if known else (),
        database=cookie_database() if known else (),
    )


def block_rules(config: GatewayConfig) -> BlockRules:
    """The site owner's `[[blocking.rules]]` over the tracker catalogue (unless
    `blocking.catalogue` is off)."""
    own = (BlockRule(r.host, r.category, r.markers, r.urls, r.paths) for r in config.blocking.rules)
    return merged_rules(load_catalogue() if config.blocking.catalogue else None, own)


class CookieFirewall:
    def __init__(self, config: GatewayConfig, *, store: InventoryStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.classifier = cookie_classifier(config)
        self.block_rules = block_rules(config)
        self.inventory = CookieInventory()
        self._reported: set[tuple[str, str]] = set()

    def category_of(self, name: str) -> Category | None:
        """The category a rule, the catalogue or the database puts this cookie in; `None`
        for a cookie none of them names."""
        return self.classifier.category_of(name)

    def classify(self, name: str) -> Classification:
        """The category, where it came from, and what the known-cookie data says."""
        return self.classifier.classify(name)

    def filter_response_cookies(
        self, values: list[str], *, site: str, consent: Consent | None, own_cookie: str
    ) -> tuple[list[str], list[str]]:
        """Note every `Set-Cookie` in the inventory, then (passed, blocked) by consent."""
        now = self.clock()
        for value in values:
            known = self.classifier.classify(set_cookie_name(value))
            self.inventory.observe(site=site, header_value=value, classification=known, now=now)
        passed, blocked = filter_set_cookies(values, self.classifier, consent,
                                             own_cookie=own_cookie)
        for value in blocked:
            self._report_unknown(site, set_cookie_name(value))
        return passed, blocked

    def _report_unknown(self, site: str, name: str) -> None:
        """One log line the first time this process holds back a cookie nothing knows: it
        may be the site's session or CSRF cookie, and a log-in that silently breaks is the
        worst way to find out."""
        key = (site, name)
        if key in self._reported or len(self._reported) >= MAX_REPORTED:
            return
        if self.classifier.classify(name).source != "unknown":
            return
        self._reported.add(key)
        log.warning("site %s: cookie %r held back: no rule, catalogue or database entry "
                    "knows it (consent.unknown_cookie_policy); if the site needs it, add a "
                    "[[cookies]] rule, e.g. pattern = %r, category = \"necessary\"",
                    site, name[:100], name[:100])

    def strip_request_cookies(
        self, raw: str, consent: Consent | None, *, own_cookie: str, site: str | None = None
    ) -> tuple[str, list[str]]:
        """(the `Cookie` header the app may see, names dropped from it). With `site`, the
        cookies the gateway never saw set there go into the inventory as a script's."""
        kept, dropped = strip_request_cookies(raw, self.classifier, consent,
                                              own_cookie=own_cookie)
        if site is not None:
            self._note_request_cookies(site, raw, own_cookie)
        return kept, dropped

    def _note_request_cookies(self, site: str, raw: str, own_cookie: str) -> None:
        names = (name for pair in raw.split(";")
                 if (name := pair.split("=", 1)[0].strip()) != own_cookie)
        self.inventory.observe_request_cookies(site=site, names=names,
                                               classify=self.classifier.classify,
                                               now=self.clock())

    def expiring_cookies(
        self, site: str, names: Iterable[str], *, host: str | None = None
    ) -> list[str]:
        """`Set-Cookie` values deleting these cookies: at `/` on this host in any case; then
        at the path and domain the upstream set them with (learned by the inventory), or,
        for a cookie never seen set (a script's) and given the request's `host`, at `/` on
        each domain a script there may have used."""
        values = []
        for name in names:
            values.append(expire_cookie(name))
            where = self.inventory.location(site, name)
            if where is None and host is not None:
                values.extend(expire_cookie(name, domain=domain)
                              for domain in script_cookie_domains(host))
                continue
            path, domain = where or ("/", "")
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
