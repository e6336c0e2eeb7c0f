"""Secrets stay secret: a real server with known signing keys, an admin token and a Basic
user is driven through ordinary traffic and every kind of refusal; afterwards neither its
log nor any error body holds a key, the token or its hash, the password, a consent cookie,
a page token, a consent id or the client's address. `check-config` on broken
configurations names the keys at fault without printing their secret values."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from gateway.core.errors import StoreError
from gateway.services.wiring import Services
from gateway.web.admin import new_admin_token
from gateway.web.admin.auth import basic_user_line
from tests.conftest import EXAMPLE_CONFIG, FIREFOX_UA, REPO, FrozenClock, LiveServer
from tests.web.test_collect import make_gateway, visitor

NEW_KEY = "nk-" + secrets.token_urlsafe(40)
OLD_KEY = "ok-" + secrets.token_urlsafe(40)
TOKEN, TOKEN_HASH = new_admin_token()
PASSWORD = "pw-" + secrets.token_urlsafe(18)
BASIC_LINE = basic_user_line("alice", PASSWORD)
CLIENT_IP = "127.0.0.77"  # the test's own source address; the server listens on 127.0.0.1
PAGE_TOKEN = re.compile(r'data-page-token="([^"]+)"')


def static_secrets() -> dict[str, str]:
    scrypt_salt, scrypt_hash = BASIC_LINE.split(":")[2:]
    basic = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    return {
        "newest secret key": NEW_KEY, "older secret key": OLD_KEY, "admin token": TOKEN,
        "admin token hash": TOKEN_HASH.removeprefix("sha256:"), "Basic password": PASSWORD,
        "Basic credentials": basic, "scrypt salt": scrypt_salt, "scrypt hash": scrypt_hash,
        "client address": CLIENT_IP,
    }


class Traffic:
    """What a day brings: visitors deciding and measuring, and a good deal of refusals.
    Remembers every secret value it saw and every error body it got."""

    def __init__(self, base_url: str) -> None:
        transport = httpx.HTTPTransport(local_address=CLIENT_IP)
        self.http = httpx.Client(transport=transport, base_url=base_url,
                                 headers={"User-Agent": FIREFOX_UA}, timeout=10)
        self.secrets = static_secrets()
        self.errors: list[httpx.Response] = []

    def send(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)  # type: ignore[arg-type]
        assert response.status_code < 500, (path, response.status_code, response.text)
        if response.status_code >= 400:
            self.errors.append(response)
        return response

    def visit_and_decide(self, n: int) -> str:
        self.http.cookies.clear()
        page = self.send("GET", "/shop")
        token = PAGE_TOKEN.search(page.text)
        assert token is not None
        self.secrets[f"page token {n}"] = token.group(1)
        decided = self.send("POST", "/_consent/consent", json={"action": "accept_all"})
        cookie = decided.cookies["consent"]
        self.secrets[f"consent cookie {n}"] = cookie
        self.secrets[f"consent id {n}"] = decided.json()["consent_id"]
        beacon = {"type": "pageview", "url": f"{self.http.base_url}/shop",
                  "token": token.group(1)}
        self.send("POST", "/_consent/collect", content=json.dumps(beacon).encode(),
                  headers={"Content-Type": "text/plain"})
        self.send("GET", "/_consent/me")
        return cookie

    def misbehave(self, cookie: str) -> None:
        bad_cookie = cookie[:-3] + ("AAA" if not cookie.endswith("AAA") else "BBB")
        self.secrets["tampered cookie"] = bad_cookie
        self.http.cookies.clear()
        # Secrets travel in headers only: a body's own field may be named back to its sender.
        for headers in ({"Cookie": f"consent={bad_cookie}"}, {"X-Consent-Token": bad_cookie},
                        {"Cookie": f"consent={cookie}x"}):
            self.send("GET", "/_consent/state", headers=headers)
            self.send("POST", "/_consent/consent", content=b"{not json",
                      headers={**headers, "Content-Type": "application/json"})
            self.send("POST", "/_consent/consent", json={"action": "maybe"}, headers=headers)
            self.send("POST", "/_consent/consent", json={"action": "accept_all"},
                      headers={**headers, "Origin": "http://evil.example"})
        self.send("POST", "/_consent/consent", content=b"\xff\xfe",
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.send("POST", "/_consent/consent", json={"action": "custom",
                                                     "categories": {"tracking": True}})
        self.send("POST", "/_consent/collect", content=b"[" * 20_000)
        self.send("GET", "/_consent/state", params={"lang": PASSWORD})

    def knock_on_admin(self) -> None:
        wrong = [
            {"Authorization": f"Bearer {TOKEN[:-2]}xx"}, {"Authorization": f"Bearer {TOKEN_HASH}"},
            {"Authorization": f"Bearer {NEW_KEY}"}, {"Authorization": f"Token {TOKEN}"},
            {"Authorization": "Basic " + base64.b64encode(f"alice:{PASSWORD}!".encode()).decode()},
            {"Authorization": "Basic " + base64.b64encode(f"mallory:{PASSWORD}".encode()).decode()},
            {"Authorization": f"Basic {PASSWORD}"}, {"Authorization": f"{PASSWORD} {TOKEN}"},
            {"Authorization": TOKEN}, {"Authorization": f"Bearer{TOKEN}"},
            {"Authorization": f"Bearer {TOKEN} {PASSWORD}"},
        ]
        for headers in wrong:
            answer = self.send("GET", "/_consent/admin/stats", headers=headers)
            assert answer.status_code == 401
        right = [{"Authorization": f"Bearer {TOKEN}"},
                 {"Authorization": "Basic "
                  + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()}]
        for headers in right:
            assert self.send("GET", "/_consent/admin/stats", headers=headers).status_code == 200
        good = right[0]
        self.send("GET", "/_consent/admin/consents.ndjson", headers=good)
        self.send("GET", "/_consent/admin/consents.csv", params={"since": "yesterday"},
                  headers=good)
        self.send("GET", "/_consent/admin/verify", headers=good)
        self.send("POST", "/_consent/admin/blocklist", json={"ip": CLIENT_IP, "minutes": 10**9},
                  headers=good)
        self.send("POST", "/_consent/admin/blocklist", json={"ip": "not-an-address"}, headers=good)
        self.send("GET", f"/_consent/admin/subjects/{self.secrets['consent id 0']}x",
                  headers=good)
        self.send("GET", "/_consent/admin/", params={"lang": "xx", "site": "nope"},
                  headers=good)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path, env={
        "GATEWAY_SERVER_SECRET_KEYS": f"{NEW_KEY},{OLD_KEY}",
        "GATEWAY_ADMIN_TOKEN_HASHES": TOKEN_HASH, "GATEWAY_ADMIN_BASIC_USERS": BASIC_LINE,
        "GATEWAY_ABUSE_ENABLED": "false", "GATEWAY_ADMIN_FAILED_PER_MINUTE": "100",
    }).start()
    yield live
    live.stop()


def leaked(text: str, known: dict[str, str], window: int = 12) -> list[str]:
    """The names of the secrets `text` holds, whole or any `window` characters of one (a
    truncated secret is still a leak)."""
    return [name for name, value in known.items()
            if value and (value in text if len(value) <= window or name == "client address"
                          else any(value[i:i + window] in text
                                   for i in range(len(value) - window + 1)))]


def test_no_secret_reaches_the_log_or_an_error_body(server: LiveServer) -> None:
    traffic = Traffic(server.url)
    cookies = [traffic.visit_and_decide(n) for n in range(3)]
    traffic.misbehave(cookies[0])
    traffic.knock_on_admin()
    assert len(traffic.errors) >= 20  # refusals of every kind were made
    for response in traffic.errors:
        assert not leaked(response.text, traffic.secrets), (response.request.url, response.text)
        assert "error" in response.json()
        for value in response.headers.values():
            assert not leaked(value, traffic.secrets), value
    traffic.http.close()
    server.stop()  # shutdown logs too
    log = server.log.read_text(errors="replace")
    assert "authentication failed" in log  # the failures were logged, just not the secrets
    assert not leaked(log, traffic.secrets), log[-4000:]
    assert "Traceback" not in log


async def test_a_store_outage_is_logged_without_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gateway: Services = make_gateway(tmp_path, FrozenClock(datetime(2026, 11, 21, tzinfo=UTC)),
                                    GATEWAY_SERVER_SECRET_KEYS=NEW_KEY)
    await gateway.start()

    async def broken(*_: object, **__: object) -> None:
        raise StoreError("database is locked")

    gateway.store.append_consent = broken  # type: ignore[method-assign]
    try:
        with caplog.at_level(logging.DEBUG):
            async with visitor(gateway, address="198.51.100.23") as client:
                accepted = await client.post("/_consent/consent", json={"action": "accept_all"},
                                             headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        await gateway.stop()
    assert accepted.status_code == 503 and "error" in accepted.json()
    text = caplog.text + accepted.text
    assert "store unavailable" in caplog.text
    assert not leaked(text, {"key": NEW_KEY, "token": TOKEN, "ip": "198.51.100.23"}), text


def check_config(
    tmp_path: Path, toml: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    return subprocess.run(
        [sys.executable, "-m", "gateway", "check-config", "--config", str(config)],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", **env}, cwd=REPO,
        timeout=30, check=False,
    )


EXAMPLE = EXAMPLE_CONFIG.read_text()
SHORT_KEY = "short-key-SK1"
INLINE_KEY = "ik-" + secrets.token_urlsafe(40)


@pytest.mark.parametrize(("toml", "env", "secret", "key"), [
    # A key too short, from the environment.
    (EXAMPLE, {"GATEWAY_SERVER_SECRET_KEYS": f"{NEW_KEY},{SHORT_KEY}"}, SHORT_KEY,
     "server.secret_keys"),
    # A key written into the file, which is refused.
    (EXAMPLE.replace("[server]\n", f'[server]\nsecret_keys = ["{INLINE_KEY}"]\n', 1),
     {}, INLINE_KEY, "server.secret_keys"),
    # The token itself pasted where its hash belongs.
    (EXAMPLE, {"GATEWAY_SERVER_SECRET_KEYS": NEW_KEY, "GATEWAY_ADMIN_TOKEN_HASHES": TOKEN},
     TOKEN, "admin.token_hashes"),
    # A Basic password pasted where its scrypt line belongs.
    (EXAMPLE, {"GATEWAY_SERVER_SECRET_KEYS": NEW_KEY,
               "GATEWAY_ADMIN_BASIC_USERS": f"alice:{PASSWORD}"}, PASSWORD, "admin.basic_users"),
    # A secret in a misspelt key of the file.
    (EXAMPLE.replace("[admin]\n", f'[admin]\ntoken = "{TOKEN}"\n', 1),
     {"GATEWAY_SERVER_SECRET_KEYS": NEW_KEY}, TOKEN, "admin.token"),
    # A secret in a value of the wrong type.
    (EXAMPLE.replace("token_hashes = []", f'token_hashes = "{TOKEN}"', 1),
     {"GATEWAY_SERVER_SECRET_KEYS": NEW_KEY}, TOKEN, "admin.token_hashes"),
    # A secret file holding a key too short.
    (EXAMPLE.replace('secret_keys_file = "data/secret_keys"',
                     'secret_keys_file = "SECRETFILE"', 1), {}, SHORT_KEY,
     "server.secret_keys_file"),
], ids=["short-env-key", "inline-key", "token-for-hash", "password-for-line", "misspelt-key",
        "wrong-type", "short-key-file"])
def test_check_config_names_the_key_but_not_the_secret(
    tmp_path: Path, toml: str, env: dict[str, str], secret: str, key: str
) -> None:
    secret_file = tmp_path / "secret_keys"
    secret_file.write_text(SHORT_KEY + "\n")
    toml = toml.replace("SECRETFILE", str(secret_file))
    toml = toml.replace('path = "data/gateway.sqlite3"', f'path = "{tmp_path}/db.sqlite3"')
    result = check_config(tmp_path, toml, env)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert key in output, output
    assert secret not in output, output
    assert hashlib.sha256(secret.encode()).hexdigest() not in output
