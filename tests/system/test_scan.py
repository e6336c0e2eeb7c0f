"""`consent-gateway scan` (issue 16, item 6) as a site owner or a CI job runs it: a child
process driving the real Chromium over real servers on 127.0.0.1.

Every scan here runs with `--offline-third-parties`: requests to other sites are recorded,
then aborted, so nothing leaves the machine (the tracker hosts resolve nowhere here anyway).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Final

import httpx
import pytest

from gateway.web.admin import token_hash
from tests.conftest import EXAMPLE_CONFIG, REPO, LiveServer, gateway_env
from tests.support.browser import static_site

pytestmark = pytest.mark.browser

HOTJAR_PAGE: Final = (REPO / "tests/data/snippets/trackers/hotjar.html").read_text("utf-8")
TOKEN: Final = "scan-test-admin-token-0123456789abcdef"
HOSTILE_PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>&lt;script&gt;alert("title")&lt;/script&gt;</title>
<script>
document.cookie = "<b>crumb</b>=1; path=/";
localStorage.setItem('"><img src=x onerror=alert(1)>', "1");
</script>
</head><body><h1>Shop</h1><a href="/second">second page</a></body></html>
"""


def scan(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **gateway_env(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "gateway", "scan", url, "--offline-third-parties",
         "--config", str(EXAMPLE_CONFIG), *args],
        env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path,
    )


def test_a_tracker_page_served_directly_fails_naming_the_host_contacted(
    tmp_path: Path,
) -> None:
    with static_site(HOTJAR_PAGE) as site:
        result = scan(tmp_path, site + "/")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no banner found" in result.stdout
    assert "before any decision: request to static.hotjar.com (analytics)" in result.stdout


def test_the_same_page_behind_the_gateway_passes_and_the_dashboard_shows_it(
    tmp_path: Path,
) -> None:
    with static_site(HOTJAR_PAGE) as site:
        server = LiveServer(tmp_path, "--upstream", site,
                            env={"GATEWAY_ADMIN_TOKEN_HASHES": token_hash(TOKEN)}).start()
        try:
            result = scan(tmp_path, server.url + "/", "--json", "--save", "--pages", "0")
            dashboard = httpx.get(f"{server.url}/_consent/admin/?lang=en",
                                  headers={"Authorization": f"Bearer {TOKEN}"})
        finally:
            server.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["passed"] is True and report["banner"] is True
    moments = report["moments"]
    assert moments["before"]["requests"] == moments["rejected"]["requests"] == []
    assert [c["name"] for c in moments["rejected"]["cookies"]] == ["consent"]
    # Accepting lets Hotjar's snippet run: the scan sees its first request.
    assert [r["host"] for r in moments["accepted"]["requests"]] == ["static.hotjar.com"]
    assert json.loads((tmp_path / "last-scan.json").read_text()) == report
    assert "Last consent scan" in dashboard.text
    assert "Passed: nothing but necessary" in dashboard.text


def test_the_html_report_escapes_what_the_site_supplied(tmp_path: Path) -> None:
    report_file = tmp_path / "scan.html"
    with static_site(HOSTILE_PAGE) as site:
        result = scan(tmp_path, site + "/", "--html", str(report_file), "--json",
                      "--pages", "1")
    assert result.returncode == 1, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert [p["url"] for p in document["pages"]] == [site + "/", site + "/second"]
    assert {c["name"] for c in document["moments"]["before"]["cookies"]} == {"<b>crumb</b>"}
    page = report_file.read_text("utf-8")
    assert "&lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt;" in page
    assert "&lt;b&gt;crumb&lt;/b&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script" not in page and "<img" not in page and "<b>" not in page


def test_a_page_that_does_not_load_is_a_usage_error_not_a_verdict(tmp_path: Path) -> None:
    result = scan(tmp_path, "http://127.0.0.1:9/")
    assert result.returncode == 2
    assert "did not load" in result.stderr
