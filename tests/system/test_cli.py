"""The command line, run as a site owner runs it: a subprocess on a real database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import EXAMPLE_CONFIG, REPO, LiveServer, gateway_env


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **gateway_env(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args, "--config", str(EXAMPLE_CONFIG)],
        env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )


def record_decisions(server: LiveServer, count: int) -> None:
    with httpx.Client(base_url=server.url) as client:
        for i in range(count):
            action = ("accept_all", "reject_all")[i % 2]
            client.cookies.clear()
            response = client.post("/_consent/consent", json={"action": action})
            assert response.status_code == 200


def test_verify_log_passes_then_names_the_altered_seq(tmp_path: Path) -> None:
    server = LiveServer(tmp_path).start()
    try:
        record_decisions(server, 6)
    finally:
        server.stop()
    ok = run_cli(tmp_path, "verify-log")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "6 consent records" in ok.stdout

    conn = sqlite3.connect(tmp_path / "gateway.sqlite3")
    # An attacker with file access can drop the guard; the chain still tells.
    conn.execute("DROP TRIGGER consent_log_only_tombstones")
    conn.execute("UPDATE consent_log SET granted = '[\"necessary\", \"marketing\"]' "
                 "WHERE seq = 4")
    conn.commit()
    conn.close()
    # The first check left a checkpoint at seq 6: a routine check trusts 1-6, a full one
    # re-hashes them.
    assert run_cli(tmp_path, "verify-log").returncode == 0
    broken = run_cli(tmp_path, "verify-log", "--full")
    assert broken.returncode == 1
    assert "seq 4" in broken.stdout


def test_verify_log_notices_a_deleted_record(tmp_path: Path) -> None:
    server = LiveServer(tmp_path).start()
    try:
        record_decisions(server, 4)
    finally:
        server.stop()
    conn = sqlite3.connect(tmp_path / "gateway.sqlite3")
    conn.execute("DROP TRIGGER consent_log_no_delete")
    conn.execute("DELETE FROM consent_log WHERE seq = 2")
    conn.commit()
    conn.close()
    broken = run_cli(tmp_path, "verify-log")
    assert broken.returncode == 1
    assert "seq 2" in broken.stdout


def test_check_config_accepts_the_example(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "check-config")
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_check_config_names_every_problem(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    text = text.replace("port = 8000", "port = 99999").replace("revision = 1", "revision = 0")
    text = text.replace("lifetime_days = 365", "lifetime_days = 400")
    broken.write_text(text, encoding="utf-8")
    env = {**os.environ, **gateway_env(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "check-config", "--config", str(broken)],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    for key in ("server.port", "sites[demo].revision", "consent.lifetime_days"):
        assert key in result.stderr


def test_config_docs_writes_the_reference(tmp_path: Path) -> None:
    out = tmp_path / "configuration.md"
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "config-docs", "--output", str(out)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0
    assert out.read_text() == (REPO / "docs" / "configuration.md").read_text()


def test_serve_refuses_to_start_on_an_invalid_config(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8").replace("revision = 1", "revision = -3")
    broken.write_text(text, encoding="utf-8")
    env = {**os.environ, **gateway_env(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", str(broken), "--port", "1"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "sites[demo].revision" in result.stderr
