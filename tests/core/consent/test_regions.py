"""Regional rules (`[[regions]]`, issue 20): which regime a country gets, first match wins,
the EEA, GB, CH and unknown countries stay opt-in; the Consent Mode region defaults; the
configuration's checks; a consent shared across a cookie domain; old records still verify."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.adapters.configfile import load_config
from gateway.core.config.regions import EEA, EU, RegionRule
from gateway.core.consent.cookie import Consent, ConsentCookieCodec
from gateway.core.consent.record import GENESIS_HASH, ChainVerifier, ConsentDraft, seal
from gateway.core.consent.regions import RegionalRules
from gateway.core.errors import ConfigError
from tests.conftest import EXAMPLE_CONFIG, SECRET, gateway_env

NOTICE_ELSEWHERE = [
    RegionRule(countries=("JP",), mode="none", granted=("analytics", "preferences")),
    RegionRule(countries=("*",), mode="notice", granted=("analytics",)),
]


def rules(*items: dict[str, Any]) -> RegionalRules:
    return RegionalRules([RegionRule(**item) for item in items])


@pytest.mark.parametrize(("country", "mode", "granted"), [
    ("US", "notice", {"analytics"}),
    ("CN", "notice", {"analytics"}),
    ("JP", "none", {"analytics", "preferences"}),
    ("GB", "opt-in", set()),
    ("SE", "opt-in", set()),
    ("CH", "opt-in", set()),
    ("NO", "opt-in", set()),
    ("", "opt-in", set()),
])
def test_a_star_rule_leaves_the_eea_gb_ch_and_unknown_countries_opt_in(
    country: str, mode: str, granted: set[str]
) -> None:
    decision = RegionalRules(NOTICE_ELSEWHERE).decide(country)
    assert (decision.mode, set(decision.granted)) == (mode, granted)


def test_the_first_rule_naming_a_country_wins() -> None:
    regional = rules({"countries": ["US"], "mode": "opt-in"},
                     {"countries": ["US", "CA"], "mode": "none", "granted": ["marketing"]})
    assert regional.decide("US").mode == "opt-in"
    assert regional.decide("CA").mode == "none"
    assert regional.decide("MX").mode == "opt-in"  # named by no rule


def test_a_rule_may_name_a_default_opt_in_country_or_group_explicitly() -> None:
    regional = rules({"countries": ["GB"], "mode": "notice", "granted": ["analytics"]},
                     {"countries": ["EEA"], "mode": "none"})
    assert regional.decide("GB").mode == "notice"
    assert regional.decide("NO").mode == "none"
    assert regional.decide("CH").mode == "opt-in"


def test_the_groups_are_the_eu_27_and_the_eea_30() -> None:
    assert len(EU) == 27 and len(EEA) == 30
    assert {"IS", "LI", "NO"} <= EEA and not {"IS", "LI", "NO"} & EU
    assert "GB" not in EEA and "CH" not in EEA
    regional = rules({"countries": ["EU"], "mode": "notice"})
    assert (regional.decide("DE").mode, regional.decide("NO").mode) == ("notice", "opt-in")


def test_unknown_country_is_opt_in_even_when_a_rule_names_every_country() -> None:
    assert RegionalRules(NOTICE_ELSEWHERE).decide("").asks_first


def test_rules_that_are_all_opt_in_need_nobody_located() -> None:
    assert not RegionalRules([])
    assert not rules({"countries": ["*"], "mode": "opt-in"})
    assert RegionalRules(NOTICE_ELSEWHERE)


def test_consent_mode_defaults_grant_per_notice_country_not_claimed_by_an_earlier_rule() -> None:
    regional = rules({"countries": ["DE"], "mode": "opt-in"},
                     {"countries": ["EU", "US"], "mode": "notice", "granted": ["analytics"]},
                     {"countries": ["*"], "mode": "none", "granted": ["marketing"]},
                     {"countries": ["US", "GB"], "mode": "none", "granted": ["marketing"]})
    entries = regional.consent_mode_defaults()
    assert entries[0]["granted"] == ["analytics_storage"]
    assert "DE" not in entries[0]["region"] and {"FR", "US"} <= set(entries[0]["region"])
    # `*` has no region code; after it only a default opt-in country can still be named.
    assert entries[1:] == [{"region": ["GB"],
                            "granted": ["ad_storage", "ad_user_data", "ad_personalization"]}]


# ------------------------------------------------------------------ configuration


def config_with(tmp_path: Path, **env: str) -> Any:
    return load_config(EXAMPLE_CONFIG, gateway_env(tmp_path, **env))


@pytest.mark.parametrize(("regions", "wanted"), [
    ([{"countries": ["USA"], "mode": "notice"}], "'USA' is not a country code"),
    ([{"countries": ["US"], "mode": "opt-in", "granted": ["analytics"]}], "opt-in grants"),
    ([{"countries": ["US"], "mode": "none", "granted": ["necessary"]}], "always granted"),
    ([{"countries": ["US"], "mode": "none", "granted": ["tracking"]}], "regions"),
    ([{"countries": ["US"], "mode": "implied"}], "regions"),
    ([{"countries": [], "mode": "notice"}], "regions"),
])
def test_config_refuses_a_bad_region_rule(
    tmp_path: Path, regions: list[dict[str, Any]], wanted: str
) -> None:
    with pytest.raises(ConfigError, match=wanted):
        config_with(tmp_path, GATEWAY_REGIONS=json.dumps(regions))


def test_config_accepts_lowercase_country_codes_and_groups(tmp_path: Path) -> None:
    config = config_with(tmp_path, GATEWAY_REGIONS=json.dumps(
        [{"countries": ["us", "eea", "*"], "mode": "notice", "granted": ["analytics"]}]))
    assert config.regions[0].countries == ("US", "EEA", "*")


def test_config_refuses_a_cookie_domain_that_does_not_cover_the_sites_hosts(
    tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        config_with(tmp_path, GATEWAY_CONSENT_COOKIE_DOMAIN="example.org",
                    GATEWAY_SITES_DEMO_HOSTS="www.example.org,shop.example.net")
    assert "consent.cookie_domain" in str(caught.value)
    assert "'shop.example.net'" in str(caught.value)
    assert "'www.example.org'" not in str(caught.value)


@pytest.mark.parametrize("domain", ["org", "example.org:443", "10.0.0.1", "exa mple.org"])
def test_config_refuses_a_cookie_domain_that_is_no_parent_domain(
    tmp_path: Path, domain: str
) -> None:
    with pytest.raises(ConfigError, match=r"consent\.cookie_domain"):
        config_with(tmp_path, GATEWAY_CONSENT_COOKIE_DOMAIN=domain,
                    GATEWAY_SITES_DEMO_HOSTS="www.example.org")


def test_config_takes_a_cookie_domain_covering_every_host(tmp_path: Path) -> None:
    config = config_with(tmp_path, GATEWAY_CONSENT_COOKIE_DOMAIN=".Example.org",
                         GATEWAY_SITES_DEMO_HOSTS="example.org,www.example.org")
    assert config.consent.cookie_domain == "example.org"


# ------------------------------------------------------------------ the cookie

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
CODEC = ConsentCookieCodec([SECRET], timedelta(days=365))
SHARED = Consent("A" * 22, "shop", frozenset({"necessary", "analytics"}), 3, NOW,
                 revisions=(("blog", 1), ("shop", 3)))


def test_a_shared_decision_counts_on_a_sibling_site_at_the_revision_it_was_taken_with() -> None:
    value = CODEC.encode(SHARED)
    assert CODEC.decode(value, site="blog", revision=1, now=NOW) is not None
    assert CODEC.decode(value, site="shop", revision=3, now=NOW) is not None


def test_a_newer_revision_on_one_site_asks_again_there_only() -> None:
    value = CODEC.encode(SHARED)
    assert CODEC.decode(value, site="blog", revision=2, now=NOW) is None
    assert CODEC.decode(value, site="shop", revision=3, now=NOW) is not None
    assert CODEC.decode(value, site="forum", revision=1, now=NOW) is None  # not sharing


def test_a_decision_without_a_cookie_domain_counts_on_its_own_site_only() -> None:
    value = CODEC.encode(replace(SHARED, revisions=()))
    assert CODEC.decode(value, site="blog", revision=1, now=NOW) is None
    assert CODEC.identify(value, site="blog") is None
    assert CODEC.identify(CODEC.encode(SHARED), site="blog") == SHARED.consent_id


def test_an_implied_decision_keeps_its_mode_through_the_cookie() -> None:
    implied = replace(SHARED, explicit=False, mode="notice", revisions=())
    decoded = CODEC.decode(CODEC.encode(implied), site="shop", revision=3, now=NOW)
    assert decoded is not None and (decoded.mode, decoded.explicit) == ("notice", False)


# ------------------------------------------------------------------ the record

DRAFT = ConsentDraft(
    recorded_at=NOW, consent_id="A" * 22, site="demo", action="accept_all", source="banner",
    granted=("necessary", "analytics"), denied=("preferences", "marketing"), revision=1,
    banner_hash="b" * 64, language="en", ip="203.0.113.0", user_agent="Firefox / Linux",
    page="/", gpc=False,
)


def test_a_record_from_before_mode_and_host_keeps_its_hash() -> None:
    old = seal(DRAFT, seq=1, prev_hash=GENESIS_HASH)
    fields = old.to_json()
    for name in ("hash", "mode", "host"):
        del fields[name]
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert old.hash == hashlib.sha256(canonical.encode("ascii")).hexdigest()


def test_mode_and_host_are_covered_by_the_hash_when_present() -> None:
    record = seal(replace(DRAFT, mode="notice", host="www.example.org"), seq=1,
                  prev_hash=GENESIS_HASH)
    assert record.hash != seal(DRAFT, seq=1, prev_hash=GENESIS_HASH).hash
    assert ChainVerifier().check(record) is None
    assert ChainVerifier().check(replace(record, mode="opt-in")) is not None
    assert ChainVerifier().check(replace(record, host="evil.example")) is not None


# ------------------------------------------------------------------ privacy statement


@pytest.mark.parametrize("language", ["en", "nl"])
def test_the_privacy_statement_says_what_regions_and_a_shared_cookie_mean(
    tmp_path: Path, language: str
) -> None:
    from gateway.core.privacystatement import privacy_statement

    plain = config_with(tmp_path)
    text = privacy_statement(plain, plain.sites[0], language)  # type: ignore[arg-type]
    assert "example.org`" not in text and "__Host-consent" in text
    config = config_with(
        tmp_path, GATEWAY_CONSENT_COOKIE_DOMAIN="example.org",
        GATEWAY_SITES_DEMO_HOSTS="www.example.org",
        GATEWAY_REGIONS=json.dumps([{"countries": ["*"], "mode": "notice",
                                     "granted": ["analytics"]}]))
    text = privacy_statement(config, config.sites[0], language)  # type: ignore[arg-type]
    assert "`example.org`" in text and "__Secure-consent" in text
    assert ("implied choice" if language == "en" else "afgeleide keuze") in text
