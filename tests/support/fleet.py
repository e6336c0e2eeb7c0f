"""Gateway instances on one PostgreSQL, as separate `serve` processes with their own data
folders, and a visitor's round trip through them (shared by the fleet and fault tests)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from gateway.adapters.store.chain import ChainWalk, walk_chain
from gateway.adapters.store.postgres import PostgresStore
from gateway.web.admin import token_hash
from tests.conftest import FIREFOX_UA, LiveServer

ADMIN_TOKEN = "fleet-admin-token-0123456789abcdef"
TOKEN_ATTR = re.compile(r'data-page-token="([^"]+)"')


def instance(tmp_path: Path, name: str, url: str, **env: str) -> LiveServer:
    folder = tmp_path / name
    folder.mkdir()
    return LiveServer(folder, env={
        "GATEWAY_STORAGE_URL": url, "GATEWAY_ABUSE_ENABLED": "false",
        "GATEWAY_ADMIN_TOKEN_HASHES": token_hash(ADMIN_TOKEN), **env})


@dataclass
class Visitor:
    cookie: str  # the Cookie header: the signed consent
    consent_id: str
    token: str  # a page token


async def decide(client: httpx.AsyncClient, base: str, action: str = "accept_all"
                 ) -> httpx.Response:
    return await client.post(f"{base}/_consent/consent", json={"action": action},
                             headers={"Origin": base, "User-Agent": FIREFOX_UA})


async def visitor(client: httpx.AsyncClient, base: str) -> Visitor:
    """A visitor who accepted on `base` and holds a page token from it."""
    answer = await decide(client, base)
    assert answer.status_code == 200, answer.text
    name, value = next(iter(answer.cookies.items()))
    cookie = f"{name}={value}"
    page = await client.get(f"{base}/", headers={"Cookie": cookie, "User-Agent": FIREFOX_UA})
    token = TOKEN_ATTR.search(page.text)
    assert token is not None
    return Visitor(cookie, answer.json()["consent_id"], token.group(1))


async def beacon(client: httpx.AsyncClient, base: str, who: Visitor, path: str = "/"
                 ) -> httpx.Response:
    return await client.post(
        f"{base}/_consent/collect",
        json={"type": "pageview", "url": f"{base}{path}", "token": who.token},
        headers={"Cookie": who.cookie, "Origin": base, "User-Agent": FIREFOX_UA})


async def stored(url: str) -> tuple[set[str], int]:
    """Consent ids in the log, and how many analytics events are stored."""
    conn: Any = await asyncpg.connect(url)
    try:
        ids = {str(r[0]) for r in await conn.fetch("SELECT consent_id FROM consent_log")}
        return ids, int(await conn.fetchval("SELECT count(*) FROM analytics_events"))
    finally:
        await conn.close()


async def verified(url: str) -> ChainWalk:
    store = PostgresStore(url, pool_size=2)
    await store.open()
    try:
        return await walk_chain(store, full=True)
    finally:
        await store.close()


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)
