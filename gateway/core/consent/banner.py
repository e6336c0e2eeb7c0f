"""What the banner shows: language, texts, the state handed to consent.js, its hash (pure)."""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final
from urllib.parse import urlencode

from gateway.core.config import GatewayConfig, SiteConfig
from gateway.core.config.regions import Mode
from gateway.core.consent.cookie import Consent
from gateway.core.consent.record import format_timestamp
from gateway.core.consent.regions import RegionalRules
from gateway.core.types import CATEGORIES, LANGUAGES, Language

_MAX_ACCEPT_LANGUAGE = 512


def negotiate_language(accept_language: str | None, site: SiteConfig) -> Language:
    """Best `Accept-Language` match among the site's languages (primary subtag), else default."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "")[:_MAX_ACCEPT_LANGUAGE].split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if quality > 0:
            ranked.append((-quality, position, tag.split("-")[0].strip().lower()))
    for _, _, primary in sorted(ranked):
        for language in site.languages:
            if primary == language:
                return language
    return site.default_language


def offered_language(value: object, site: SiteConfig) -> Language | None:
    """A language the client names explicitly (`<html lang>`), if the site offers it."""
    if not isinstance(value, str):
        return None
    primary = value.split("-")[0].lower()
    for language in site.languages:
        if primary == language and language in LANGUAGES:
            return language
    return None


@dataclass(frozen=True, slots=True)
class BannerView:
    """Everything the banner needs for one site and language, and the hash that proves it."""

    site: SiteConfig
    language: Language
    texts: dict[str, str]
    categories: list[dict[str, Any]]
    banner_hash: str
    settings: dict[str, Any]  # behaviour from config: prefix, floating button, Consent Mode
    lifetime: timedelta
    _escaped: dict[tuple[bool, Mode], str] = field(default_factory=dict, compare=False,
                                                    repr=False)

    def state_attribute(self, consent: Consent | None, *, gpc: bool, mode: Mode = "opt-in"
                        ) -> str:
        """The state as an escaped `data-state` value for an HTML page (no consent id).

        Everything but the visitor's consent is the same for every page of this site and
        language, so that part is serialised and escaped once; escaping works character by
        character, so the escaped pieces can simply be joined.
        """
        if (gpc, mode) not in self._escaped:
            fixed = self.state(None, gpc=gpc, include_id=False, mode=mode)
            del fixed["consent"]
            # without the closing brace
            self._escaped[gpc, mode] = _escaped_json(fixed)[:-1]
        own = _escaped_json(consent_json(consent, self.lifetime, include_id=False))
        return f"{self._escaped[gpc, mode]},&quot;consent&quot;:{own}}}"

    def state(self, consent: Consent | None, *, gpc: bool, include_id: bool,
              mode: Mode = "opt-in") -> dict[str, Any]:
        """`mode`: the visitor's regional regime (`opt-in`, `notice`: the banner informs,
        `none`: no banner)."""
        return {
            "site": self.site.id,
            "revision": self.site.revision,
            "language": self.language,
            "privacy_statement_url": self.site.privacy_statement_url,
            "banner_hash": self.banner_hash,
            "texts": self.texts,
            "categories": self.categories,
            "consent": consent_json(consent, self.lifetime, include_id=include_id),
            "gpc": gpc,
            "mode": mode,
            **self.settings,
        }


def consent_mode_settings(config: GatewayConfig) -> dict[str, Any] | None:
    mode = config.consent_mode
    if not mode.enabled:
        return None
    return {
        "wait_for_update": mode.wait_for_update_ms,
        "regions": [
            {"region": list(entry.regions), "granted": list(entry.granted)}
            for entry in mode.regions
        ] + RegionalRules(config.regions).consent_mode_defaults(),
    }


# The visitor's-own-data texts, used where the configuration leaves them empty.
OWN_DATA_TEXTS: Final[dict[Language, dict[str, str]]] = {
    "nl": {
        "your_data": "Uw gegevens",
        "download_data": "Mijn gegevens downloaden",
        "erase_data": "Mijn gegevens wissen",
        "erase_explain": "Wist de statistieken die met uw toestemming over uw bezoeken zijn "
        "verzameld en trekt uw toestemming in. Het bewijs van uw keuzes bewaren wij zo lang "
        "als de wet vraagt.",
        "consent_id_label": "Uw toestemmings-ID (vermeld deze als u ons schrijft)",
        "erased": "Uw gegevens zijn gewist en uw toestemming is ingetrokken.",
    },
    "en": {
        "your_data": "Your data",
        "download_data": "Download my data",
        "erase_data": "Erase my data",
        "erase_explain": "Erases the statistics collected about your visits with your consent "
        "and withdraws your consent. The record of your choices is kept as long as the law "
        "requires.",
        "consent_id_label": "Your consent ID (quote it when you write to us)",
        "erased": "Your data has been erased and your consent withdrawn.",
    },
    "de": {
        "your_data": "Ihre Daten",
        "download_data": "Meine Daten herunterladen",
        "erase_data": "Meine Daten löschen",
        "erase_explain": "Löscht die mit Ihrer Einwilligung über Ihre Besuche erhobenen "
        "Statistiken und widerruft Ihre Einwilligung. Der Nachweis Ihrer Entscheidungen wird "
        "so lange aufbewahrt, wie das Gesetz es verlangt.",
        "consent_id_label": "Ihre Einwilligungs-ID (bitte angeben, wenn Sie uns schreiben)",
        "erased": "Ihre Daten wurden gelöscht und Ihre Einwilligung widerrufen.",
    },
    "fr": {
        "your_data": "Vos données",
        "download_data": "Télécharger mes données",
        "erase_data": "Effacer mes données",
        "erase_explain": "Efface les statistiques recueillies sur vos visites avec votre "
        "consentement et retire votre consentement. La preuve de vos choix est conservée "
        "aussi longtemps que la loi l'exige.",
        "consent_id_label": "Votre identifiant de consentement (à indiquer si vous nous "
        "écrivez)",
        "erased": "Vos données ont été effacées et votre consentement a été retiré.",
    },
}


def banner_texts(config: GatewayConfig, language: Language) -> dict[str, str]:
    """The configured texts, with the built-in own-data texts where none are configured."""
    configured = config.banner.texts[language].model_dump()
    defaults = OWN_DATA_TEXTS[language]
    return {key: value if value is not None else defaults[key]
            for key, value in configured.items()}


def banner_view(config: GatewayConfig, site: SiteConfig, language: Language) -> BannerView:
    texts = banner_texts(config, language)
    categories = [
        {
            "id": category,
            "locked": category == "necessary",
            **config.categories[category].texts[language].model_dump(),
        }
        for category in CATEGORIES
    ]
    shown = {
        "language": language,
        "revision": site.revision,
        "privacy_statement_url": site.privacy_statement_url,
        "texts": texts,
        "categories": categories,
    }
    canonical = json.dumps(shown, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    prefix = config.server.prefix
    settings = {
        "prefix": prefix,
        "preferences_url": f"{prefix}/preferences",
        "floating_button": config.banner.floating_button,
        "honour_gpc": config.privacy.honour_gpc,
        "consent_mode": consent_mode_settings(config),
    }
    lifetime = timedelta(days=config.consent.lifetime_days)
    return BannerView(site, language, texts, categories, digest, settings, lifetime)


def consent_json(
    consent: Consent | None, lifetime: timedelta, *, include_id: bool
) -> dict[str, Any] | None:
    if consent is None:
        return None
    data: dict[str, Any] = {
        "categories": consent.categories(),
        "explicit": consent.explicit,
        "revision": consent.revision,
        "decided_at": format_timestamp(consent.decided_at),
        "expires_at": format_timestamp(consent.expires_at(lifetime)),
    }
    if include_id:
        data = {"consent_id": consent.consent_id, **data}
    return data


def _escaped_json(value: object) -> str:
    return html.escape(json.dumps(value, separators=(",", ":")), quote=True)


def banner_tags(
    state_attr: str, *, prefix: str, nonce: str, versions: dict[str, str], page_token: str = ""
) -> str:
    """The tags injected at the top of `<head>`; the state rides along so no round trip is
    needed. The script is synchronous on purpose: it must set the Consent Mode defaults
    before any tag manager runs (it builds the banner only once the body exists).
    `versions` (content hashes) make the asset URLs change whenever the files do;
    `page_token` lets this page's analytics beacons prove where they come from."""
    nonce_attr = html.escape(nonce, quote=True)
    css = f"{prefix}/consent.css?v={versions.get('consent.css', '')}"
    js = f"{prefix}/consent.js?v={versions.get('consent.js', '')}"
    return (
        f'<link rel="stylesheet" href="{html.escape(css)}" nonce="{nonce_attr}">'
        f'<script src="{html.escape(js)}" id="consent-gateway" nonce="{nonce_attr}" '
        f'data-state="{state_attr}" data-page-token="{html.escape(page_token, quote=True)}">'
        "</script>"
    )


def noscript_markup(*, preferences_url: str, label: str, page: str) -> str:
    """Right after `<body>`: without JavaScript, a link to the preferences page."""
    href = html.escape(f"{preferences_url}?{urlencode({'return_to': page})}", quote=True)
    return (
        f'<noscript><p class="cg-noscript"><a href="{href}">{html.escape(label)}</a></p>'
        "</noscript>"
    )


def embed_placeholder(view: BannerView, category: str, host: str) -> str:
    """Stands in for a held-back iframe: says whose content it is and offers to load it once
    or to allow its category for good (consent.js wires the buttons)."""
    title = next((c["title"] for c in view.categories if c["id"] == category), category)
    text = view.texts["embed_blocked"].replace("{host}", host).replace("{category}", title)
    allow = view.texts["always_allow"].replace("{category}", title)
    return (
        f'<div class="cg-embed" data-consent-placeholder="{html.escape(category)}" role="group" '
        f'aria-label="{html.escape(text)}"><p>{html.escape(text)}</p>'
        f'<button type="button" class="cg-btn" data-cg-load-once>'
        f"{html.escape(view.texts['load_once'])}</button> "
        f'<button type="button" class="cg-btn" data-cg-allow="{html.escape(category)}">'
        f"{html.escape(allow)}</button></div>"
    )
