"""The privacy-statement section a site owner publishes, generated from the config (pure).

Every figure in it (retention days, IP truncation, cookie lifetime, rate limits, block
duration) and every name (controller, contact, categories, cookies) is read from the config,
so the published promise cannot drift from what the gateway does: change the config,
regenerate the text. `consent-gateway privacy-statement` prints it as Markdown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

from gateway.core.config import GatewayConfig, SiteConfig
from gateway.core.enforcement.cookies import Classification, SeenCookie
from gateway.core.enforcement.inventory_report import printable
from gateway.core.privacystatement.phrases import (
    PHRASES,
    STATEMENT_LANGUAGES,
    GeoDetail,
    Phrases,
    StatementLanguage,
    Units,
)
from gateway.core.pseudonymise import truncate_ip
from gateway.core.types import CATEGORIES, LANGUAGES, Category, Language

__all__ = ["KEY_LIFETIME_HOURS", "STATEMENT_LANGUAGES", "StatementLanguage",
           "missing_settings", "privacy_statement"]

# Not a setting but the rate limiter's design: one key per UTC day, deleted once older than
# yesterday, so no key (and no way back from a hash to an address) outlives two days.
KEY_LIFETIME_HOURS: Final = 48
# Served over HTTPS the consent cookie gets this prefix (see `Gateway.cookie_name`).
_HOST_PREFIX: Final = "__Host-"
# The snippet keeps its signed consent in a first-party cookie of this name (static/consent.js).
_SNIPPET_COOKIE: Final = "cg_consent"
_EXAMPLE_IPV4: Final = "81.2.69.142"
_MARKDOWN_SPECIAL: Final = re.compile(r"([\\`*_\[\]<>|])")

T = TypeVar("T")
# A category text missing in the asked language: English first, it is read most widely.
_FALLBACK_LANGUAGES: Final[tuple[Language, ...]] = ("en", "nl")


@dataclass(frozen=True, slots=True)
class _Context:
    config: GatewayConfig
    site: SiteConfig
    language: StatementLanguage
    p: Phrases
    seen: Sequence[SeenCookie] = ()
    facts: Mapping[str, Classification] = field(default_factory=dict)

    def count(self, number: int, units: Units) -> str:
        return f"{number} {units[0] if number == 1 else units[1]}"

    def days(self, number: int) -> str:
        return self.count(number, self.p.days)

    def block(self) -> str:
        minutes = self.config.abuse.block_minutes
        if minutes % 60 == 0:
            return self.count(minutes // 60, self.p.hours)
        return self.count(minutes, self.p.minutes)

    def path(self, name: str) -> str:
        return f"{self.config.server.prefix}/{name}"


def missing_settings(config: GatewayConfig) -> tuple[str, ...]:
    """Keys the statement needs but the config leaves empty; the text shows a placeholder."""
    values = {"privacy.controller": config.privacy.controller,
              "privacy.contact": config.privacy.contact}
    return tuple(key for key, value in values.items() if not value.strip())


def privacy_statement(
    config: GatewayConfig,
    site: SiteConfig,
    language: StatementLanguage,
    *,
    cookies: Sequence[SeenCookie] = (),
    facts: Mapping[str, Classification] | None = None,
) -> str:
    """The privacy-statement section for `site` as Markdown, every figure from `config`.
    `cookies`: the site's cookie inventory, listed with what `facts` (the classification of
    each name) says about their purpose and retention."""
    ctx = _Context(config, site, language, PHRASES[language], cookies, facts or {})
    sections = (_introduction, _controller, _cookies, _seen_cookies, _consent_cookie, _proof,
                _analytics, _ip_addresses, _access_log, _abuse, _bases_and_retention, _rights)
    return "\n\n".join(block for section in sections for block in section(ctx)) + "\n"


# ------------------------------------------------------------------------------ sections


def _introduction(ctx: _Context) -> Iterator[str]:
    yield ctx.p.heading
    yield ctx.p.intro.format(revision=ctx.site.revision)


def _controller(ctx: _Context) -> Iterator[str]:
    yield ctx.p.controller_heading
    yield ctx.p.controller.format(controller=_controller_name(ctx.config),
                                  contact=_contact(ctx.config))


def _cookies(ctx: _Context) -> Iterator[str]:
    yield ctx.p.cookies_heading
    yield ctx.p.cookies_intro
    for category in CATEGORIES:
        yield _category_paragraph(ctx, category)
    notes = []
    if any(any(c in rule.pattern for c in "*?[") for rule in ctx.config.cookies):
        notes.append(ctx.p.glob_note)
    if ctx.config.consent.unknown_cookie_policy == "block":
        notes.append(ctx.p.unknown_blocked)
    if notes:
        yield " ".join(notes)


def _seen_cookies(ctx: _Context) -> Iterator[str]:
    rows = _seen_rows(ctx)
    if not rows:
        return
    yield ctx.p.seen_heading
    yield ctx.p.seen_intro
    table = [ctx.p.seen_header, ("---",) * 4, *(row for _, row in sorted(rows.items()))]
    yield "\n".join("| " + " | ".join(row) + " |" for row in table)


def _seen_rows(ctx: _Context) -> dict[tuple[int, str], tuple[str, str, str, str]]:
    """One row per cookie name, by category. A script's cookie is shown by the known name or
    pattern that classifies it, and left out when nothing does: its name came from a
    visitor's request, which anyone can fill with text they would like published here."""
    rows: dict[tuple[int, str], tuple[str, str, str, str]] = {}
    for cookie in ctx.seen:
        fact = ctx.facts.get(cookie.name)
        category = fact.category if fact else None
        if cookie.set_by == "script" and (fact is None or category is None):
            continue
        name = fact.pattern if cookie.set_by == "script" and fact else cookie.name
        purpose = fact.description if fact else ""
        if fact and fact.platform and purpose:
            purpose = f"{fact.platform}: {purpose}"
        rank = CATEGORIES.index(category) if category else len(CATEGORIES)
        rows[(rank, name)] = (_code(printable(name)), _category_title(ctx, category),
                              _escape(purpose) or "—", _escape(fact.retention if fact else "")
                              or "—")
    return rows


def _category_title(ctx: _Context, category: Category | None) -> str:
    if category is None and ctx.config.consent.unknown_cookie_policy == "block":
        return ctx.p.seen_unknown
    texts = _in_language(ctx.config.categories[category or "necessary"].texts, ctx.language)
    return _escape(texts.title) if texts else category or "necessary"


def _category_paragraph(ctx: _Context, category: Category) -> str:
    texts = _in_language(ctx.config.categories[category].texts, ctx.language)
    title = _escape(texts.title) if texts else category
    parts = [f"**{title}.**", _escape(texts.description) if texts else ""]
    names = _unique(f"`{rule.pattern}`" for rule in ctx.config.cookies
                    if rule.category == category)
    if category == "necessary":
        names.insert(0, ctx.p.consent_cookie_item.format(name=ctx.config.consent.cookie_name))
    # A `necessary` blocking rule never holds anything back, so it promises nothing here.
    hosts = _unique(f"`{rule.host}`" for rule in ctx.config.blocking.rules
                    if rule.host and rule.category == category != "necessary")
    if names:
        parts.append(ctx.p.category_cookies.format(names=", ".join(names)))
    if hosts:
        parts.append(ctx.p.category_hosts.format(hosts=", ".join(hosts)))
    if not names and not hosts:
        parts.append(ctx.p.category_empty)
    return " ".join(part for part in parts if part)


def _consent_cookie(ctx: _Context) -> Iterator[str]:
    name = ctx.config.consent.cookie_name
    yield ctx.p.consent_cookie_heading
    domain = ctx.config.consent.cookie_domain
    prefixed = ("__Secure-" if domain else _HOST_PREFIX) + name  # as ConsentService names it
    text = ctx.p.consent_cookie.format(name=name, host_name=prefixed,
                                       lifetime=ctx.days(ctx.config.consent.lifetime_days))
    if domain:
        text += " " + ctx.p.shared_cookie.format(domain=domain)
    if ctx.site.origins:
        # Extra origins are how a site lets pages outside the gateway embed the snippet.
        text += " " + ctx.p.snippet_cookie.format(name=_SNIPPET_COOKIE)
    yield text


def _proof(ctx: _Context) -> Iterator[str]:
    yield ctx.p.proof_heading
    yield ctx.p.proof
    if any(rule.mode != "opt-in" for rule in ctx.config.regions):
        yield ctx.p.regions
    if ctx.config.privacy.honour_gpc:
        yield ctx.p.gpc


def _analytics(ctx: _Context) -> Iterator[str]:
    yield ctx.p.analytics_heading
    analytics = ctx.config.analytics
    if not analytics.enabled:
        yield ctx.p.analytics_off
        return
    listed, where = ctx.p.location[_geo_detail(ctx.config)]
    texts = _in_language(ctx.config.categories["analytics"].texts, ctx.language)
    category = _escape(texts.title) if texts else "analytics"
    sentences = [
        ctx.p.analytics.format(category=category, location=listed),
        ctx.p.analytics_ip_geo.format(where=where) if where else ctx.p.analytics_ip,
    ]
    sentences.append(ctx.p.time_on_page)
    if ctx.site.search_params:
        params = ", ".join(f"‘{_escape(name)}’" for name in ctx.site.search_params)
        sentences.append(ctx.p.search_terms.format(params=params))
    if analytics.min_group_visitors > 1:
        sentences.append(ctx.p.small_groups.format(count=analytics.min_group_visitors))
    if ctx.config.privacy.dnt_denies_analytics:
        sentences.append(ctx.p.dnt)
    yield " ".join(sentences)


def _geo_detail(config: GatewayConfig) -> GeoDetail:
    # Without a GeoIP database nothing is looked up, whatever geo_detail asks for.
    if config.analytics.geoip_database is None:
        return "none"
    return config.privacy.geo_detail


def _ip_addresses(ctx: _Context) -> Iterator[str]:
    privacy = ctx.config.privacy
    yield ctx.p.ip_heading
    yield ctx.p.ip.format(
        places=ctx.p.ip_places[1 if ctx.config.analytics.access_log else 0],
        ipv4_kept=ctx.p.ipv4_kept[4 - privacy.ipv4_mask_bytes],
        example=_EXAMPLE_IPV4,
        truncated=truncate_ip(_EXAMPLE_IPV4, ipv4_mask_bytes=privacy.ipv4_mask_bytes),
        ipv6_bits=privacy.ipv6_prefix,
    )


def _access_log(ctx: _Context) -> Iterator[str]:
    if ctx.config.analytics.access_log:
        yield ctx.p.access_heading
        yield ctx.p.access


def _abuse(ctx: _Context) -> Iterator[str]:
    abuse = ctx.config.abuse
    if abuse.enabled:
        yield ctx.p.abuse_heading
        yield ctx.p.abuse.format(consent_limit=abuse.consent_per_minute,
                                 collect_limit=abuse.collect_per_minute,
                                 key_hours=KEY_LIFETIME_HOURS, block=ctx.block())


def _bases_and_retention(ctx: _Context) -> Iterator[str]:
    yield ctx.p.table_heading
    rows = [ctx.p.table_header, ("---", "---", "---"), *_table_rows(ctx)]
    yield "\n".join("| " + " | ".join(row) + " |" for row in rows)


def _table_rows(ctx: _Context) -> Iterator[tuple[str, str, str]]:
    config, p = ctx.config, ctx.p
    lifetime = ctx.days(config.consent.lifetime_days)
    yield p.row_necessary
    yield p.row_consented
    yield _fill(p.row_consent_cookie, name=config.consent.cookie_name, lifetime=lifetime)
    yield _fill(p.row_proof, days=ctx.days(config.retention.consent_log_days),
                lifetime=lifetime)
    if config.analytics.enabled:
        yield _fill(p.row_analytics, days=ctx.days(config.retention.analytics_days))
    if config.analytics.access_log:
        yield _fill(p.row_access, days=ctx.days(config.retention.access_log_days))
    if config.abuse.enabled:
        yield _fill(p.row_abuse, key_hours=KEY_LIFETIME_HOURS, block=ctx.block())


def _rights(ctx: _Context) -> Iterator[str]:
    p, preferences, me = ctx.p, ctx.path("preferences"), ctx.path("me")
    request = p.right_request.format(contact=_contact(ctx.config))
    if ctx.config.analytics.access_log:
        request += p.request_access_log
    yield p.rights_heading
    yield "\n".join(f"- {item}" for item in (
        p.right_withdraw.format(where=_withdraw_where(ctx, preferences)),
        p.right_access.format(me=me),
        p.right_erase.format(preferences=preferences, me=me),
        request,
        p.right_complaint,
    ))


def _withdraw_where(ctx: _Context, preferences: str) -> str:
    banner = _in_language(ctx.config.banner.texts, ctx.language)
    if ctx.config.banner.floating_button and banner is not None:
        return ctx.p.withdraw_where_button.format(button=_escape(banner.reopen),
                                                  preferences=preferences)
    return ctx.p.withdraw_where_page.format(preferences=preferences)


# ------------------------------------------------------------------------------- helpers


def _controller_name(config: GatewayConfig) -> str:
    value = config.privacy.controller.strip()
    return _escape(value) if value else "[controller: set privacy.controller]"


def _contact(config: GatewayConfig) -> str:
    """An e-mail address or URL as a Markdown autolink, anything else as plain text."""
    value = config.privacy.contact.strip()
    if not value:
        return "[contact: set privacy.contact]"
    if re.fullmatch(r"https?://[^\s<>]+|[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+", value):
        return f"<{value}>"
    return _escape(value)


def _in_language(texts: Mapping[Language, T], language: Language) -> T | None:
    for candidate in (language, *_FALLBACK_LANGUAGES, *LANGUAGES):
        if candidate in texts:
            return texts[candidate]
    return None


def _fill(row: tuple[str, str, str], **values: object) -> tuple[str, str, str]:
    data, basis, period = (cell.format(**values) for cell in row)
    return data, basis, period


def _code(text: str) -> str:
    """`text` as a code span inside a table cell, whatever backticks or bars it holds."""
    text = text.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _escape(text: str) -> str:
    # Texts come from the config; keep them from turning into markup (or breaking a table).
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
