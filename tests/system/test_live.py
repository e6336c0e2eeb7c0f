"""A real `consent-gateway serve` (uvicorn in a child process) on a free port."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.conftest import EXAMPLE_CONFIG, LiveServer, free_port, gateway_env


def test_the_demo_site_shows_the_banner(live_server: LiveServer) -> None:
    page = httpx.get(live_server.url + "/", headers={"Accept-Language": "nl"})
    assert page.status_code == 200
    assert 'id="consent-gateway"' in page.text
    assert "Alles weigeren" in page.text  # the inlined nl texts
    assert page.headers["cache-control"].startswith("private")
    script = httpx.get(live_server.url + "/_consent/consent.js")
    assert script.status_code == 200 and len(script.content) > 0


def test_a_decision_over_real_http_round_trips(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        response = client.post("/_consent/consent", json={"action": "reject_all"})
        assert response.status_code == 200
        assert client.get("/_consent/state").json()["consent"]["categories"]["analytics"] is False
        shop = client.get("/shop")
        names = {v.split("=")[0] for v in shop.headers.get_list("set-cookie")}
        assert names == {"cart"}  # _ga, _fbp and the preferences cookie held back


def test_the_server_output_holds_no_client_address(tmp_path: Path) -> None:
    server = LiveServer(tmp_path).start()
    try:
        with httpx.Client(base_url=server.url) as client:
            client.get("/")
            client.post("/_consent/consent", json={"action": "accept_all"})
            client.get("/nothing-here")
    finally:
        server.stop()
    output = server.log.read_text()
    assert "consent-gateway on http://" in output  # the log was captured
    assert "127.0.0.1:" not in output.replace(f"http://127.0.0.1:{server.port}", "")


def test_workers_auto_starts_one_worker_per_usable_core(tmp_path: Path) -> None:
    cores = len(os.sched_getaffinity(0))
    server = LiveServer(tmp_path, "--workers", "auto").start()
    try:
        assert server.process is not None
        children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
        # Worker processes, not multiprocessing's resource tracker.
        workers = sum(b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
                      for pid in children.read_text().split())
    finally:
        server.stop()
    # One core: uvicorn serves in the process itself; more: one child process per core.
    assert workers == (cores if cores > 1 else 0)


def test_several_workers_keep_the_log_intact(tmp_path: Path) -> None:
    # One client, 200 decisions: above the default rate limit, so raise it. Both workers
    # then hash this client with the same daily key, made by whichever came first.
    server = LiveServer(tmp_path, "--workers", "2",
                        env={"GATEWAY_ABUSE_CONSENT_PER_MINUTE": "1000"}).start()
    try:
        async def decide(client: httpx.AsyncClient) -> int:
            response = await client.post(server.url + "/_consent/consent",
                                         json={"action": "accept_all"})
            return response.status_code

        async def load() -> list[int]:
            limits = httpx.Limits(max_connections=20)
            async with httpx.AsyncClient(limits=limits, timeout=30) as client:
                return await asyncio.gather(*(decide(client) for _ in range(200)))

        statuses = asyncio.run(load())
    finally:
        server.stop()
    assert statuses == [200] * 200
    env = {**os.environ, **gateway_env(tmp_path)}
    verify = subprocess.run(
        [sys.executable, "-m", "gateway", "verify-log", "--config", str(EXAMPLE_CONFIG)],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "200 consent records" in verify.stdout
    db = sqlite3.connect(tmp_path / "gateway.sqlite3")
    assert db.execute("SELECT count(*) FROM ip_hash_keys").fetchone() == (1,)
    db.close()


# ------------------------------------------------------------------ reverse proxy


async def upstream_page(request: Request) -> Response:
    response = HTMLResponse("<html><head><title>up</title></head><body>upstream "
                            f"cookie={request.headers.get('cookie')}</body></html>")
    response.set_cookie("sessionid", "abc")
    response.set_cookie("_ga", "GA1.2.3")
    response.set_cookie("_fbp", "fb.1")
    return response


async def upstream_redirect(request: Request) -> Response:
    return RedirectResponse("/elsewhere", status_code=302)


async def upstream_echo(request: Request) -> Response:
    body = await request.body()
    return Response(body, media_type="application/octet-stream",
                    headers={"X-Seen-For": request.headers.get("x-forwarded-for", "")})


@pytest.fixture
def upstream() -> Iterator[str]:
    app = Starlette(routes=[Route("/", upstream_page), Route("/go", upstream_redirect),
                            Route("/echo", upstream_echo, methods=["POST"])])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_the_proxy_injects_and_filters_for_a_real_upstream(
    tmp_path: Path, upstream: str
) -> None:
    server = LiveServer(tmp_path, "--upstream", upstream).start()
    try:
        with httpx.Client(base_url=server.url) as client:
            page = client.get("/")
            assert "upstream" in page.text and 'id="consent-gateway"' in page.text
            names = sorted(v.split("=")[0] for v in page.headers.get_list("set-cookie"))
            assert names == ["sessionid"]
            client.post("/_consent/consent", json={"action": "accept_all"})
            client.cookies.set("_ga", "GA1.2.3")
            page = client.get("/")
            names = sorted(v.split("=")[0] for v in page.headers.get_list("set-cookie"))
            assert names == ["_fbp", "_ga", "sessionid"]  # separate headers, never joined
            assert "_ga=GA1.2.3" in page.text  # the upstream got the granted cookie
            redirect = client.get("/go", follow_redirects=False)
            assert redirect.status_code == 302 and redirect.headers["location"] == "/elsewhere"
            payload = os.urandom(300_000)
            echo = client.post("/echo", content=payload)
            assert echo.content == payload
            assert echo.headers["x-seen-for"] == "127.0.0.1"
    finally:
        server.stop()


def test_a_dead_upstream_gives_502_while_consent_keeps_working(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    server = LiveServer(tmp_path, "--upstream", dead).start()
    try:
        with httpx.Client(base_url=server.url) as client:
            page = client.get("/")
            assert page.status_code == 502
            assert client.post("/_consent/consent",
                               json={"action": "reject_all"}).status_code == 200
            assert client.get("/_consent/health").status_code == 200
    finally:
        server.stop()
