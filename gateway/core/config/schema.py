"""The configuration document: `GatewayConfig`, its gateway-wide tables, validation (pure).

The schema is the single source of truth: validation, `GATEWAY_<SECTION>_<KEY>` overrides
and `docs/configuration.md` are all derived from the models below, so a key cannot exist
without help text or go undocumented.

Here: `[server]`, `[consent]` and the data-handling tables (`[privacy]`, `[analytics]`,
`[retention]`, `[abuse]`, `[admin]`, `[storage]`), the whole document, the checks across
sections, and `parse_config`, which applies the environment (`environment`) and turns
pydantic's errors into one `ConfigProblem` per key. What the sites show visitors and hold
back from them is in `sites`.

Reading the TOML file and secret files is I/O and lives in `gateway.adapters.configfile`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from gateway.core.config.environment import ENV_PREFIX, merge_env_overrides
from gateway.core.config.regions import CookieDomain, RegionRule, cookie_domain_problems
from gateway.core.config.sites import (
    BannerConfig,
    BlockingConfig,
    CategoryConfig,
    ConsentModeConfig,
    CookieRule,
    SiteConfig,
    _Section,
    current_form,
)
from gateway.core.config.storage import StorageConfig
from gateway.core.config.tls import TlsSettings
from gateway.core.errors import ConfigError, ConfigProblem
from gateway.core.types import CATEGORIES, LANGUAGES, Category

MAX_LIFETIME_DAYS = 395
_COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class ServerConfig(TlsSettings, _Section):
    host: str = Field("127.0.0.1", description="Address `serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `serve` listens on.")
    workers: Annotated[int, Field(ge=1, le=64)] | Literal["auto"] = Field(
        1,
        description="Worker processes for `serve`, or `\"auto\"`: one per core the process may "
        "run on — the production setting (one worker is CPU-bound at one core). They share "
        "the SQLite file; the database serialises consent-log appends, so any number keeps "
        "the hash chain intact.",
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
        description="Seconds to wait for a connection to the upstream before answering 504.",
    )
    upstream_read_timeout: float = Field(
        30.0, gt=0, le=600,
        description="Seconds to wait for the upstream's next bytes before answering 504.",
    )
    log_format: Literal["text", "json"] = Field("text", description="`json`: one JSON object "
        "per log line (`ts`, `level`, `logger`, `message`); never an address or a secret.")
    compress_html: bool = Field(
        True,
        description="Send rewritten HTML pages compressed (brotli, else gzip) to browsers "
        "that accept it, whether or not the upstream compressed them. Other responses keep "
        "the upstream's encoding.",
    )
    max_upload_mb: float = Field(
        100.0, gt=0, le=100_000,
        description="Largest request body the proxy streams to the upstream, in MB; a larger "
        "one gets 413 (checked on `Content-Length` first, and while streaming).",
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

    @field_validator("workers", mode="before")
    @classmethod
    def _workers_is_a_count_or_auto(cls, value: object) -> object:
        """One clear problem instead of one per member of the union."""
        text = str(value).strip() if isinstance(value, int | str) else ""
        if text != "auto" and not (text.isdigit() and 1 <= int(text) <= 64):
            raise ValueError('must be a number from 1 to 64, or "auto" (one per core)')
        return text if text == "auto" else int(text)

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
        "prefix, which browsers bind to the exact host (`__Secure-` with `cookie_domain`).",
    )
    cookie_domain: CookieDomain = Field(
        None,
        description="Parent domain (`example.org`) the consent cookie is set for, so the "
        "sites on its hosts (`www.`, `shop.`, `blog.example.org`) share one decision and a "
        "withdrawal on one reaches all. Each site keeps its own revision: raising it asks "
        "again on that site only. Must cover every host of every site. Empty: one host.",
    )
    lifetime_days: int = Field(
        365, ge=1, le=MAX_LIFETIME_DAYS,
        description="How long a decision holds before the banner asks again (the cookie's "
        f"`Max-Age`). At most {MAX_LIFETIME_DAYS} days (13 months, as regulators advise).",
    )
    unknown_cookie_policy: Literal["block", "allow"] = Field(
        "block",
        description="What happens to a cookie that no `[[cookies]]` rule names and the "
        "shipped data does not know (see `cookie_database`): `block` keeps it from the "
        "browser and from the site until the visitor accepts every optional category, "
        "`allow` treats it as necessary.",
    )
    cookie_database: bool = Field(
        True,
        description="Classify cookies no `[[cookies]]` rule names by the data shipped in "
        "the package: first the cookie names of the tracker catalogue's services, then the "
        "Open Cookie Database (Functional, Necessary and Security count as necessary, "
        "Personalization as preferences, Analytics and Marketing as themselves; wildcard "
        "entries as name prefixes) with the gateway's own list of framework session and "
        "CSRF cookies (Django's `csrftoken`, `sessionid`, …). Your `[[cookies]]` rules always "
        "win. `false`: only your rules classify cookies.",
    )

    @field_validator("cookie_name")
    @classmethod
    def _is_cookie_token(cls, value: str) -> str:
        if not _COOKIE_NAME.fullmatch(value) or value.startswith("__"):
            raise ValueError("must be a cookie token without a '__' prefix")
        return value


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


class GatewayConfig(_Section):
    server: ServerConfig = Field(default_factory=ServerConfig, description="[server]")
    consent: ConsentConfig = Field(default_factory=ConsentConfig, description="[consent]")
    sites: tuple[SiteConfig, ...] = Field(min_length=1, description="[[sites]]")
    categories: dict[Category, CategoryConfig] = Field(description="[categories.*]")
    banner: BannerConfig = Field(description="[banner]")
    consent_mode: ConsentModeConfig = Field(
        default_factory=ConsentModeConfig, description="[consent_mode]"
    )
    regions: tuple[RegionRule, ...] = Field((), description="[[regions]]")
    cookies: tuple[CookieRule, ...] = Field((), description="[[cookies]]")
    blocking: BlockingConfig = Field(default_factory=BlockingConfig, description="[blocking]")
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
    yield from cookie_domain_problems(data)
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
    merged, problems = apply_env_overrides(current_form(raw), environ)
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


def apply_env_overrides(
    raw: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[dict[str, Any], list[ConfigProblem]]:
    """Return a copy of `raw` with every `GATEWAY_...` variable applied to its key."""
    return merge_env_overrides(GatewayConfig, raw, environ, prefix=ENV_PREFIX)


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

