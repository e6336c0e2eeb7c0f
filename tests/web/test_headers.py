"""Every response of the gateway's own endpoints carries the security headers, and a page
with a policy of its own keeps it (issue 8: headers and secrets)."""

from __future__ import annotations

import httpx
import pytest

PATHS = [
    ("GET", "/_consent/state"),
    ("GET", "/_consent/health"),
    ("GET", "/_consent/consent.js"),
    ("GET", "/_consent/consent.css"),
    ("GET", "/_consent/me"),
    ("GET", "/_consent/no-such-endpoint"),
    ("POST", "/_consent/consent"),
    ("POST", "/_consent/collect"),
    ("GET", "/.well-known/gpc.json"),
]


@pytest.mark.parametrize(("method", "path"), PATHS)
async def test_every_gateway_response_forbids_sniffing_framing_and_referrer_leaks(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path, content=b"{}" if method == "POST" else None,
                                    headers={"Content-Type": "application/json"})
    assert response.status_code < 500
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] in ("same-origin", "no-referrer")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_the_preferences_page_keeps_its_own_policy(client: httpx.AsyncClient) -> None:
    page = await client.get("/_consent/preferences")
    assert page.headers.get_list("content-security-policy") == [
        page.headers["content-security-policy"]]
    assert "style-src 'self'" in page.headers["content-security-policy"]
