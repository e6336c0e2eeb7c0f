"""Fault injection against a real `consent-gateway serve` process and a real SQLite file:
the server killed or stopped under load, an upstream that is down, slow or resetting, and a
database on a file system that fills up or turns read-only under the running server.

Every load is bounded in requests and in time; the whole module takes well under a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from gateway.adapters.store.sqlite import SQLiteStore
from tests.conftest import EXAMPLE_CONFIG, LiveServer, free_port, gateway_env
from tests.web.test_collect import CHROME_UA, TOKEN_ATTR, beacon

T = TypeVar("T")

# One client sending hundreds of requests a second is what the rate limit exists to refuse.
NO_LIMITS = {"GATEWAY_ABUSE_ENABLED": "false"}
CONSENT = "/_consent/consent"
COLLECT = "/_consent/collect"
READ_TIMEOUT_S = 1.0  # the gateway's upstream read timeout in the upstream tests
CONNECT_TIMEOUT_S = 1.0


def database_of(tmp_path: Path) -> Path:
    return tmp_path / "gateway.sqlite3"


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def verify_log(tmp_path: Path, db: Path) -> subprocess.CompletedProcess[str]:
    """`consent-gateway verify-log`, the command an auditor runs, on the database file."""
    env = {**os.environ, **gateway_env(tmp_path), "GATEWAY_STORAGE_PATH": str(db)}
    return subprocess.run(
        [sys.executable, "-m", "gateway", "verify-log", "--config", str(EXAMPLE_CONFIG)],
        env=env, capture_output=True, text=True, timeout=30, check=False,
    )


def process_of(server: LiveServer) -> subprocess.Popen[bytes]:
    assert server.process is not None
    return server.process


def exit_within(server: LiveServer, seconds: float) -> int:
    return process_of(server).wait(timeout=seconds)


def consent_token(client: httpx.Client) -> str:
    """Accept all, then load a page: the page carries the token beacons must send back."""
    assert client.post(CONSENT, json={"action": "accept_all"}).status_code == 200
    found = TOKEN_ATTR.search(client.get("/").text)
    assert found, "the page carries no page token"
    return found.group(1)


# ------------------------------------------------------------- kill -9 under consent load


@dataclass
class Tally:
    """What the clients saw: confirmed ids (2xx), and requests whose outcome is unknown
    because the connection broke before an answer came."""

    target: int
    reached: asyncio.Event = field(default_factory=asyncio.Event)  # `target` confirmed
    confirmed: list[str] = field(default_factory=list)
    in_doubt: int = 0
    refused: list[int] = field(default_factory=list)


async def consent_load(url: str, *, clients: int, tally: Tally) -> None:
    async def one_client() -> None:
        # No cookie jar: every decision is a new visitor, so every 2xx names a new consent.
        async with httpx.AsyncClient(base_url=url, timeout=5,
                                     headers={"User-Agent": CHROME_UA}) as client:
            for _ in range(2000):  # bounded; the server dies long before
                try:
                    response = await client.post(CONSENT, json={"action": "accept_all"})
                except httpx.TransportError:
                    tally.in_doubt += 1
                    return
                client.cookies.clear()
                if response.is_success:
                    tally.confirmed.append(response.json()["consent_id"])
                    if len(tally.confirmed) >= tally.target:
                        tally.reached.set()
                else:
                    tally.refused.append(response.status_code)

    await asyncio.gather(*(one_client() for _ in range(clients)))


def test_every_confirmed_consent_survives_kill_9(tmp_path: Path) -> None:
    server = LiveServer(tmp_path, env=NO_LIMITS).start()

    async def run() -> Tally:
        tally = Tally(target=200)
        load = asyncio.create_task(consent_load(server.url, clients=8, tally=tally))
        await asyncio.wait_for(tally.reached.wait(), 15)
        process_of(server).send_signal(signal.SIGKILL)  # mid-load: requests are in flight
        await asyncio.wait_for(load, 15)
        return tally

    try:
        tally = asyncio.run(run())
    finally:
        server.stop()
    assert process_of(server).returncode == -signal.SIGKILL
    print(f"\nconsents: {len(tally.confirmed)} confirmed, {tally.in_doubt} cut off by the kill")
    assert not tally.refused
    logged = {str(r[0]) for r in rows(database_of(tmp_path), "SELECT consent_id FROM consent_log")}
    lost = set(tally.confirmed) - logged
    assert not lost, f"{len(lost)} of {len(tally.confirmed)} confirmed consents are not logged"
    # Every logged one was confirmed, or its request was cut off by the kill.
    assert len(logged) - len(tally.confirmed) <= tally.in_doubt
    verdict = verify_log(tmp_path, database_of(tmp_path))
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr
    assert f"OK: {len(logged)} consent records" in verdict.stdout


async def test_the_store_commits_durably_in_wal_mode(tmp_path: Path) -> None:
    """What makes a 2xx durable: WAL, and synchronous=FULL on both connections, so a commit
    is on disk (not only in the OS cache) before the response confirming it goes out."""
    store = SQLiteStore(database_of(tmp_path))
    await store.open()
    try:
        for conn in (store._writer, store._reader):  # per-connection settings
            assert conn is not None
            async with conn.execute("PRAGMA synchronous") as cursor:
                assert await cursor.fetchone() == (2,)  # FULL
    finally:
        await store.close()
    assert rows(database_of(tmp_path), "PRAGMA journal_mode") == [("wal",)]


# ------------------------------------------------------------- SIGTERM under beacon load


@dataclass
class Beacons:
    target: int
    reached: asyncio.Event = field(default_factory=asyncio.Event)  # `target` accepted
    accepted: set[str] = field(default_factory=set)  # paths answered 202, not dropped
    sent: set[str] = field(default_factory=set)
    in_doubt: int = 0
    other: list[int] = field(default_factory=list)


async def beacon_load(url: str, token: str, cookies: httpx.Cookies, *, clients: int,
                      seen: Beacons) -> None:
    async def one_client(n: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=10, cookies=cookies,
                                     headers={"User-Agent": CHROME_UA}) as client:
            for i in range(3000):  # bounded; SIGTERM ends the load long before
                path = f"/p/{n}/{i}"
                body = json.dumps(beacon(token, url=f"{url}{path}"))
                seen.sent.add(path)
                try:
                    response = await client.post(COLLECT, content=body)
                except httpx.TransportError:
                    seen.in_doubt += 1
                    return
                if response.status_code == 202 and "x-consent-dropped" not in response.headers:
                    seen.accepted.add(path)
                    if len(seen.accepted) >= seen.target:
                        seen.reached.set()
                else:
                    seen.other.append(response.status_code)

    await asyncio.gather(*(one_client(n) for n in range(clients)))


def test_every_accepted_event_is_stored_after_sigterm_under_load(tmp_path: Path) -> None:
    # A long flush interval: at the signal most accepted events are still in memory.
    server = LiveServer(tmp_path, env={**NO_LIMITS, "GATEWAY_ANALYTICS_FLUSH_INTERVAL_MS": "5000",
                                       "GATEWAY_ANALYTICS_BATCH_SIZE": "10000"}).start()

    async def run() -> Beacons:
        with httpx.Client(base_url=server.url, headers={"User-Agent": CHROME_UA}) as client:
            token = consent_token(client)
            cookies = client.cookies
        seen = Beacons(target=800)
        load = asyncio.create_task(beacon_load(server.url, token, cookies, clients=8, seen=seen))
        await asyncio.wait_for(seen.reached.wait(), 15)
        process_of(server).send_signal(signal.SIGTERM)
        await asyncio.wait_for(load, 20)
        return seen

    try:
        seen = asyncio.run(run())
        # uvicorn re-raises the signal once shut down, so the exit status names SIGTERM.
        assert exit_within(server, 20) in (0, -signal.SIGTERM)
    finally:
        server.stop()
    assert "Application shutdown complete" in server.log.read_text()
    stored = [str(r[0]) for r in rows(database_of(tmp_path), "SELECT path FROM analytics_events")]
    print(f"\nbeacons: {len(seen.accepted)} accepted, {len(stored)} stored, "
          f"{seen.in_doubt} cut off by the stop")
    assert not seen.other
    assert len(stored) == len(set(stored))  # nothing written twice
    lost = seen.accepted - set(stored)
    assert not lost, f"{len(lost)} of {len(seen.accepted)} accepted events were not stored"
    # Anything stored beyond those was sent by a request that the stop cut off.
    assert set(stored) <= seen.sent
    assert len(stored) - len(seen.accepted) <= seen.in_doubt


# ------------------------------------------------------------- upstream down, slow, resetting


UPSTREAM_PAGE = b"<!doctype html><html><head><title>shop</title></head><body>the shop</body></html>"


class Upstream:
    """The website behind the gateway: a real TCP server on its own event loop in a thread.
    `/slow` answers after 10 s, `/reset` resets the connection (RST), `/hangup` closes it
    without an answer; anything else gets a small page."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    def start(self) -> Upstream:
        self.thread.start()
        self.server = self._call(asyncio.start_server(self._handle, "127.0.0.1", self.port))
        return self

    def _call(self, coroutine: Coroutine[object, object, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1]
            if path == b"/reset":
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return
            if path == b"/hangup":
                return
            if path == b"/slow":
                await asyncio.sleep(10)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                         % (len(UPSTREAM_PAGE), UPSTREAM_PAGE))
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass  # the gateway gave up on us first
        finally:
            self.writers.discard(writer)
            writer.close()

    def shutdown(self) -> None:
        async def close(server: asyncio.Server) -> None:
            server.close()
            for writer in list(self.writers):
                writer.transport.abort()
            await server.wait_closed()

        if self.server is not None:
            self._call(close(self.server))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    site = Upstream().start()
    yield site
    site.shutdown()


def proxy_env() -> dict[str, str]:
    return {**NO_LIMITS, "GATEWAY_SERVER_UPSTREAM_READ_TIMEOUT": str(READ_TIMEOUT_S),
            "GATEWAY_SERVER_UPSTREAM_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT_S)}


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> Iterator[LiveServer]:
    """One gateway in front of `upstream` for the upstream tests (each starts in 1-2 s)."""
    server = LiveServer(tmp_path_factory.mktemp("proxy"), "--upstream", upstream.url,
                        env=proxy_env()).start()
    yield server
    server.stop()


def timed_get(client: httpx.Client, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = client.get(path)
    return response, time.monotonic() - started


def assert_clean_error_page(response: httpx.Response, status: int) -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    for leak in ("Traceback", 'File "', "aiohttp", "Error(", "127.0.0.1"):
        assert leak not in response.text, leak


def assert_consent_endpoints_serve(client: httpx.Client) -> None:
    """The gateway's own endpoints answer at once, whatever the upstream does."""
    for method, path, status in (("POST", CONSENT, 200), ("GET", "/_consent/state", 200),
                                 ("GET", "/_consent/consent.js", 200),
                                 ("GET", "/_consent/preferences", 200)):
        started = time.monotonic()
        body = {"action": "reject_all"} if method == "POST" else None
        response = client.request(method, path, json=body)
        assert (response.status_code, path) == (status, path)
        assert time.monotonic() - started < 0.5, path


def test_a_slow_upstream_gets_504_after_the_read_timeout(proxy: LiveServer) -> None:
    with httpx.Client(base_url=proxy.url, timeout=15, headers={"User-Agent": CHROME_UA}) as client:
        assert client.get("/").text.count("the shop") == 1  # the way through works
        response, elapsed = timed_get(client, "/slow")
    print(f"\nslow upstream: {response.status_code} after {elapsed:.2f} s")
    assert_clean_error_page(response, 504)
    assert READ_TIMEOUT_S - 0.1 <= elapsed < READ_TIMEOUT_S + 2


def test_consent_endpoints_serve_while_the_upstream_hangs(proxy: LiveServer) -> None:
    def slow(results: list[int]) -> None:
        with httpx.Client(base_url=proxy.url, timeout=15) as client:
            results.append(client.get("/slow").status_code)

    results: list[int] = []
    hanging = [threading.Thread(target=slow, args=(results,)) for _ in range(20)]
    for thread in hanging:
        thread.start()
    time.sleep(0.2)  # the twenty are now waiting on the upstream
    with httpx.Client(base_url=proxy.url, timeout=5, headers={"User-Agent": CHROME_UA}) as client:
        assert_consent_endpoints_serve(client)
    assert any(thread.is_alive() for thread in hanging)
    for thread in hanging:
        thread.join(READ_TIMEOUT_S + 5)
    assert results == [504] * 20


@pytest.mark.parametrize("path", ["/reset", "/hangup"])
def test_an_upstream_dropping_the_connection_gets_502(proxy: LiveServer, path: str) -> None:
    with httpx.Client(base_url=proxy.url, timeout=15, headers={"User-Agent": CHROME_UA}) as client:
        response, elapsed = timed_get(client, path)
        print(f"\n{path}: {response.status_code} after {elapsed:.3f} s")
        assert_clean_error_page(response, 502)
        assert elapsed < 2
        assert_consent_endpoints_serve(client)
        assert "the shop" in client.get("/").text  # the next request goes through again


def test_a_stopped_upstream_gets_502_at_once(tmp_path: Path) -> None:
    # Nothing listens on the port: connection refused, as when the website is down.
    server = LiveServer(tmp_path, "--upstream", f"http://127.0.0.1:{free_port()}",
                        env=proxy_env()).start()
    try:
        with httpx.Client(base_url=server.url, timeout=15,
                          headers={"User-Agent": CHROME_UA}) as client:
            for _ in range(3):
                response, elapsed = timed_get(client, "/")
                print(f"\nstopped upstream: {response.status_code} after {elapsed:.3f} s")
                assert_clean_error_page(response, 502)
                assert elapsed < CONNECT_TIMEOUT_S + 2
            assert_consent_endpoints_serve(client)
        assert process_of(server).poll() is None
    finally:
        server.stop()


# ------------------------------------------------------------- a full or read-only disk


def run_command(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


def mount_or_skip(*args: str) -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a file system for the test needs root")
    done = run_command("mount", *args)
    if done.returncode != 0:
        pytest.skip(f"mount {' '.join(args)} is not permitted here: {done.stderr.strip()}")


def unmount(point: Path) -> None:
    if run_command("umount", str(point)).returncode != 0:
        run_command("umount", "-l", str(point))  # busy (a server that would not die): detach


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs of its own: filling it leaves the rest of the machine alone."""
    point = tmp_path / "disk"
    point.mkdir()
    mount_or_skip("-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(point))
    yield point
    unmount(point)


def fill(disk: Path) -> Path:
    """Write a filler file until the file system refuses (bounded by its size)."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as handle:
        for _ in range(1000):  # 64 MiB, far above the disk's size
            try:
                handle.write(chunk)
            except OSError:
                break
    with filler.open("ab", buffering=0) as handle, contextlib.suppress(OSError):
        for _ in range(65536):  # the last few bytes too
            handle.write(b"\0")
    return filler


@dataclass
class Visitor:
    """One browser: its consent cookie and page token, what the gateway confirmed to it."""

    client: httpx.Client
    token: str
    confirmed: list[str] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)
    sent: int = 0

    def decide(self) -> httpx.Response:
        response = self.client.post(CONSENT, json={"action": "accept_all"})
        if response.is_success:
            self.confirmed.append(response.json()["consent_id"])
        return response

    def pageview(self) -> httpx.Response:
        self.sent += 1
        path = f"/seen/{self.sent}"
        url = str(self.client.base_url).rstrip("/") + path
        response = self.client.post(COLLECT, content=json.dumps(beacon(self.token, url=url)))
        if response.status_code == 202 and "x-consent-dropped" not in response.headers:
            self.accepted.add(path)
        return response


def first_refusal(attempt: Callable[[], httpx.Response], *, tries: int) -> httpx.Response | None:
    """Repeat a write until the gateway refuses one; None if it never does."""
    for _ in range(tries):
        response = attempt()
        if response.status_code not in (200, 202):
            return response
        time.sleep(0.02)
    return None


def assert_storage_unavailable(response: httpx.Response | None) -> None:
    assert response is not None, "the gateway never refused a write"
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "storage unavailable"
    assert int(response.headers["retry-after"]) > 0
    assert "Traceback" not in response.text and "sqlite" not in response.text.lower()


def assert_reads_serve(client: httpx.Client) -> None:
    for path in ("/_consent/state", "/_consent/consent.js", "/_consent/preferences", "/"):
        response = client.get(path)
        assert (path, response.status_code) == (path, 200)
    assert "the shop" in client.get("/").text  # the proxied page itself


def storage_server(tmp_path: Path, db: Path, upstream: Upstream) -> LiveServer:
    env = {**NO_LIMITS, "GATEWAY_STORAGE_PATH": str(db),
           "GATEWAY_ANALYTICS_FLUSH_INTERVAL_MS": "100"}
    return LiveServer(tmp_path, "--upstream", upstream.url, env=env).start()


def open_visitor(server: LiveServer) -> Visitor:
    client = httpx.Client(base_url=server.url, timeout=15, headers={"User-Agent": CHROME_UA})
    return Visitor(client, consent_token(client))


def writes_refused_after(server: LiveServer, visitor: Visitor, harm: Callable[[], T]) -> T:
    """Five good decisions and pageviews, then `harm` to the disk: consent and collect must
    turn to 503 while reads keep serving and the process stays up. Returns what `harm` did."""
    for _ in range(5):
        assert visitor.decide().status_code == 200
        assert visitor.pageview().status_code == 202
    done = harm()
    assert_storage_unavailable(first_refusal(visitor.decide, tries=50))
    assert_storage_unavailable(first_refusal(visitor.pageview, tries=300))
    assert_reads_serve(visitor.client)
    assert process_of(server).poll() is None
    return done


def assert_all_kept(tmp_path: Path, db: Path, visitor: Visitor) -> None:
    logged = {str(r[0]) for r in rows(db, "SELECT consent_id FROM consent_log")}
    assert set(visitor.confirmed) <= logged
    stored = {str(r[0]) for r in rows(db, "SELECT path FROM analytics_events")}
    assert visitor.accepted <= stored, f"lost: {sorted(visitor.accepted - stored)[:5]}"
    verdict = verify_log(tmp_path, db)
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr


def test_a_full_disk_refuses_writes_with_503_and_recovers(
    tmp_path: Path, small_disk: Path, upstream: Upstream
) -> None:
    db = small_disk / "gateway.sqlite3"
    server = storage_server(tmp_path, db, upstream)
    try:
        visitor = open_visitor(server)
        filler = writes_refused_after(server, visitor, lambda: fill(small_disk))
        print(f"\nfull disk: {len(visitor.confirmed)} consents confirmed, "
              f"{len(visitor.accepted)} events accepted of {visitor.sent}")

        filler.unlink()  # space again: writes succeed without a restart
        assert first_refusal(visitor.decide, tries=1) is None
        deadline = time.monotonic() + 10
        while visitor.pageview().status_code != 202 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert visitor.pageview().status_code == 202
        visitor.client.close()
    finally:
        server.stop()
    assert_all_kept(tmp_path, db, visitor)


@pytest.fixture
def ext4_disk(tmp_path: Path) -> Iterator[Path]:
    """An ext4 file system on a loop device, mounted `errors=remount-ro`: what a server's
    data disk looks like, and how the kernel turns it read-only when the disk fails."""
    if shutil.which("mkfs.ext4") is None or shutil.which("e2fsck") is None:
        pytest.skip("mkfs.ext4 and e2fsck are needed for the read-only file system")
    image, point = tmp_path / "disk.img", tmp_path / "disk"
    point.mkdir()
    with image.open("wb") as handle:
        handle.truncate(16 * 1024 * 1024)
    assert run_command("mkfs.ext4", "-q", "-F", str(image)).returncode == 0
    mount_or_skip("-o", "loop,errors=remount-ro", str(image), str(point))
    yield point
    unmount(point)


def device_of(point: Path) -> str:
    return Path(run_command("findmnt", "-n", "-o", "SOURCE", str(point)).stdout.strip()).name


def fail_the_disk(point: Path) -> None:
    """Make the kernel see a file-system error: with `errors=remount-ro` it switches the
    mounted file system to read-only at once, under every open file."""
    trigger = Path("/sys/fs/ext4") / device_of(point) / "trigger_fs_error"
    if not trigger.exists():
        pytest.skip(f"{trigger} is not available on this kernel")
    trigger.write_text("fault injected by test_faults\n")
    options = run_command("findmnt", "-n", "-o", "OPTIONS", str(point)).stdout.strip()
    assert options.startswith("ro,") or "emergency_ro" in options, options


def repair(image: Path, point: Path) -> None:
    """What the operator does: unmount, check the file system, mount it again."""
    unmount(point)
    assert run_command("e2fsck", "-f", "-y", str(image)).returncode in (0, 1)  # 1: fixed
    assert run_command("mount", "-o", "loop,errors=remount-ro", str(image),
                       str(point)).returncode == 0


def test_a_read_only_disk_refuses_writes_with_503_and_keeps_what_was_confirmed(
    tmp_path: Path, ext4_disk: Path, upstream: Upstream
) -> None:
    db = ext4_disk / "gateway.sqlite3"
    server = storage_server(tmp_path, db, upstream)
    try:
        visitor = open_visitor(server)
        writes_refused_after(server, visitor, lambda: fail_the_disk(ext4_disk))
        visitor.client.close()
        # The kernel keeps the file system read-only until it is unmounted, so recovery
        # is a restart: stop (the writers try the disk a few more times), repair, start.
        started = time.monotonic()
        process_of(server).send_signal(signal.SIGTERM)
        exit_within(server, 15)
        stopping = time.monotonic() - started
    finally:
        server.stop()
    print(f"\nread-only disk: {len(visitor.confirmed)} consents confirmed, "
          f"{len(visitor.accepted)} events accepted of {visitor.sent}, stopped in {stopping:.1f} s")
    assert stopping < 6
    repair(tmp_path / "disk.img", ext4_disk)

    restarted = storage_server(tmp_path, db, upstream)
    try:
        again = open_visitor(restarted)
        assert again.decide().status_code == 200 and again.pageview().status_code == 202
        again.client.close()
    finally:
        restarted.stop()
    logged = {str(r[0]) for r in rows(db, "SELECT consent_id FROM consent_log")}
    assert {*visitor.confirmed, *again.confirmed} <= logged
    verdict = verify_log(tmp_path, db)
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr
    # Events accepted just before the disk failed could not be written by anyone; they are
    # not lost silently: the shutdown names how many. (It may name more: a commit whose
    # fsync failed is reported failed, yet can be found in the WAL after the repair.)
    stored = {str(r[0]) for r in rows(db, "SELECT path FROM analytics_events")}
    unwritten = visitor.accepted - stored
    reported = re.search(r"analytics: (\d+) rows could not be written at shutdown",
                         server.log.read_text())
    if unwritten:
        assert reported is not None, "accepted events were lost without a word"
        assert len(unwritten) <= int(reported.group(1)) <= len(visitor.accepted)
