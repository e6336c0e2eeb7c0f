"""The generated privacy statement: every figure and name comes from the config, in Dutch and
English, and `consent-gateway privacy-statement` prints it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.core.config import BlockingConfig, BlockingRule, CookieRule, GatewayConfig
from gateway.core.enforcement.cookies import Classification, SeenCookie
from gateway.core.privacystatement import StatementLanguage, missing_settings, privacy_statement
from gateway.core.types import Category
from tests.conftest import EXAMPLE_CONFIG, gateway_env


def statement(config: GatewayConfig, language: StatementLanguage = "en") -> str:
    return privacy_statement(config, config.sites[0], language)


def changed(config: GatewayConfig, section: str, **values: Any) -> GatewayConfig:
    """The config with some keys of one section replaced."""
    part = getattr(config, section).model_copy(update=values)
    return config.model_copy(update={section: part})


def paragraph_starting(text: str, start: str) -> str:
    return next(block for block in text.split("\n\n") if block.startswith(start))


def table_row(text: str, first_cell: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"| {first_cell} |"))


# ------------------------------------------------------------------------- figures


def test_retention_periods_follow_the_config(config: GatewayConfig) -> None:
    config = changed(config, "retention", analytics_days=30, access_log_days=90,
                     consent_log_days=400)
    text = statement(config)
    assert "30 days after recording" in table_row(text, "Website statistics")
    assert "90 days after recording" in table_row(text, "Access log")
    assert "400 days after the consent ended" in table_row(text, "Proof of consent")


def test_the_dutch_retention_periods_follow_the_config(config: GatewayConfig) -> None:
    config = changed(config, "retention", analytics_days=31, consent_log_days=60)
    text = statement(config, "nl")
    assert "31 dagen na vastlegging" in table_row(text, "Websitestatistieken")
    assert "60 dagen nadat de toestemming is geëindigd" in table_row(
        text, "Bewijs van toestemming")


def test_the_ipv4_example_is_truncated_by_the_configured_mask(config: GatewayConfig) -> None:
    text = statement(changed(config, "privacy", ipv4_mask_bytes=2))
    assert "the first two of its four numbers (81.2.69.142 becomes 81.2.0.0)" in text


def test_the_default_mask_keeps_three_numbers_of_an_ipv4_address(
    config: GatewayConfig,
) -> None:
    assert "81.2.69.142 wordt 81.2.69.0" in statement(config, "nl")


def test_the_ipv6_prefix_follows_the_config(config: GatewayConfig) -> None:
    text = statement(changed(config, "privacy", ipv6_prefix=64))
    assert "of an IPv6 address only the first 64 bits" in text


def test_the_consent_cookie_name_and_lifetime_follow_the_config(
    config: GatewayConfig,
) -> None:
    text = statement(changed(config, "consent", cookie_name="keuze", lifetime_days=180))
    cookie = paragraph_starting(text, "We keep your choice")
    assert "`keuze`" in cookie and "`__Host-keuze`" in cookie
    assert "valid for 180 days" in cookie
    assert "expired after 180 days" in table_row(text, "Proof of consent")


def test_a_one_day_lifetime_is_not_called_days(config: GatewayConfig) -> None:
    text = statement(changed(config, "consent", lifetime_days=1), "nl")
    assert "blijft 1 dag geldig" in text


def test_rate_limits_and_block_duration_follow_the_config(config: GatewayConfig) -> None:
    text = statement(changed(config, "abuse", consent_per_minute=10, collect_per_minute=99,
                             block_minutes=90))
    abuse = paragraph_starting(text, "To prevent overload")
    assert "at most 10 a minute" in abuse and "at most 99 a minute" in abuse
    assert "at most 90 minutes" in abuse


def test_a_block_of_whole_hours_is_given_in_hours(config: GatewayConfig) -> None:
    text = statement(changed(config, "abuse", block_minutes=1440), "nl")
    assert "een blokkade ten hoogste 24 uur" in table_row(text, "Hashes tegen misbruik")


def test_the_policy_revision_of_the_site_is_named(config: GatewayConfig) -> None:
    site = config.sites[0].model_copy(update={"revision": 3})
    assert "version 3 of our cookie and privacy policy" in privacy_statement(config, site, "en")


# ------------------------------------------------------------------ controller, contact


def test_controller_and_contact_come_from_the_config(config: GatewayConfig) -> None:
    config = changed(config, "privacy", controller="Bakkerij Jansen, Dorpsstraat 2, Urk",
                     contact="https://bakkerij.example/privacy")
    text = statement(config, "nl")
    responsible = paragraph_starting(text, "Verwerkingsverantwoordelijke")
    assert "Bakkerij Jansen, Dorpsstraat 2, Urk" in responsible
    assert "<https://bakkerij.example/privacy>" in responsible


def test_an_empty_contact_shows_a_placeholder(config: GatewayConfig) -> None:
    text = statement(changed(config, "privacy", contact=""))
    assert "[contact: set privacy.contact]" in text
    assert "privacy@example.org" not in text


def test_empty_controller_and_contact_are_reported_as_missing(config: GatewayConfig) -> None:
    config = changed(config, "privacy", controller=" ", contact="")
    assert missing_settings(config) == ("privacy.controller", "privacy.contact")


def test_config_texts_cannot_inject_markup(config: GatewayConfig) -> None:
    text = statement(changed(config, "privacy", controller="<script>x()</script> *B.V.*"))
    assert "<script>" not in text
    assert r"\<script\>x()\</script\> \*B.V.\*" in text


# ---------------------------------------------------------------------- languages


def test_the_dutch_text_uses_the_avg_terms(config: GatewayConfig) -> None:
    text = statement(config, "nl")
    for term in ("Verwerkingsverantwoordelijke", "toestemming", "Bewaartermijn",
                 "Autoriteit Persoonsgegevens", "art. 6 lid 1 onder a AVG"):
        assert term in text


def test_the_english_text_points_to_the_visitors_own_authority(config: GatewayConfig) -> None:
    text = statement(config, "en")
    assert "your data protection authority" in text
    assert "Autoriteit Persoonsgegevens" not in text


def test_the_legal_bases_are_named_per_processing(config: GatewayConfig) -> None:
    text = statement(config, "en")
    assert "consent (Art. 6(1)(a) GDPR)" in table_row(text, "Website statistics")
    assert "Art. 6(1)(c) and Art. 7(1) GDPR" in table_row(text, "Proof of consent")
    assert "Art. 6(1)(f) GDPR" in table_row(text, "Access log")
    assert "Art. 6(1)(f) GDPR" in table_row(text, "Hashes against abuse")


# --------------------------------------------------------------- categories, cookies


def test_categories_are_described_in_the_chosen_language(config: GatewayConfig) -> None:
    dutch = config.categories["analytics"].texts["nl"]
    english = config.categories["analytics"].texts["en"]
    assert f"**{dutch.title}.** {dutch.description}" in statement(config, "nl")
    assert f"**{english.title}.** {english.description}" in statement(config, "en")


def test_a_missing_category_text_falls_back_to_english(config: GatewayConfig) -> None:
    texts = dict(config.categories["preferences"].texts)
    del texts["nl"]
    config = with_category_texts(config, "preferences", texts)
    assert f"**{texts['en'].title}.**" in statement(config, "nl")


def test_without_english_either_the_text_falls_back_to_dutch(config: GatewayConfig) -> None:
    texts = {"nl": config.categories["marketing"].texts["nl"],
             "de": config.categories["marketing"].texts["de"]}
    config = with_category_texts(config, "marketing", texts)
    dutch = texts["nl"]
    assert f"**{dutch.title}.** {dutch.description}" in statement(config, "en")


def with_category_texts(config: GatewayConfig, category: Category, texts: Any) -> GatewayConfig:
    categories = dict(config.categories)
    categories[category] = categories[category].model_copy(update={"texts": texts})
    return config.model_copy(update={"categories": categories})


def test_cookie_rules_are_listed_under_their_category(config: GatewayConfig) -> None:
    rules = (CookieRule(pattern="_pk_id*", category="analytics"),
             CookieRule(pattern="ads", category="marketing"))
    text = statement(config.model_copy(update={"cookies": rules}))
    analytics = paragraph_starting(text, "**Analytics.**")
    marketing = paragraph_starting(text, "**Marketing.**")
    assert "Cookies: `_pk_id*`." in analytics and "`ads`" not in analytics
    assert "Cookies: `ads`." in marketing and "`_pk_id*`" not in marketing


def test_the_consent_cookie_is_listed_as_necessary(config: GatewayConfig) -> None:
    necessary = paragraph_starting(statement(config), "**Necessary.**")
    assert "Cookies: `consent` (your cookie choice, see below)" in necessary


def test_a_category_without_cookies_or_scripts_says_so(config: GatewayConfig) -> None:
    config = config.model_copy(update={"cookies": (), "blocking": BlockingConfig()})
    preferences = paragraph_starting(statement(config), "**Preferences.**")
    assert preferences.endswith("We currently set no cookies in this category.")


def test_blocked_script_hosts_are_named_under_their_category(config: GatewayConfig) -> None:
    rules = (BlockingRule(host="youtube.com", category="marketing"),
             BlockingRule(host="googletagmanager.com", category="analytics"))
    config = config.model_copy(update={"blocking": BlockingConfig(rules=rules)})
    marketing = paragraph_starting(statement(config), "**Marketing.**")
    assert "`youtube.com`" in marketing and "`googletagmanager.com`" not in marketing


# ------------------------------------------------------------ analytics, logs, abuse


def test_analytics_lists_what_is_recorded_and_that_no_ip_is_stored(
    config: GatewayConfig,
) -> None:
    analytics = paragraph_starting(statement(config), "Only if you consent to ‘Analytics’")
    assert "browser and operating-system family" in analytics
    assert "We do not store your IP address with it." in analytics


def test_location_precision_follows_geo_detail(config: GatewayConfig) -> None:
    config = changed(config, "analytics", geoip_database="data/GeoLite2-City.mmdb")
    city = statement(changed(config, "privacy", geo_detail="city"))
    country = statement(changed(config, "privacy", geo_detail="country"))
    assert "the country, region and city, " in city
    assert "to determine your country." in country and "region and city" not in country


def test_without_a_geoip_database_no_location_is_promised(config: GatewayConfig) -> None:
    text = statement(changed(config, "analytics", geoip_database=None))
    analytics = paragraph_starting(text, "Only if you consent")
    assert "the country" not in analytics and "to determine" not in analytics


def test_analytics_switched_off_says_nothing_is_measured(config: GatewayConfig) -> None:
    text = statement(changed(config, "analytics", enabled=False))
    assert "We do not keep statistics of our own" in text
    assert "| Website statistics |" not in text


def test_the_access_log_appears_only_when_it_is_on(config: GatewayConfig) -> None:
    assert "### Security: access log" in statement(config)
    text = statement(changed(config, "analytics", access_log=False))
    assert "access log" not in text.lower()


def test_rate_limiting_appears_only_when_it_is_on(config: GatewayConfig) -> None:
    assert "### Protection against abuse" in statement(config)
    text = statement(changed(config, "abuse", enabled=False))
    assert "Protection against abuse" not in text and "Hashes against abuse" not in text
    assert "48 hours" not in text


def test_rate_limiting_promises_keys_deleted_within_48_hours(config: GatewayConfig) -> None:
    abuse = paragraph_starting(statement(config), "To prevent overload")
    assert "deleted after 48 hours at most" in abuse
    assert "never the IP address" in abuse


# -------------------------------------------------------------------------- rights


def test_the_rights_link_to_the_pages_under_the_prefix(config: GatewayConfig) -> None:
    text = statement(changed(config, "server", prefix="/cg"))
    assert "[preferences page](/cg/preferences)" in text
    assert "at [/cg/me](/cg/me) you download" in text
    assert "`DELETE` request to `/cg/me`" in text


def test_the_rights_name_the_reopen_button_from_the_banner_texts(
    config: GatewayConfig,
) -> None:
    reopen = config.banner.texts["nl"].reopen
    assert f"met de knop ‘{reopen}’" in statement(config, "nl")


def test_a_request_by_mail_asks_for_the_consent_id(config: GatewayConfig) -> None:
    text = statement(config)
    request = next(line for line in text.splitlines() if "**Send a request**" in line)
    assert "<privacy@example.org>" in request and "consent ID" in request


# ------------------------------------------------------------------------------ CLI


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in gateway_env(tmp_path).items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("cli_env")
def test_the_command_prints_the_statement_in_dutch(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["privacy-statement", "--lang", "nl", "--config", str(EXAMPLE_CONFIG)])
    out, err = capsys.readouterr()
    assert code == 0
    assert out.startswith("## Privacy en cookies\n")
    assert "Verwerkingsverantwoordelijke" in out and err == ""


@pytest.mark.usefixtures("cli_env")
def test_the_command_warns_when_the_contact_is_empty(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_PRIVACY_CONTACT", "")
    code = main(["privacy-statement", "--lang", "en", "--config", str(EXAMPLE_CONFIG)])
    out, err = capsys.readouterr()
    assert code == 0
    assert "[contact: set privacy.contact]" in out
    assert "privacy.contact" in err and "warning" in err


@pytest.mark.usefixtures("cli_env")
def test_the_command_uses_the_site_named_by_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "two-sites.toml"
    config.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8") + (
        '\n[[sites]]\nid = "shop"\nhosts = ["shop.example"]\nrevision = 7\n'
    ), encoding="utf-8")
    code = main(["privacy-statement", "--lang", "en", "--site", "shop", "--config", str(config)])
    assert code == 0
    assert "version 7 of our cookie and privacy policy" in capsys.readouterr().out


@pytest.mark.usefixtures("cli_env")
def test_the_command_refuses_an_unknown_site(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["privacy-statement", "--lang", "nl", "--site", "nope",
                 "--config", str(EXAMPLE_CONFIG)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "unknown site 'nope'" in err and "demo" in err


def test_the_command_offers_only_dutch_and_english(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["privacy-statement", "--lang", "de", "--config", str(EXAMPLE_CONFIG)])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


# ------------------------------------------------------------------- cookies seen

SEEN_AT = datetime(2026, 11, 20, 10, tzinfo=UTC)
FACTS = {
    "PHPSESSID": Classification("necessary", "database", "PHPSESSID", "PHP.net",
                                "Keeps the PHP session", "session"),
    "_hjSessionUser_1": Classification("analytics", "catalogue", "_hj*", "Hotjar",
                                       "Persists the Hotjar user id", "365 days"),
    "ab_bucket": Classification(None, "unknown"),
    "Buy_pills_at_spam.example": Classification(None, "unknown"),
}


def seen_cookie(name: str, category: str, set_by: str = "server") -> SeenCookie:
    return SeenCookie("demo", name, category, SEEN_AT, SEEN_AT, 3, "/", "", False,
                      set_by=set_by)  # type: ignore[arg-type]


SEEN = [seen_cookie("PHPSESSID", "necessary"),
        seen_cookie("_hjSessionUser_1", "analytics", set_by="script"),
        seen_cookie("ab_bucket", "unknown"),
        seen_cookie("Buy_pills_at_spam.example", "unknown", set_by="script")]


def test_the_cookies_seen_are_listed_with_purpose_and_retention(
    config: GatewayConfig,
) -> None:
    text = privacy_statement(config, config.sites[0], "en", cookies=SEEN, facts=FACTS)
    assert "### Cookies we have seen on this website" in text
    assert table_row(text, "`PHPSESSID`") == (
        "| `PHPSESSID` | Necessary | PHP.net: Keeps the PHP session | session |")
    assert table_row(text, "`ab_bucket`") == (
        "| `ab_bucket` | not yet classified (blocked until you accept everything) | — | — |")


def test_a_scripts_cookie_is_listed_by_its_known_name_and_an_unknown_one_not_at_all(
    config: GatewayConfig,
) -> None:
    # A script's cookie arrived in a visitor's request: anyone can make one up.
    text = privacy_statement(config, config.sites[0], "nl", cookies=SEEN, facts=FACTS)
    assert table_row(text, "`_hj*`").startswith("| `_hj*` | Statistieken | Hotjar: Persists")
    assert "_hjSessionUser_1" not in text and "spam.example" not in text


def test_without_cookies_seen_there_is_no_list(config: GatewayConfig) -> None:
    assert "Cookies we have seen" not in statement(config)

