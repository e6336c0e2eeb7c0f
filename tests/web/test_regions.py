"""`[[regions]]` over a real server (issue 20): the client's address (here forwarded by a
trusted proxy) is placed by MaxMind's test database, and `/state`, the page's implied
decision, the cookie and the consent record follow the first rule naming its country."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import GEOIP_DIR, LiveServer
from tests.support.browser import logged_columns

US, GB, SE, CN, JP = "216.160.83.56", "81.2.69.142", "89.160.20.112", "175.16.199.1", "2001:218::1"
UNKNOWN = "198.51.100.7"  # a documentation address no database places
REGIONS = json.dumps([
    {"countries": ["JP"], "mode": "none", "granted": ["analytics", "preferences"]},
    {"countries": ["*"], "mode": "notice", "granted": ["analytics"]},
])
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"}


def regional_env(*, geoip: bool = True) -> dict[str, str]:
    env = {"GATEWAY_REGIONS": REGIONS, "GATEWAY_SERVER_TRUSTED_PROXIES": "127.0.0.1"}
    if geoip:
        env["GATEWAY_ANALYTICS_GEOIP_DATABASE"] = str(GEOIP_DIR / "GeoLite2-City-Test.mmdb")
    return env


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path, env=regional_env()).start()
    yield live
    live.stop()


def state(server: LiveServer, address: str, **headers: str) -> dict[str, object]:
    response = httpx.get(f"{server.url}/_consent/state",
                         headers={"X-Forwarded-For": address, **BROWSER, **headers})
    assert response.status_code == 200
    return dict(response.json())


def records(tmp_path: Path) -> list[tuple[str, ...]]:
    return logged_columns(tmp_path, "action", "source", "mode", "granted")


@pytest.mark.parametrize(("address", "mode"), [
    (US, "notice"), (CN, "notice"), (JP, "none"), (GB, "opt-in"), (SE, "opt-in"),
    (UNKNOWN, "opt-in"), ("10.1.2.3", "opt-in"),
])
def test_state_names_the_mode_of_the_first_rule_naming_the_country(
    server: LiveServer, address: str, mode: str
) -> None:
    body = state(server, address)
    assert body["mode"] == mode
    assert body["consent"] is None


def test_without_a_geoip_database_every_visitor_is_opt_in(tmp_path: Path) -> None:
    live = LiveServer(tmp_path, env=regional_env(geoip=False)).start()
    try:
        assert state(live, US)["mode"] == "opt-in"
    finally:
        live.stop()


def test_a_page_in_a_notice_region_carries_an_implied_decision_logged_with_its_mode(
    server: LiveServer, tmp_path: Path
) -> None:
    with httpx.Client(base_url=server.url, headers={"X-Forwarded-For": US, **BROWSER}) as http:
        page = http.get("/")
        assert "&quot;mode&quot;:&quot;notice&quot;" in page.text
        consent = http.get("/_consent/state").json()["consent"]
    assert consent["explicit"] is False
    assert consent["categories"] == {"necessary": True, "preferences": False,
                                     "analytics": True, "marketing": False}
    assert records(tmp_path) == [("implied", "region", "notice", '["necessary", "analytics"]')]


def test_a_page_in_an_opt_in_region_implies_nothing(server: LiveServer, tmp_path: Path) -> None:
    page = httpx.get(server.url + "/", headers={"X-Forwarded-For": GB, **BROWSER})
    assert "set-cookie" not in page.headers
    assert "&quot;mode&quot;:&quot;opt-in&quot;" in page.text
    assert records(tmp_path) == []


def test_a_crawler_in_a_notice_region_gets_no_implied_decision(
    server: LiveServer, tmp_path: Path
) -> None:
    httpx.get(server.url + "/", headers={"X-Forwarded-For": US, "User-Agent": "Googlebot/2.1"})
    assert records(tmp_path) == []


def test_an_implied_decision_does_not_count_where_opt_in_applies(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, headers=BROWSER) as http:
        http.get("/", headers={"X-Forwarded-For": US})
        assert http.get("/_consent/state", headers={"X-Forwarded-For": US}).json()["consent"]
        in_gb = http.get("/_consent/state", headers={"X-Forwarded-For": GB}).json()
    assert (in_gb["mode"], in_gb["consent"]) == ("opt-in", None)


def test_a_decision_made_under_opt_in_stands_on_a_visit_from_another_region(
    server: LiveServer, tmp_path: Path
) -> None:
    with httpx.Client(base_url=server.url, headers=BROWSER) as http:
        refused = http.post("/_consent/consent", json={"action": "reject_all"},
                            headers={"X-Forwarded-For": GB})
        assert refused.status_code == 200
        http.get("/", headers={"X-Forwarded-For": JP})
        in_jp = http.get("/_consent/state", headers={"X-Forwarded-For": JP}).json()
    assert in_jp["mode"] == "none"
    assert in_jp["consent"]["explicit"] is True
    assert in_jp["consent"]["categories"]["analytics"] is False
    assert records(tmp_path) == [("reject_all", "api", "opt-in", '["necessary"]')]


def test_refusing_under_notice_is_logged_with_the_mode(
    server: LiveServer, tmp_path: Path
) -> None:
    with httpx.Client(base_url=server.url, headers={"X-Forwarded-For": US, **BROWSER}) as http:
        http.get("/")
        http.post("/_consent/consent", json={"action": "reject_all", "source": "banner"})
        consent = http.get("/_consent/state").json()["consent"]
    assert consent["explicit"] is True and consent["categories"]["analytics"] is False
    assert [r[:3] for r in records(tmp_path)] == [("implied", "region", "notice"),
                                                  ("reject_all", "banner", "notice")]


def test_a_snippet_may_ask_for_the_implied_decision_only_where_one_applies(
    server: LiveServer, tmp_path: Path
) -> None:
    body = {"action": "implied", "categories": {"marketing": True}}
    refused = httpx.post(f"{server.url}/_consent/consent", json=body,
                         headers={"X-Forwarded-For": GB, **BROWSER})
    assert refused.status_code == 422
    assert refused.json()["field"] == "action"
    taken = httpx.post(f"{server.url}/_consent/consent", json=body,
                       headers={"X-Forwarded-For": JP, **BROWSER})
    assert taken.status_code == 200
    # the region decides what is implied, not the body
    assert taken.json()["categories"] == {"necessary": True, "preferences": True,
                                          "analytics": True, "marketing": False}
    assert [r[:3] for r in records(tmp_path)] == [("implied", "region", "none")]


def test_consent_mode_defaults_grant_the_regions_categories(server: LiveServer) -> None:
    regions = state(server, GB)["consent_mode"]["regions"]  # type: ignore[index]
    jp = next(entry for entry in regions if entry["region"] == ["JP"])
    assert set(jp["granted"]) == {"analytics_storage", "functionality_storage",
                                  "personalization_storage"}
