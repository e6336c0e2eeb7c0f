"""The tracker catalogue shipped in the package (gateway/adapters/catalogue/__init__.py): read
through importlib.resources, valid as a whole, and what the default config blocks. What each
entry says is checked in tests/core/enforcement/test_catalogue_data.py."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from gateway.adapters.catalogue import TRACKERS_FILE, load_catalogue
from gateway.core.config import GatewayConfig
from gateway.services.firewall import block_rules
from tests.conftest import REPO


def test_the_packaged_catalogue_loads_once_and_parses_whole() -> None:
    catalogue = load_catalogue()
    assert load_catalogue() is catalogue
    assert len(catalogue.services) >= 30
    hotjar = catalogue.service("hotjar")
    assert hotjar is not None and hotjar.category == "analytics"


def test_the_wheel_carries_the_catalogue() -> None:
    # hatch puts every file under gateway/ in the wheel that git does not ignore.
    path = REPO / "gateway" / "adapters" / "catalogue" / TRACKERS_FILE
    assert path.is_file()
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=REPO, check=False)
    assert ignored.returncode == 1


def test_the_default_config_blocks_the_issues_trackers(config: GatewayConfig) -> None:
    rules = block_rules(config)
    for url, category in [
        ("https://snap.licdn.com/li.lms-analytics/insight.min.js", "marketing"),
        ("https://static.hotjar.com/c/hotjar-1.js?sv=6", "analytics"),
        ("https://www.google.com/maps/embed?pb=!1m18", "marketing"),
        ("https://www.google.nl/maps/embed?pb=!1m18", "marketing"),  # the example's own rule
        ("https://www.facebook.com/tr?id=1&ev=PageView&noscript=1", "marketing"),
        ("/matomo/matomo.js", "analytics"),
        ("https://www.google.com/recaptcha/api.js", "necessary"),
    ]:
        found = rules.match(url)
        assert found is not None and found[0].category == category, url


def test_the_catalogue_can_be_turned_off(config: GatewayConfig) -> None:
    blocking = config.blocking.model_copy(update={"catalogue": False})
    rules = block_rules(config.model_copy(update={"blocking": blocking}))
    assert rules.match("https://static.hotjar.com/c/hotjar-1.js") is None
    assert rules.match("https://www.google.nl/maps/embed?pb=1") is not None
