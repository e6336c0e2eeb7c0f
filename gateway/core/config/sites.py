"""The tables of what the sites show visitors and hold back from them (pure).

`[[sites]]`, the `[categories.*]` and `[banner]` texts, `[consent_mode]`, and the
`[[cookies]]` rules and `[blocking]` (the catalogue switch and `[[blocking.rules]]`), with
their validators; and `_Section`, the base every table of the file shares (here, below
`schema`, which builds the whole document from it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.core.types import Category, Language

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


_HOST_AND_PORT = re.compile(r"([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")
_PARAM_NAME = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,64}")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    upstream_host: str | None = Field(
        None, max_length=255,
        description="`Host` header sent to the upstream instead of the visitor's (which goes "
        "upstream unchanged by default, like Caddy and Traefik do). Set it only for an "
        "upstream that must see its own name: name-based virtual hosting, a SaaS origin. "
        "Response headers naming it are still rewritten to the public origin.",
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
    search_params: tuple[str, ...] = Field(
        (), max_length=10,
        description="Query parameters of the site's own search (`[\"q\", \"s\"]`): for the "
        "search-terms report, a pageview keeps the value of the first of them its URL has, "
        "lower-cased, whitespace collapsed, at most 100 characters; nothing else of the query "
        "string is kept. Empty: no search terms.",
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

    @field_validator("upstream_host")
    @classmethod
    def _is_host(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not _HOST_AND_PORT.fullmatch(value):
            raise ValueError(f"{value!r} is not a host name (with an optional :port)")
        return value.lower()

    @field_validator("search_params")
    @classmethod
    def _are_param_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _PARAM_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a query parameter name (letters, digits, "
                                 "'_', '-', '.', '[', ']'; at most 64)")
        if len(set(value)) != len(value):
            raise ValueError("names a parameter twice")
        return value

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
        description="Cookie name or glob (`_ga*`, `_gcl_*`) matched case-sensitively. The "
        "first matching rule wins, over the tracker catalogue and the cookie database "
        "(`consent-gateway cookies --toml` prints rules for the cookies seen).",
    )
    category: Category = Field(description="Category the matching cookies belong to.")


class BlockingRule(_Section):
    host: str = Field(
        "", max_length=253,
        description="Host whose scripts, pixels, embeds and hints are held back: the domain "
        "and all its subdomains (`googletagmanager.com`), or a glob (`*.fbcdn.net`). Naming "
        "exactly a host of a catalogued service moves the whole service to this category.",
    )
    category: Category = Field(description="Category the host's scripts and embeds need.")
    markers: tuple[str, ...] = Field(
        (),
        description="Inline-script markers (`gtag(`, `fbq(`, `_paq.push`): an inline script "
        "containing one is held back like the host's scripts.",
    )
    urls: tuple[str, ...] = Field(
        (),
        description="Globs over `host/path?query` (no scheme; the host exact; `*` any run "
        "of characters, `?` one), for a service that shares its host with others: "
        "`www.google.de/maps/embed*`.",
    )
    paths: tuple[str, ...] = Field(
        (),
        description="Globs over the URL path on any host, the site's own included, for a "
        "tool you host yourself: `*/stats/tracker.js`.",
    )

    @field_validator("host")
    @classmethod
    def _lowercase_host(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z0-9.*?\-\[\]]+", value):
            raise ValueError(f"{value!r} is not a host name or glob")
        return value.lower()

    @model_validator(mode="after")
    def _names_something(self) -> BlockingRule:
        if not (self.host or self.urls or self.paths or self.markers):
            raise ValueError("a rule needs a host, urls, paths or markers")
        return self


class BlockingConfig(_Section):
    catalogue: bool = Field(
        True,
        description="Hold back the services of the tracker catalogue shipped with the gateway "
        "(analytics, ad pixels, embeds; see the README) until the visitor grants their "
        "category. `[[blocking.rules]]` extend it and override it by host. Off: only your "
        "own rules. (The list form `[[blocking]]` of older configs, which TOML cannot give "
        "this key, is read as `[[blocking.rules]]`; `check-config` says so.)",
    )
    rules: tuple[BlockingRule, ...] = Field(
        (),
        description="[[blocking.rules]]: your own rules, checked before the catalogue. The "
        "list form `[[blocking]]` of older configs is read as these rules.",
    )


def current_form(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """Older forms of a table, read as today's: `[[blocking]]` (a list of rules, from before
    the catalogue) is `[[blocking.rules]]`, since TOML cannot give a list a key such as
    `blocking.catalogue`."""
    if isinstance(raw.get("blocking"), list):
        return {**raw, "blocking": {"rules": raw["blocking"]}}
    return raw


def config_notes(raw: Mapping[str, Any]) -> list[str]:
    """Advice about a document that is valid but written in an older form."""
    if isinstance(raw.get("blocking"), list):
        return [
            "blocking: `[[blocking]]` is read as `[[blocking.rules]]`, which extend the "
            "tracker catalogue (`blocking.catalogue`, on by default); rename the tables to "
            "`[[blocking.rules]]` and drop the rules the catalogue now covers"
        ]
    return []
