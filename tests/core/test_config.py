"""Configuration (gateway/core/config): the example validates, every key is overridable from
the environment, every problem is named by its key, the reference in docs/ is the one the
schema generates, and `check-config` says so on the command line."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from gateway.adapters.configfile import load_config
from gateway.core.config import GatewayConfig, config_keys, config_reference_markdown
from gateway.core.errors import ConfigError
from gateway.core.types import CATEGORIES, LANGUAGES
from tests.conftest import EXAMPLE_CONFIG, REPO, SECRET

OTHER_SECRET = "an-older-signing-key-0123456789-zyxwvutsrqponm"


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"GATEWAY_SERVER_SECRET_KEYS": SECRET,
            "GATEWAY_STORAGE_PATH": str(tmp_path / "gateway.sqlite3"), **extra}


def example() -> dict[str, Any]:
    with EXAMPLE_CONFIG.open("rb") as handle:
        return copy.deepcopy(tomllib.load(handle))


def toml_value(value: Any) -> str:
    """Enough TOML for config files: inline tables and arrays, one key per line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic strings
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    raise TypeError(type(value))


def write_config(tmp_path: Path, document: dict[str, Any], name: str = "gateway.toml") -> Path:
    path = tmp_path / name
    path.write_text("".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in document.items()),
                    encoding="utf-8")
    return path


def problems_of(path: Path, environ: dict[str, str], **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ, **kwargs)
    return {problem.key: problem.message for problem in caught.value.problems}


def broken_document() -> dict[str, Any]:
    """Six independent mistakes in one file."""
    document = example()
    document["server"]["port"] = 70000
    document["server"]["colour"] = "blue"
    document["consent"]["lifetime_days"] = 400
    document["sites"][0]["revision"] = 0
    document["sites"].append({"id": "demo", "hosts": ["fietsen.example"]})
    del document["banner"]["texts"]["fr"]  # while the demo site offers French
    return document


BROKEN_KEYS = {"server.port", "server.colour", "consent.lifetime_days", "sites[demo].revision",
               "sites", "banner.texts.fr"}


# ---------------------------------------------------------------------- the example


def test_the_example_config_validates(tmp_path: Path) -> None:
    assert isinstance(load_config(EXAMPLE_CONFIG, env(tmp_path)), GatewayConfig)


def test_the_toml_writer_of_these_tests_reproduces_the_example(tmp_path: Path) -> None:
    rewritten = write_config(tmp_path, example())
    assert load_config(rewritten, env(tmp_path)) == load_config(EXAMPLE_CONFIG, env(tmp_path))


def test_the_example_has_texts_in_four_languages_for_every_category(config: GatewayConfig) -> None:
    for category in CATEGORIES:
        texts = config.categories[category].texts
        assert set(texts) == {"nl", "en", "de", "fr"}, category
        assert all(t.title and t.description for t in texts.values())


def test_the_example_has_banner_texts_in_four_languages(config: GatewayConfig) -> None:
    assert set(config.banner.texts) == set(LANGUAGES)
    assert config.banner.texts["nl"].accept_all == "Alles accepteren"
    assert config.banner.texts["nl"].reject_all == "Alles weigeren"
    assert config.banner.texts["en"].settings == "Settings"


def test_the_example_sorts_the_common_tracking_cookies(config: GatewayConfig) -> None:
    rules = {rule.pattern: rule.category for rule in config.cookies}
    assert rules["_ga*"] == "analytics"
    assert rules["_gid"] == "analytics"
    assert rules["_gcl_*"] == "marketing"
    assert rules["_fbp"] == "marketing"
    assert rules["_fbc"] == "marketing"


def test_the_example_keeps_the_default_lifetime_and_blocks_unknown_cookies(
    config: GatewayConfig,
) -> None:
    assert config.consent.lifetime_days == 365
    assert config.consent.unknown_cookie_policy == "block"


# ----------------------------------------------------------------- environment overrides


def test_the_port_can_be_set_from_the_environment(tmp_path: Path) -> None:
    config = load_config(EXAMPLE_CONFIG, env(tmp_path, GATEWAY_SERVER_PORT="9123"))
    assert config.server.port == 9123


@pytest.mark.parametrize(("value", "workers"), [("auto", "auto"), ("3", 3)])
def test_workers_are_a_number_or_auto(tmp_path: Path, value: str, workers: object) -> None:
    config = load_config(EXAMPLE_CONFIG, env(tmp_path, GATEWAY_SERVER_WORKERS=value))
    assert config.server.workers == workers


@pytest.mark.parametrize("value", ["0", "65", "many", "2.5"])
def test_workers_other_than_a_count_or_auto_are_one_clear_problem(tmp_path: Path,
                                                                  value: str) -> None:
    problems = problems_of(EXAMPLE_CONFIG, env(tmp_path, GATEWAY_SERVER_WORKERS=value))
    assert set(problems) == {"server.workers"}
    assert "auto" in problems["server.workers"]


def test_a_site_is_addressed_by_its_id_in_the_environment(tmp_path: Path) -> None:
    environ = env(tmp_path, GATEWAY_SITES_DEMO_UPSTREAM="http://127.0.0.1:8080/")
    config = load_config(EXAMPLE_CONFIG, environ)
    assert config.sites[0].upstream == "http://127.0.0.1:8080"


def test_a_site_id_with_a_hyphen_is_addressed_with_an_underscore(tmp_path: Path) -> None:
    document = example()
    document["sites"][0]["id"] = "fiets-winkel"
    path = write_config(tmp_path, document)
    environ = env(tmp_path, GATEWAY_SITES_FIETS_WINKEL_REVISION="7")
    assert load_config(path, environ).sites[0].revision == 7


def test_trusted_proxies_can_be_a_comma_separated_list(tmp_path: Path) -> None:
    environ = env(tmp_path, GATEWAY_SERVER_TRUSTED_PROXIES="10.0.0.2, 172.16.0.0/12")
    config = load_config(EXAMPLE_CONFIG, environ)
    assert config.server.trusted_proxies == ("10.0.0.2", "172.16.0.0/12")


def test_trusted_proxies_can_be_a_json_list(tmp_path: Path) -> None:
    environ = env(tmp_path, GATEWAY_SERVER_TRUSTED_PROXIES='["10.0.0.2", "fd00::/8"]')
    config = load_config(EXAMPLE_CONFIG, environ)
    assert config.server.trusted_proxies == ("10.0.0.2", "fd00::/8")


def test_a_category_text_can_be_set_from_the_environment(tmp_path: Path) -> None:
    environ = env(tmp_path, GATEWAY_CATEGORIES_ANALYTICS_TEXTS_EN_TITLE="Statistics")
    config = load_config(EXAMPLE_CONFIG, environ)
    assert config.categories["analytics"].texts["en"].title == "Statistics"
    assert config.categories["analytics"].texts["nl"].title == "Statistieken"


def test_several_secret_keys_keep_their_order_newest_first(tmp_path: Path) -> None:
    environ = env(tmp_path, GATEWAY_SERVER_SECRET_KEYS=f"{SECRET},{OTHER_SECRET}")
    assert load_config(EXAMPLE_CONFIG, environ).server.secret_keys == (SECRET, OTHER_SECRET)


def test_a_bad_environment_value_is_named_by_its_key(tmp_path: Path) -> None:
    problems = problems_of(EXAMPLE_CONFIG, env(tmp_path, GATEWAY_SERVER_PORT="eighty"))
    assert set(problems) == {"server.port"}


def test_an_untrustworthy_proxy_address_is_named_by_its_key(tmp_path: Path) -> None:
    environ = env(tmp_path, GATEWAY_SERVER_TRUSTED_PROXIES="10.0.0.2,proxy.internal")
    problems = problems_of(EXAMPLE_CONFIG, environ)
    assert "server.trusted_proxies" in problems
    assert "proxy.internal" in problems["server.trusted_proxies"]


def test_a_broken_json_list_in_the_environment_is_named_by_its_key(tmp_path: Path) -> None:
    environ = env(tmp_path, GATEWAY_SERVER_TRUSTED_PROXIES='["10.0.0.2"')
    assert "server.trusted_proxies" in problems_of(EXAMPLE_CONFIG, environ)


# ------------------------------------------------------------------------- problems


def test_every_problem_in_a_file_is_reported_by_its_key(tmp_path: Path) -> None:
    problems = problems_of(write_config(tmp_path, broken_document()), env(tmp_path))
    assert set(problems) >= BROKEN_KEYS


def test_a_duplicate_site_id_names_the_id(tmp_path: Path) -> None:
    document = example()
    document["sites"].append({"id": "demo", "hosts": ["fietsen.example"]})
    problems = problems_of(write_config(tmp_path, document), env(tmp_path))
    assert set(problems) == {"sites"}
    assert "'demo'" in problems["sites"]


def test_a_language_without_banner_texts_is_reported_next_to_a_field_error(
    tmp_path: Path,
) -> None:
    # A field error stops pydantic before the cross-section checks; both must still show.
    document = example()
    document["server"]["port"] = 0
    document["sites"][0]["languages"] = ["nl", "fr"]
    del document["banner"]["texts"]["fr"]
    problems = problems_of(write_config(tmp_path, document), env(tmp_path))
    assert set(problems) == {"server.port", "banner.texts.fr"}


def test_a_category_without_texts_for_an_offered_language_is_named(tmp_path: Path) -> None:
    document = example()
    del document["categories"]["marketing"]["texts"]["de"]
    problems = problems_of(write_config(tmp_path, document), env(tmp_path))
    assert set(problems) == {"categories.marketing.texts.de"}


def test_a_missing_category_is_named(tmp_path: Path) -> None:
    document = example()
    del document["categories"]["preferences"]
    assert "categories.preferences" in problems_of(write_config(tmp_path, document),
                                                   env(tmp_path))


def test_an_unknown_key_is_called_unknown(tmp_path: Path) -> None:
    document = example()
    document["server"]["colour"] = "blue"
    problems = problems_of(write_config(tmp_path, document), env(tmp_path))
    assert problems == {"server.colour": "unknown key (misspelt?)"}


def test_a_lifetime_above_395_days_is_refused(tmp_path: Path) -> None:
    environ = env(tmp_path, GATEWAY_CONSENT_LIFETIME_DAYS="396")
    assert set(problems_of(EXAMPLE_CONFIG, environ)) == {"consent.lifetime_days"}


def test_a_lifetime_of_395_days_is_accepted(tmp_path: Path) -> None:
    environ = env(tmp_path, GATEWAY_CONSENT_LIFETIME_DAYS="395")
    assert load_config(EXAMPLE_CONFIG, environ).consent.lifetime_days == 395


# --------------------------------------------------------------------- reference doc


def test_the_configuration_reference_is_up_to_date() -> None:
    documented = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert documented == config_reference_markdown(), (
        "docs/configuration.md is stale: run `consent-gateway config-docs`"
    )


@pytest.mark.parametrize("key", config_keys(), ids=lambda key: key.path)
def test_every_config_key_has_help_and_is_documented(key: Any) -> None:
    assert key.help.strip(), f"{key.path} has no help text"
    documented = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert f"`{key.path}`" in documented


def test_every_section_of_the_example_is_in_the_reference() -> None:
    sections = {key.path.split(".")[0].split("[")[0] for key in config_keys()}
    assert set(example()) <= sections


# ------------------------------------------------------------------------ check-config


def check_config(tmp_path: Path, path: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    environ.update(env(tmp_path))
    return subprocess.run(
        [sys.executable, "-m", "gateway", "check-config", "--config", str(path)],
        env=environ, capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )


def test_check_config_passes_the_example(tmp_path: Path) -> None:
    result = check_config(tmp_path, EXAMPLE_CONFIG)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_check_config_fails_a_broken_file_naming_every_problem(tmp_path: Path) -> None:
    result = check_config(tmp_path, write_config(tmp_path, broken_document()))
    assert result.returncode == 1
    missing = [key for key in BROKEN_KEYS if f"{key}:" not in result.stderr]
    assert missing == [], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("link", ["javascript:alert(1)", "data:text/html,<b>x</b>",
                                  "//elsewhere.example/privacy", "privacy.html", " /privacy"])
def test_the_privacy_link_must_be_a_path_or_a_web_address(tmp_path: Path, link: str) -> None:
    document = example()
    document["sites"][0]["privacy_statement_url"] = link
    found = problems_of(write_config(tmp_path, document), env(tmp_path))
    assert "neither a path" in found["sites[demo].privacy_statement_url"]


@pytest.mark.parametrize("link", ["/privacy", "/legal/privacy#cookies",
                                  "https://www.example.nl/privacy"])
def test_paths_and_web_addresses_are_accepted_as_privacy_links(tmp_path: Path, link: str) -> None:
    document = example()
    document["sites"][0]["privacy_statement_url"] = link
    config = load_config(write_config(tmp_path, document), env(tmp_path))
    assert config.sites[0].privacy_statement_url == link


# ------------------------------------------------------------------- blocking


def test_the_catalogue_is_on_by_default_and_the_example_adds_its_own_rules(
    tmp_path: Path, config: GatewayConfig
) -> None:
    assert config.blocking.catalogue is True and config.blocking.rules
    document = example()
    del document["blocking"]
    bare = load_config(write_config(tmp_path, document), env(tmp_path))
    assert bare.blocking.catalogue is True and bare.blocking.rules == ()


def test_the_old_list_form_of_blocking_is_read_as_its_rules_with_a_note(tmp_path: Path) -> None:
    document = example()
    document["blocking"] = [{"host": "stats.example", "category": "analytics",
                             "markers": ["stats("]}]
    path = write_config(tmp_path, document)
    config = load_config(path, env(tmp_path, GATEWAY_BLOCKING_CATALOGUE="false"))
    assert config.blocking.catalogue is False
    assert [(r.host, r.markers) for r in config.blocking.rules] == [("stats.example", ("stats(",))]
    result = check_config(tmp_path, path)
    assert result.returncode == 0, result.stderr
    assert "note: blocking: `[[blocking]]` is read as `[[blocking.rules]]`" in result.stdout


def test_the_new_form_needs_no_note(tmp_path: Path) -> None:
    assert "note:" not in check_config(tmp_path, EXAMPLE_CONFIG).stdout


def test_rules_can_be_given_whole_in_the_environment(tmp_path: Path) -> None:
    rules = json.dumps([{"paths": ["*/visitor-stats.js"], "category": "analytics"}])
    config = load_config(EXAMPLE_CONFIG, env(tmp_path, GATEWAY_BLOCKING_RULES=rules))
    assert [r.paths for r in config.blocking.rules] == [("*/visitor-stats.js",)]


def test_a_rule_naming_nothing_to_match_is_refused(tmp_path: Path) -> None:
    document = example()
    document["blocking"] = {"rules": [{"category": "analytics"}]}
    problems = problems_of(write_config(tmp_path, document), env(tmp_path))
    assert problems == {"blocking.rules[0]": "a rule needs a host, urls, paths or markers"}


def test_search_params_must_be_query_parameter_names_named_once() -> None:
    from gateway.core.config.sites import SiteConfig
    assert SiteConfig(id="shop", search_params=("q", "s")).search_params == ("q", "s")
    for bad in (("q=x",), ("",), ("q", "q"), ("a b",)):
        with pytest.raises(ValueError, match=r"query parameter|twice"):
            SiteConfig(id="shop", search_params=bad)
