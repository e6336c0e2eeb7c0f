"""One decision for a whole domain (`consent.cookie_domain`, issue 20), over a real server:
two sites on hosts under `example.test` share the consent cookie; each keeps its revision,
so raising one re-asks there only; the record names the host; withdrawal reaches both."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from gateway.adapters.configfile import load_config
from gateway.core.consent.cookie import Consent
from gateway.services.wiring import build_services
from tests.conftest import EXAMPLE_CONFIG, LiveServer, gateway_env
from tests.support.browser import logged_columns

WWW, BLOG = "www.example.test", "blog.example.test"
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"}


def two_sites(tmp_path: Path, *, blog_revision: int = 1) -> Path:
    """The example configuration with its site on www. and a second site on blog."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    text = text.replace('cookie_name = "consent"',
                        'cookie_name = "consent"\ncookie_domain = "example.test"', 1)
    text = text.replace('hosts = ["localhost", "127.0.0.1"]', f'hosts = ["{WWW}"]', 1)
    text = text.replace("\n[privacy]", f'\n[[sites]]\nid = "blog"\nhosts = ["{BLOG}"]\n'
                        f"revision = {blog_revision}\n\n[privacy]", 1)
    path = tmp_path / f"two-sites-{blog_revision}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def start(tmp_path: Path, config: Path) -> LiveServer:
    return LiveServer(tmp_path, "--config", str(config)).start()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start(tmp_path, two_sites(tmp_path))
    yield live
    live.stop()


def consent_on(http: httpx.Client, host: str, cookie: str) -> object:
    return http.get("/_consent/state", headers={"Host": host, "Cookie": cookie}).json()["consent"]


def decide(http: httpx.Client, path: str, host: str, cookie: str = "", **body: str) -> str:
    """POST a decision as a browser on `host` would; the consent cookie it gets back. (The
    client's own jar would not keep a cookie for example.test from 127.0.0.1: a browser's
    does, see tests/system/test_cookie_domain_browser.py.)"""
    response = http.post(path, json=body or None, headers={"Host": host, "Cookie": cookie})
    assert response.status_code == 200, response.text
    return str(response.headers["set-cookie"]).split(";")[0]


def hosts_logged(tmp_path: Path) -> list[tuple[str, ...]]:
    return logged_columns(tmp_path, "action", "site", "host")


def test_the_cookie_is_set_for_the_parent_domain(server: LiveServer) -> None:
    response = httpx.post(f"{server.url}/_consent/consent", json={"action": "accept_all"},
                          headers={"Host": WWW, **BROWSER})
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("consent=")
    assert "Domain=example.test" in cookie


def test_a_decision_on_one_host_counts_on_the_other_and_names_its_host(
    server: LiveServer, tmp_path: Path
) -> None:
    with httpx.Client(base_url=server.url, headers=BROWSER) as http:
        cookie = decide(http, "/_consent/consent", WWW, action="accept_all")
        on_blog = consent_on(http, BLOG, cookie)
        assert isinstance(on_blog, dict) and on_blog["categories"]["analytics"] is True
        cookie = decide(http, "/_consent/withdraw", BLOG, cookie)
        on_www = consent_on(http, WWW, cookie)
    assert isinstance(on_www, dict) and on_www["categories"]["analytics"] is False
    assert hosts_logged(tmp_path) == [("accept_all", "demo", WWW), ("withdraw", "blog", BLOG)]


def test_a_newer_revision_on_one_site_asks_again_there_only(tmp_path: Path) -> None:
    live = start(tmp_path, two_sites(tmp_path))
    try:
        answer = httpx.post(f"{live.url}/_consent/consent", json={"action": "accept_all"},
                            headers={"Host": WWW, **BROWSER})
        cookie = answer.headers["set-cookie"].split(";")[0]
    finally:
        live.stop()
    live = start(tmp_path, two_sites(tmp_path, blog_revision=2))
    try:
        with httpx.Client(base_url=live.url, headers=BROWSER) as http:
            assert consent_on(http, WWW, cookie) is not None
            assert consent_on(http, BLOG, cookie) is None
    finally:
        live.stop()


def test_over_https_a_domain_cookie_is_secure_prefixed_not_host_prefixed(
    tmp_path: Path
) -> None:
    config = load_config(two_sites(tmp_path), gateway_env(tmp_path))
    consents = build_services(config).consents
    assert consents.cookie_name(https=True) == "__Secure-consent"
    assert consents.cookie_name(https=False) == "consent"
    consent = Consent("A" * 22, "demo", frozenset({"necessary"}), 1,
                      consents.clock() - timedelta(minutes=1), revisions=(("blog", 1),))
    value = consents.set_cookie(consent, https=True, host=WWW)
    assert value.startswith("__Secure-consent=")
    assert "Domain=example.test" in value and "Secure" in value
    # on a host the domain does not cover (the gateway's own address): host-only
    assert "Domain" not in consents.set_cookie(consent, https=True, host="127.0.0.1")
