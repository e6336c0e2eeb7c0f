"""The proxies `bench.proxy` and `bench.engines` measure the gateway beside
(`bench/baselines.py`): the bare Python proxy relays bytes unchanged, nginx is started when it
is installed and left out cleanly when it is not."""

from __future__ import annotations

import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import baselines, proxy
from bench.common import Child


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[str]:
    child, url = proxy.start_upstream(tmp_path)
    try:
        yield url
    finally:
        child.stop()


def body(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        return bytes(response.read())


def stopped_after(pair: tuple[Child, str] | None, path: str) -> bytes:
    assert pair is not None
    child, url = pair
    try:
        return body(url + path)
    finally:
        child.stop()


def test_the_bare_proxy_relays_both_paths_unchanged(tmp_path: Path, upstream: str) -> None:
    child, url = baselines.start_bare_proxy(tmp_path, upstream, ready_path=proxy.ASSET_PATH)
    try:
        for path in (proxy.ASSET_PATH, proxy.PAGE_PATH):
            assert body(url + path) == body(upstream + path)
    finally:
        child.stop()


def test_without_nginx_its_column_is_left_out(tmp_path: Path, upstream: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH on which there is no nginx
    assert not baselines.nginx_available()
    assert baselines.start_nginx(tmp_path, upstream) is None


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_proxies_to_the_same_upstream(tmp_path: Path, upstream: str) -> None:
    relayed = stopped_after(baselines.start_nginx(tmp_path, upstream), proxy.ASSET_PATH)
    assert relayed == body(upstream + proxy.ASSET_PATH)
