"""Configuration schema, environment overrides and the generated reference (pure).

The schema is the single source of truth: validation, `GATEWAY_<SECTION>_<KEY>` overrides
and `docs/configuration.md` are all derived from the models below, so a key cannot exist
without help text or go undocumented.

Reading the TOML file and secret files is I/O and lives in `gateway.configfile`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gateway.core.errors import ConfigError, ConfigProblem
from gateway.core.types import CATEGORIES, LANGUAGES, Category, Language

ENV_PREFIX = "GATEWAY"
MAX_LIFETIME_DAYS = 395
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Section):
    host: str = Field("127.0.0.1", description="Address `serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `serve` listens on.")
    workers: int = Field(
        1, ge=1, le=64,
        description="Worker processes for `serve`. They share the SQLite file; the database "
        "serialises consent-log appends, so any number keeps the hash chain intact.",
    )
    prefix: str = Field(
        "/_consent",
        description="Path prefix of the gateway's own endpoints (banner files, consent API).",
    )
    trusted_proxies: tuple[str, ...] = Field(
        (),
        description="Addresses or networks (CIDR) of reverse proxies in front of the gateway. "
        "`X-Forwarded-For`/`X-Forwarded-Proto` are believed only from these; otherwise the "
        "client address is the socket's.",
    )
    secret_keys: tuple[str, ...] = Field(
        (),
        description="Signing keys for the consent cookie, newest first (older ones still "
        "verify, for rotation). Only from the environment (`GATEWAY_SERVER_SECRET_KEYS`, "
        "comma-separated) or `secret_keys_file`; refused in the TOML file.",
    )
    upstream_connect_timeout: float = Field(
        3.0, gt=0, le=60,
        description="Seconds to wait for a connection to the upstream before answering 502.",
    )
    upstream_read_timeout: float = Field(
        30.0, gt=0, le=600,
        description="Seconds to wait for the upstream's next bytes before answering 504.",
    )
    admin_listen: str | None = Field(
        None,
        description="`host:port` of a separate listener for `/_consent/admin/*` (e.g. "
        "`127.0.0.1:9100`, reachable only from the machine or a VPN). When set, the admin "
        "routes exist only there and the public listener answers 404 for them.",
    )
    secret_keys_file: str = Field(
        "data/secret_keys",
        description="File with one signing key per line, newest first, used when "
        "`GATEWAY_SERVER_SECRET_KEYS` is not set. Created with one random key (mode 0600) "
        "if it does not exist.",
    )

    @field_validator("prefix")
    @classmethod
    def _prefix_is_a_path(cls, value: str) -> str:
        if not re.fullmatch(r"/[A-Za-z0-9_\-/]*[A-Za-z0-9_\-]", value):
            raise ValueError("must start with '/' and not end with '/', e.g. '/_consent'")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an IP address or network") from exc
        return value

    @field_validator("admin_listen")
    @classmethod
    def _is_host_port(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError("must look like '127.0.0.1:9100'")
        return value

    @property
    def admin_port(self) -> int | None:
        return int(self.admin_listen.rpartition(":")[2]) if self.admin_listen else None

    @field_validator("secret_keys")
    @classmethod
    def _keys_are_long(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(len(key) < 32 for key in value):
            raise ValueError("every secret key must be at least 32 characters")
        return value


class ConsentConfig(_Section):
    cookie_name: str = Field(
        "consent",
        description="Name of the consent cookie. Served over HTTPS it gets the `__Host-` "
        "prefix, which browsers bind to the exact host.",
    )
    lifetime_days: int = Field(
        365, ge=1, le=MAX_LIFETIME_DAYS,
        description="How long a decision holds before the banner asks again (the cookie's "
        f"`Max-Age`). At most {MAX_LIFETIME_DAYS} days (13 months, as regulators advise).",
    )
    unknown_cookie_policy: Literal["block", "allow"] = Field(
        "block",
        description="What happens to a cookie the upstream sets that no `[[cookies]]` rule "
        "names: `block` keeps it from the browser until the visitor accepts every optional "
        "category, `allow` treats it as necessary.",
    )

    @field_validator("cookie_name")
    @classmethod
    def _is_cookie_token(cls, value: str) -> str:
        if not _COOKIE_NAME.fullmatch(value) or value.startswith("__"):
            raise ValueError("must be a cookie token without a '__' prefix")
        return value


class SiteConfig(_Section):
    id: str = Field(description="Short id of the site (lowercase letters, digits, `-`, `_`).")
    hosts: tuple[str, ...] = Field(
        (),
        description="Host names this site answers to (the request's `Host`, port ignored). "
        "A request for an unknown host is served as the first site.",
    )
    origins: tuple[str, ...] = Field(
        (),
        description="Extra origins (`https://shop.example`) allowed to change consent for "
        "this site, e.g. pages that embed the snippet. The gateway's own origin is always "
        "allowed.",
    )
    upstream: str | None = Field(
        None,
        description="URL of the website the gateway proxies for this site. Empty: the "
        "built-in demo site (or the wrapped app when used as middleware).",
    )
    privacy_statement_url: str = Field(
        "/privacy", description="Link to the site's privacy statement, shown in the banner: a "
        "path on the site (`/privacy`) or an http(s) URL."
    )
    revision: int = Field(
        1, ge=1,
        description="Policy revision. Raise it when the cookie or privacy policy changes: "
        "consents given under an older revision no longer count and the banner asks again.",
    )
    languages: tuple[Language, ...] = Field(
        ("nl", "en", "de", "fr"),
        description="Languages offered, chosen by `Accept-Language`.",
    )
    default_language: Language = Field(
        "nl", description="Language used when `Accept-Language` names none of `languages`."
    )
    language: Language | None = Field(
        None,
        description="Always show the banner in this language, whatever the browser asks or "
        "the page's `<html lang>` says. Empty: the page's `<html lang>` if offered, else "
        "`Accept-Language`.",
    )

    @field_validator("id")
    @classmethod
    def _is_slug(cls, value: str) -> str:
        if not _SLUG.fullmatch(value):
            raise ValueError("must be lowercase letters, digits, '-' or '_' (max 63)")
        return value

    @field_validator("hosts")
    @classmethod
    def _lowercase_hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(host.lower() for host in value)

    @field_validator("origins")
    @classmethod
    def _are_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", origin):
                raise ValueError(f"{origin!r} is not an origin like 'https://shop.example'")
        return tuple(origin.lower() for origin in value)

    @field_validator("upstream")
    @classmethod
    def _is_http_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s]*)?", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("privacy_statement_url")
    @classmethod
    def _is_page_link(cls, value: str) -> str:
        # A link every visitor clicks: a path on the site or an http(s) URL, never a
        # `javascript:` or `data:` one.
        if not re.fullmatch(r"(/(?!/)|https?://[^\s/?#]+)[^\s]*", value):
            raise ValueError(f"{value!r} is neither a path like '/privacy' nor an http(s) URL")
        return value

    @model_validator(mode="after")
    def _default_language_is_offered(self) -> SiteConfig:
        if self.default_language not in self.languages:
            raise ValueError("default_language must be one of languages")
        if self.language is not None and self.language not in self.languages:
            raise ValueError("language must be one of languages")
        return self


class CategoryTexts(_Section):
    title: str = Field(min_length=1, max_length=80, description="Name of the category.")
    description: str = Field(
        min_length=1, max_length=600, description="What the category's cookies do."
    )


class CategoryConfig(_Section):
    texts: dict[Language, CategoryTexts] = Field(
        description="Title and description per language."
    )


class BannerTexts(_Section):
    title: str = Field(min_length=1, max_length=120, description="Heading of the banner.")
    body: str = Field(min_length=1, max_length=800, description="Short explanation.")
    accept_all: str = Field(min_length=1, max_length=40, description="Accept-all button.")
    reject_all: str = Field(min_length=1, max_length=40, description="Reject-all button.")
    settings: str = Field(min_length=1, max_length=40, description="Opens the second layer.")
    save: str = Field(min_length=1, max_length=40, description="Saves the chosen switches.")
    privacy_link: str = Field(
        min_length=1, max_length=80, description="Text of the privacy-statement link."
    )
    reopen: str = Field(
        min_length=1, max_length=40, description="Floating button that reopens the settings."
    )
    always_on: str = Field(
        min_length=1, max_length=40, description="Label of the locked necessary switch."
    )
    withdraw: str = Field(
        min_length=1, max_length=60, description="Button that withdraws all optional consent."
    )
    back: str = Field(
        min_length=1, max_length=60,
        description="Link from the preferences page back to the website.",
    )
    embed_blocked: str = Field(
        min_length=1, max_length=300,
        description="Shown in place of a held-back embed (video, map); `{host}` and "
        "`{category}` are filled in.",
    )
    load_once: str = Field(
        min_length=1, max_length=40, description="Loads one held-back embed, this time only."
    )
    always_allow: str = Field(
        min_length=1, max_length=60,
        description="Grants the embed's category for good; `{category}` is filled in.",
    )
    your_data: str | None = Field(
        None, max_length=80,
        description="Heading of the visitor's own-data section (download, erase). Empty: the "
        "built-in text for the language.",
    )
    download_data: str | None = Field(
        None, max_length=80,
        description="Link that downloads the visitor's data as JSON. Empty: built-in text.",
    )
    erase_data: str | None = Field(
        None, max_length=80,
        description="Button that erases the visitor's analytics data and withdraws consent. "
        "Empty: built-in text.",
    )
    erase_explain: str | None = Field(
        None, max_length=400,
        description="What erasing does, shown beside the button. Empty: built-in text.",
    )
    consent_id_label: str | None = Field(
        None, max_length=80,
        description="Label of the visitor's consent id (to quote when writing in). Empty: "
        "built-in text.",
    )
    erased: str | None = Field(
        None, max_length=200,
        description="Confirmation shown after an erasure. Empty: built-in text.",
    )


class BannerConfig(_Section):
    floating_button: bool = Field(
        True,
        description="Show the small floating button that reopens the settings once a choice "
        "is made. Turn it off only if every page links to the settings (`data-consent-open`).",
    )
    texts: dict[Language, BannerTexts] = Field(description="Banner texts per language.")


ConsentSignal = Literal[
    "ad_storage", "ad_user_data", "ad_personalization", "analytics_storage",
    "functionality_storage", "personalization_storage", "security_storage",
]


class RegionDefault(_Section):
    regions: tuple[str, ...] = Field(
        min_length=1,
        description="ISO 3166-1 country or 3166-2 region codes (`US`, `US-CA`) this default "
        "applies to.",
    )
    granted: tuple[ConsentSignal, ...] = Field(
        (),
        description="Consent Mode signals granted by default in these regions; all others "
        "are denied until the visitor decides.",
    )

    @field_validator("regions")
    @classmethod
    def _are_region_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if not re.fullmatch(r"[A-Z]{2}(-[A-Z0-9]{1,3})?", code):
                raise ValueError(f"{code!r} is not a code like 'US' or 'US-CA'")
        return value


class ConsentModeConfig(_Section):
    enabled: bool = Field(
        True,
        description="Emit Google Consent Mode v2 (`gtag('consent', 'default'|'update', ...)` "
        "into `dataLayer`): every signal denied until the visitor decides, `security_storage` "
        "granted as necessary.",
    )
    wait_for_update_ms: int | None = Field(
        500, ge=0, le=10_000,
        description="`wait_for_update` passed with the default, in milliseconds (none: omit).",
    )
    regions: tuple[RegionDefault, ...] = Field(
        (), description="Per-region defaults, e.g. signals granted by default outside the EEA."
    )


class CookieRule(_Section):
    pattern: str = Field(
        min_length=1, max_length=128,
        description="Cookie name or glob (`_ga*`, `_gcl_*`) matched case-sensitively.",
    )
    category: Category = Field(description="Category the matching cookies belong to.")


class BlockingRule(_Section):
    host: str = Field(
        min_length=1, max_length=253,
        description="Script or iframe host: the domain and all its subdomains "
        "(`googletagmanager.com`), or a glob (`*.fbcdn.net`).",
    )
    category: Category = Field(description="Category the host's scripts and embeds need.")
    markers: tuple[str, ...] = Field(
        (),
        description="Inline-script markers (`gtag(`, `fbq(`, `_paq.push`): an inline script "
        "containing one is held back like the host's scripts.",
    )

    @field_validator("host")
    @classmethod
    def _lowercase_host(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9.*?\-\[\]]+", value):
            raise ValueError(f"{value!r} is not a host name or glob")
        return value.lower()


class PrivacyConfig(_Section):
    ipv4_mask_bytes: int = Field(
        1, ge=1, le=3,
        description="Trailing bytes of an IPv4 address zeroed before anything is stored "
        "(1: /24, 2: /16, 3: /8), as Matomo does.",
    )
    ipv6_prefix: Literal[32, 48, 64] = Field(
        48, description="Leading bits of an IPv6 address kept before anything is stored."
    )
    honour_gpc: bool = Field(
        True,
        description="Treat `Sec-GPC: 1` (Global Privacy Control) as a refusal of marketing "
        "and publish `/.well-known/gpc.json`.",
    )
    gpc_last_update: date = Field(
        date(2026, 11, 21), description="`lastUpdate` published in `/.well-known/gpc.json`."
    )
    dnt_denies_analytics: bool = Field(
        False, description="Treat `DNT: 1` as a refusal of analytics."
    )
    controller: str = Field(
        "", max_length=300,
        description="Who is responsible for the data (name and address of the site owner), "
        "for `consent-gateway privacy-statement`.",
    )
    contact: str = Field(
        "", max_length=200,
        description="Where visitors send privacy requests (e-mail address or URL), for "
        "`consent-gateway privacy-statement`.",
    )
    geo_detail: Literal["none", "country", "region", "city"] = Field(
        "region",
        description="How precisely analytics records where a visitor is, looked up on the full "
        "address in memory (which is never stored): `country`, `region` (country and "
        "subdivision, e.g. GB and ENG), `city`, or `none`. Needs `analytics.geoip_database`.",
    )


class AnalyticsConfig(_Section):
    enabled: bool = Field(
        True,
        description="Collect first-party analytics from visitors who accepted the `analytics` "
        "category. Off: the beacon answers 202 and stores nothing.",
    )
    geoip_database: str | None = Field(
        None,
        description="MaxMind GeoLite2/GeoIP2 City or Country database (`.mmdb`) for countries "
        "and regions. Empty: no location is recorded.",
    )
    page_token_minutes: int = Field(
        240, ge=5, le=1440,
        description="How long the signed page token of a page served through the gateway "
        "proves its beacons (an open tab sending events after this is dropped as `forged`).",
    )
    session_minutes: int = Field(
        30, ge=1, le=1440,
        description="A visit ends after this many minutes without an event from the visitor.",
    )
    min_group_visitors: int = Field(
        5, ge=1, le=1000,
        description="Stats rows (a page, a country, a referrer ...) with fewer distinct "
        "visitors than this are folded into \"other\", so nobody is singled out.",
    )
    batch_size: int = Field(
        500, ge=1, le=10_000,
        description="Events (and access-log rows) written per database transaction.",
    )
    flush_interval_ms: int = Field(
        250, ge=10, le=60_000,
        description="Longest time an accepted event waits in memory before it is written.",
    )
    queue_size: int = Field(
        50_000, ge=100, le=1_000_000,
        description="Accepted events waiting to be written. When full, the beacon answers "
        "503 with `Retry-After` rather than dropping an event silently.",
    )
    access_log: bool = Field(
        True,
        description="Keep an access log of requests the gateway handles (time, site, method, "
        "path without query, status, duration, truncated IP, browser family) for security; "
        "no consent needed, deleted after the retention period.",
    )


class RetentionConfig(_Section):
    analytics_days: int = Field(
        365, ge=1, le=3650,
        description="Analytics events (and the daily bot counts) are deleted this many days "
        "after they were recorded.",
    )
    access_log_days: int = Field(
        365, ge=1, le=3650,
        description="Access-log rows are deleted this many days after they were recorded.",
    )
    consent_log_days: int = Field(
        365, ge=30, le=3650,
        description="A consent record is reduced to a tombstone (sequence number and hashes, "
        "so the chain still verifies) this many days after the consent it proves ended "
        "(withdrawn, replaced or expired); never while that consent is in force.",
    )
    interval_minutes: int = Field(
        60, ge=1, le=1440,
        description="How often the retention job runs (it also runs at start).",
    )
    batch_size: int = Field(
        5000, ge=100, le=100_000,
        description="Rows deleted per transaction, so requests keep flowing during a purge.",
    )


class AbuseConfig(_Section):
    enabled: bool = Field(
        True,
        description="Rate-limit the consent and collect endpoints per client and block "
        "repeat offenders for a while. Clients are told apart by a keyed hash of their "
        "address whose key rotates daily and is deleted after 48 hours; no address is stored.",
    )
    consent_per_minute: int = Field(
        30, ge=1, le=100_000,
        description="Consent decisions (`/consent`, `/withdraw`, `/preferences`, "
        "`/me/erase`) one client may send per minute before getting 429.",
    )
    collect_per_minute: int = Field(
        600, ge=1, le=1_000_000,
        description="Analytics beacons one client may send per minute before getting 429.",
    )
    offences_to_block: int = Field(
        3, ge=1, le=60,
        description="Minutes within the last hour in which a client went over a limit before "
        "it is put on the blocklist.",
    )
    block_minutes: int = Field(
        60, ge=1, le=1440,
        description="How long a blocked client gets 429 on every gateway endpoint. At most a "
        "day: the hash keys that recognise it are deleted after 48 hours.",
    )


class AdminConfig(_Section):
    token_hashes: tuple[str, ...] = Field(
        (),
        description="SHA-256 hashes (`sha256:<hex>`, printed by `consent-gateway hash-token`) "
        "of the bearer tokens that may use `/_consent/admin/*`. With `basic_users` also "
        "empty, the admin API is off.",
    )
    basic_users: tuple[str, ...] = Field(
        (),
        description="Users who may log in with HTTP Basic (a browser asks for name and "
        "password, e.g. for the dashboard), as `name:scrypt:<salt>:<hash>` lines printed by "
        "`consent-gateway hash-token --basic NAME`. Passwords are never stored.",
    )
    failed_per_minute: int = Field(
        10, ge=1, le=1000,
        description="Failed admin log-ins one client may make per minute; after that it gets "
        "429, and repeated offences block it as in `[abuse]`. Failures are logged without "
        "the secret or the address.",
    )

    @field_validator("basic_users")
    @classmethod
    def _are_user_hashes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not re.fullmatch(r"[^:\s]{1,64}:scrypt:[0-9a-f]{32}:[0-9a-f]{64}", item):
                raise ValueError("each entry must look like 'name:scrypt:<32 hex>:<64 hex>' "
                                 "(consent-gateway hash-token --basic NAME)")
        return value

    @field_validator("token_hashes")
    @classmethod
    def _are_hashes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not re.fullmatch(r"sha256:[0-9a-f]{64}", item):
                raise ValueError("each entry must look like 'sha256:<64 hex digits>'")
        return value


class StorageConfig(_Section):
    backend: Literal["sqlite"] = Field("sqlite", description="Storage backend.")
    path: str = Field(
        "data/gateway.sqlite3",
        description="SQLite database file (WAL mode; created with its directory).",
    )


class GatewayConfig(_Section):
    server: ServerConfig = Field(default_factory=ServerConfig, description="[server]")
    consent: ConsentConfig = Field(default_factory=ConsentConfig, description="[consent]")
    sites: tuple[SiteConfig, ...] = Field(min_length=1, description="[[sites]]")
    categories: dict[Category, CategoryConfig] = Field(description="[categories.*]")
    banner: BannerConfig = Field(description="[banner]")
    consent_mode: ConsentModeConfig = Field(
        default_factory=ConsentModeConfig, description="[consent_mode]"
    )
    cookies: tuple[CookieRule, ...] = Field((), description="[[cookies]]")
    blocking: tuple[BlockingRule, ...] = Field((), description="[[blocking]]")
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig, description="[privacy]")
    analytics: AnalyticsConfig = Field(
        default_factory=AnalyticsConfig, description="[analytics]"
    )
    retention: RetentionConfig = Field(
        default_factory=RetentionConfig, description="[retention]"
    )
    abuse: AbuseConfig = Field(default_factory=AbuseConfig, description="[abuse]")
    admin: AdminConfig = Field(default_factory=AdminConfig, description="[admin]")
    storage: StorageConfig = Field(default_factory=StorageConfig, description="[storage]")

    @model_validator(mode="after")
    def _consistent(self) -> GatewayConfig:
        problems = list(_consistency_problems(self.model_dump()))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def site_by_id(self, site_id: str) -> SiteConfig | None:
        return next((site for site in self.sites if site.id == site_id), None)


def _consistency_problems(data: Mapping[str, Any]) -> Iterator[str]:
    """Checks across sections, on plain data: `parse_config` also runs them on the raw
    document when a field is invalid (pydantic then skips the model validator), so every
    problem is reported in one go."""
    sites = [site for site in _list_of(data.get("sites")) if isinstance(site, Mapping)]
    ids: list[str] = [site["id"] for site in sites if isinstance(site.get("id"), str)]
    for site_id in sorted({i for i in ids if ids.count(i) > 1}):
        yield f"sites: id {site_id!r} is used twice"
    hosts = [
        host.lower() for site in sites for host in _list_of(site.get("hosts"))
        if isinstance(host, str)
    ]
    for host in sorted({h for h in hosts if hosts.count(h) > 1}):
        yield f"sites: host {host!r} belongs to two sites"
    categories = data.get("categories")
    categories = categories if isinstance(categories, Mapping) else {}
    for category in CATEGORIES:
        if category not in categories:
            yield f"categories.{category}: missing (all of {', '.join(CATEGORIES)} are needed)"
    default_languages = SiteConfig.model_fields["languages"].default
    offered = {
        lang
        for site in sites
        for lang in _list_of(site.get("languages", default_languages))
        if lang in LANGUAGES
    }
    banner_texts = _texts_of(data.get("banner"))
    for lang in sorted(offered):
        if lang not in banner_texts:
            yield f"banner.texts.{lang}: missing, but a site offers {lang!r}"
        for category, conf in sorted(categories.items()):
            if isinstance(conf, Mapping) and lang not in _texts_of(conf):
                yield f"categories.{category}.texts.{lang}: missing, but a site offers {lang!r}"


def _list_of(value: Any) -> list[Any] | tuple[Any, ...]:
    return value if isinstance(value, list | tuple) else []


def _texts_of(section: Any) -> Mapping[str, Any]:
    texts = section.get("texts") if isinstance(section, Mapping) else None
    return texts if isinstance(texts, Mapping) else {}


# --------------------------------------------------------------------------- validation


def parse_config(raw: Mapping[str, Any], environ: Mapping[str, str]) -> GatewayConfig:
    """Validate a TOML document with environment overrides applied; list every problem."""
    merged, problems = apply_env_overrides(raw, environ)
    try:
        config = GatewayConfig.model_validate(merged)
    except ValidationError as exc:
        problems.extend(_problems_from(exc, merged))
        if any(err["loc"] for err in exc.errors()):
            # A field failed, so the model validator did not run: check the raw document.
            problems.extend(
                ConfigProblem(*message.split(": ", 1)) for message in _consistency_problems(merged)
            )
    if problems:
        raise ConfigError(problems)
    return config


def _problems_from(exc: ValidationError, raw: Mapping[str, Any]) -> list[ConfigProblem]:
    problems = []
    errors = exc.errors(include_url=False)
    nested = {err["loc"][:n] for err in errors for n in range(len(err["loc"]))}
    for err in errors:
        if err["type"] == "too_short" and err["loc"] in nested:
            continue  # pydantic's echo of an item that failed: the item's error says it
        key = _key_of(err["loc"], raw)
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key (misspelt?)"
        for part in message.split("; ") if not key else [message]:
            sub_key, _, sub_msg = part.partition(": ")
            if not key and sub_msg:
                problems.append(ConfigProblem(sub_key, sub_msg))
            else:
                problems.append(ConfigProblem(key or "(top level)", part))
    return problems


def _key_of(loc: tuple[int | str, ...], raw: Mapping[str, Any]) -> str:
    """`("sites", 0, "revision")` -> `sites[0].revision`, naming the site id when known."""
    parts: list[str] = []
    node: Any = raw
    for item in loc:
        if isinstance(item, int):
            site_id = node[item].get("id") if _indexable(node, item) else None
            parts[-1] += f"[{site_id or item}]"
        else:
            parts.append(item)
        node = node[item] if _indexable(node, item) else None
    return ".".join(parts)


def _indexable(node: Any, item: int | str) -> bool:
    if isinstance(node, list | tuple):
        return isinstance(item, int) and 0 <= item < len(node) and isinstance(node[item], dict)
    return isinstance(node, dict) and item in node


# --------------------------------------------------------------------- env overrides


@dataclass(frozen=True, slots=True)
class ConfigKey:
    """One documented leaf of the configuration, as the reference lists it."""

    path: str
    env: str
    type: str
    default: str
    help: str


def apply_env_overrides(
    raw: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[dict[str, Any], list[ConfigProblem]]:
    """Return a copy of `raw` with every `GATEWAY_...` variable applied to its key."""
    merged: dict[str, Any] = json.loads(json.dumps(raw, default=str))
    problems: list[ConfigProblem] = []
    _override_model(GatewayConfig, merged, ENV_PREFIX, "", environ, problems)
    return merged, problems


def _override_model(
    model: type[BaseModel],
    node: dict[str, Any],
    env_prefix: str,
    path: str,
    environ: Mapping[str, str],
    problems: list[ConfigProblem],
) -> None:
    for name, field in model.model_fields.items():
        env = f"{env_prefix}_{name.upper()}"
        key = f"{path}{name}"
        annotation = field.annotation
        if _is_model(annotation):
            child = node.get(name)
            if isinstance(child, dict) or _any_env_under(env, environ):
                node[name] = child if isinstance(child, dict) else {}
                _override_model(_unwrap(annotation), node[name], env, key + ".", environ,
                                problems)
        elif _model_items(annotation) is not None:
            _override_model_items(annotation, node, name, env, key, environ, problems)
        elif env in environ:
            node[name] = _env_value(environ[env], annotation, key, problems)


def _override_model_items(
    annotation: Any,
    node: dict[str, Any],
    name: str,
    env: str,
    key: str,
    environ: Mapping[str, str],
    problems: list[ConfigProblem],
) -> None:
    """Lists of tables are addressed by their `id` (`GATEWAY_SITES_SHOP_UPSTREAM`), dicts of
    tables by their key (`GATEWAY_CATEGORIES_ANALYTICS_TEXTS_EN_TITLE`)."""
    item_model = _model_items(annotation)
    assert item_model is not None
    if env in environ:
        node[name] = _env_value(environ[env], list[dict[str, Any]], key, problems)
    items = node.get(name)
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                item_env = f"{env}_{_env_part(item['id'])}"
                item_key = f"{key}[{item['id']}]."
                _override_model(item_model, item, item_env, item_key, environ, problems)
    elif isinstance(items, dict):
        for item_name, item in items.items():
            if isinstance(item, dict):
                item_env = f"{env}_{_env_part(item_name)}"
                item_key = f"{key}.{item_name}."
                _override_model(item_model, item, item_env, item_key, environ, problems)


def _env_part(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def _any_env_under(env: str, environ: Mapping[str, str]) -> bool:
    return any(name.startswith(env + "_") for name in environ)


def _env_value(value: str, annotation: Any, key: str, problems: list[ConfigProblem]) -> Any:
    """Environment values are strings; lists are JSON or comma-separated."""
    if _is_sequence(annotation):
        if value.lstrip().startswith("["):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                problems.append(ConfigProblem(key, f"environment value is not JSON: {exc}"))
                return None
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _unwrap(annotation: Any) -> Any:
    if get_origin(annotation) is Annotated:
        return get_args(annotation)[0]
    return annotation


def _is_model(annotation: Any) -> bool:
    annotation = _unwrap(annotation)
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _is_sequence(annotation: Any) -> bool:
    return get_origin(_unwrap(annotation)) in (tuple, list)


def _model_items(annotation: Any) -> type[BaseModel] | None:
    """The table type of a `tuple[Model, ...]` or `dict[str, Model]` field, else None."""
    annotation = _unwrap(annotation)
    origin = get_origin(annotation)
    if origin in (tuple, list):
        item = get_args(annotation)[0]
    elif origin is dict:
        item = get_args(annotation)[1]
    else:
        return None
    return item if _is_model(item) else None


# ---------------------------------------------------------------------- reference


def config_keys() -> list[ConfigKey]:
    """Every leaf key of the schema, in declaration order, with its help text."""
    keys: list[ConfigKey] = []
    _collect_keys(GatewayConfig, "", ENV_PREFIX, keys)
    return keys


_DICT_PLACEHOLDERS = {"categories": "category", "texts": "lang"}


def _collect_keys(model: type[BaseModel], path: str, env: str, out: list[ConfigKey]) -> None:
    for name, field in model.model_fields.items():
        # Inside a list set as a whole, every leaf shares the list's variable.
        key, var = f"{path}{name}", env if env.startswith("(") else f"{env}_{name.upper()}"
        item_model = _model_items(field.annotation)
        if _is_model(field.annotation):
            _collect_keys(_unwrap(field.annotation), key + ".", var, out)
        elif item_model is not None:
            if get_origin(_unwrap(field.annotation)) is dict:
                word = _DICT_PLACEHOLDERS.get(name, "key")
                path_part, item_env = f".<{word}>", f"{var}_<{word.upper()}>"
            elif "id" in item_model.model_fields:
                path_part, item_env = "[]", f"{var}_<ID>"
            else:
                path_part, item_env = "[]", f"(whole list as JSON: {var})"
            _collect_keys(item_model, key + path_part + ".", item_env, out)
        else:
            default = "required" if field.is_required() else _show_default(field.default)
            out.append(
                ConfigKey(key, var, _show_type(field.annotation), default, field.description or "")
            )


def _show_default(value: Any) -> str:
    if isinstance(value, tuple):
        return json.dumps(list(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "(none)"
    return json.dumps(value) if isinstance(value, str) else str(value)


def _show_type(annotation: Any) -> str:
    annotation = _unwrap(annotation)
    origin = get_origin(annotation)
    if origin is Literal:
        return " \\| ".join(json.dumps(a) for a in get_args(annotation))
    if origin in (tuple, list):
        return f"list of {_show_type(get_args(annotation)[0])}"
    if annotation is type(None):
        return "none"
    args = get_args(annotation)
    if args and origin is not None:
        return " or ".join(_show_type(a) for a in args if a is not type(None))
    return {str: "string", int: "integer", bool: "boolean", date: "date"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def config_reference_markdown() -> str:
    """The body of docs/configuration.md; a test fails when the file differs."""
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by `consent-gateway config-docs` from gateway/config.py; "
        "do not edit by hand. -->",
        "",
        "One TOML file (`config/gateway.toml` is the documented example and the default). "
        "Every key can be overridden by an environment variable: `GATEWAY_<SECTION>_<KEY>`; "
        "keys inside a `[[sites]]` entry by `GATEWAY_SITES_<ID>_<KEY>` (the site id in upper "
        "case, other characters as `_`). Lists are comma-separated or JSON. "
        "`consent-gateway check-config` validates a file and names every problem by key.",
        "",
        "| key | type | default | environment variable | meaning |",
        "|---|---|---|---|---|",
    ]
    for key in config_keys():
        help_text = key.help.replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| `{key.path}` | {key.type} | `{key.default}` | `{key.env}` | {help_text} |"
        )
    return "\n".join(lines) + "\n"
