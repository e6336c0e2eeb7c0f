"""What the banner shows (gateway/core/consent/banner.py): the language picked from
Accept-Language, the banner hash over the texts shown, and the banner view's categories."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.adapters.configfile import load_config
from gateway.core.config import GatewayConfig, SiteConfig
from gateway.core.consent.banner import banner_view, negotiate_language
from tests.conftest import EXAMPLE_CONFIG, SECRET

FIREFOX_NL = "nl,en-US;q=0.7,en;q=0.3"
CHROME_DE = "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7"
SAFARI_FR = "fr-FR,fr;q=0.9"


@pytest.mark.parametrize(("header", "language"), [
    (FIREFOX_NL, "nl"), (CHROME_DE, "de"), (SAFARI_FR, "fr"), ("en-GB,en;q=0.9", "en"),
    ("fr;q=0.4, de;q=0.8", "de"), ("es-ES,es;q=0.9,en;q=0.5", "en"), ("de;q=0, en", "en"),
])
def test_the_language_is_picked_by_quality(
    config: GatewayConfig, header: str, language: str
) -> None:
    assert negotiate_language(header, config.sites[0]) == language


@pytest.mark.parametrize("header", [None, "", "es-ES,es;q=0.9", "*", "en;q=0", "de;q=abc"])
def test_the_site_default_is_used_when_nothing_offered_is_asked_for(
    config: GatewayConfig, header: str | None
) -> None:
    assert negotiate_language(header, config.sites[0]) == "nl"


def test_a_language_the_site_does_not_offer_is_not_picked() -> None:
    site = SiteConfig(id="shop", languages=("en", "nl"), default_language="en")
    assert negotiate_language(CHROME_DE, site) == "en"


def banner_hash(tmp_path: Path, language: str = "nl", **env: str) -> str:
    environ = {"GATEWAY_SERVER_SECRET_KEYS": SECRET,
               "GATEWAY_STORAGE_PATH": str(tmp_path / "db.sqlite3"), **env}
    config = load_config(EXAMPLE_CONFIG, environ)
    return banner_view(config, config.sites[0], language).banner_hash  # type: ignore[arg-type]


BANNER_KEYS = ["TITLE", "BODY", "ACCEPT_ALL", "REJECT_ALL", "SETTINGS", "SAVE", "PRIVACY_LINK",
               "REOPEN", "ALWAYS_ON", "WITHDRAW"]
CATEGORY_KEYS = [f"{category.upper()}_TEXTS_NL_{part}"
                 for category in ("necessary", "preferences", "analytics", "marketing")
                 for part in ("TITLE", "DESCRIPTION")]


def test_the_banner_hash_is_stable_for_the_same_texts(tmp_path: Path) -> None:
    assert banner_hash(tmp_path) == banner_hash(tmp_path)


@pytest.mark.parametrize("env", [f"GATEWAY_BANNER_TEXTS_NL_{key}" for key in BANNER_KEYS]
                         + [f"GATEWAY_CATEGORIES_{key}" for key in CATEGORY_KEYS])
def test_the_banner_hash_changes_when_any_shown_text_changes(tmp_path: Path, env: str) -> None:
    assert banner_hash(tmp_path, **{env: "Gewijzigd"}) != banner_hash(tmp_path)


def test_the_banner_hash_ignores_texts_of_another_language(tmp_path: Path) -> None:
    changed = {"GATEWAY_BANNER_TEXTS_EN_TITLE": "Changed"}
    assert banner_hash(tmp_path, "nl", **changed) == banner_hash(tmp_path, "nl")


def test_the_banner_hash_differs_per_language(tmp_path: Path) -> None:
    hashes = {language: banner_hash(tmp_path, language) for language in ("nl", "en", "de", "fr")}
    assert len(set(hashes.values())) == 4


def test_the_banner_hash_changes_with_the_policy_revision(tmp_path: Path) -> None:
    assert banner_hash(tmp_path, GATEWAY_SITES_DEMO_REVISION="2") != banner_hash(tmp_path)


def test_the_banner_view_shows_necessary_locked_and_nothing_else_locked(
    config: GatewayConfig,
) -> None:
    view = banner_view(config, config.sites[0], "en")
    assert [(c["id"], c["locked"]) for c in view.categories] == [
        ("necessary", True), ("preferences", False), ("analytics", False), ("marketing", False)]
    assert (view.texts["accept_all"], view.texts["reject_all"]) == ("Accept all", "Reject all")
