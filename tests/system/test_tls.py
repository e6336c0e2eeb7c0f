"""HTTPS served by the gateway itself: a certificate the test makes, HSTS, the `__Host-`
cookie rules, the redirect listener, and a renewed certificate picked up on SIGHUP."""

from __future__ import annotations

import datetime as dt
import ipaddress
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.web.server import redirect_response
from tests.conftest import EXAMPLE_CONFIG, LiveServer, free_port
from tests.support.browser import chromium


def make_certificate(folder: Path, common_name: str) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert_path, key_path


def served_common_name(port: int) -> str:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return str(x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(
        NameOID.COMMON_NAME)[0].value)


class TlsServer(LiveServer):
    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        super().__init__(tmp_path, env=env)
        self.url = f"https://localhost:{self.port}"

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/_consent/health", verify=False,
                             timeout=1).status_code == 200
        except httpx.TransportError:
            return False


@pytest.fixture
def https_gateway(tmp_path: Path) -> Iterator[TlsServer]:
    cert, key = make_certificate(tmp_path, "first")
    redirect_port = free_port()
    server = TlsServer(tmp_path, env={
        "GATEWAY_SERVER_TLS_CERTIFICATE": str(cert), "GATEWAY_SERVER_TLS_KEY": str(key),
        "GATEWAY_SERVER_HTTP_REDIRECT_PORT": str(redirect_port),
    })
    server.redirect_port = redirect_port  # type: ignore[attr-defined]
    server.start()
    yield server
    server.stop()


def test_the_demo_is_served_over_https_with_hsts_and_host_cookies(
    https_gateway: TlsServer,
) -> None:
    with httpx.Client(verify=False, base_url=https_gateway.url) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["strict-transport-security"] == "max-age=31536000"
        decided = client.post("/_consent/consent", json={"action": "reject_all"},
                              headers={"Origin": https_gateway.url})
    cookie = decided.headers["set-cookie"]
    assert cookie.startswith("__Host-consent=")
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie


def test_plain_http_is_redirected_to_https(https_gateway: TlsServer) -> None:
    port = https_gateway.redirect_port  # type: ignore[attr-defined]
    answer = httpx.get(f"http://localhost:{port}/shop?x=1", follow_redirects=False)
    assert answer.status_code == 308
    assert answer.headers["location"] == f"https://localhost:{https_gateway.port}/shop?x=1"


def test_the_redirect_refuses_a_request_without_a_host() -> None:
    answer = redirect_response(b"GET / HTTP/1.0\r\n\r\n", https_port=443)
    assert answer.startswith(b"HTTP/1.1 400") and b'"error"' in answer
    ok = redirect_response(b"GET /a?b=c HTTP/1.1\r\nHost: shop.example:80\r\n\r\n",
                           https_port=443)
    assert b"Location: https://shop.example/a?b=c\r\n" in ok


def test_a_renewed_certificate_is_served_after_sighup(
    https_gateway: TlsServer, tmp_path: Path
) -> None:
    assert served_common_name(https_gateway.port) == "first"
    renewed = tmp_path / "renewed"
    renewed.mkdir()
    cert, key = make_certificate(renewed, "second")
    (tmp_path / "cert.pem").write_bytes(cert.read_bytes())
    (tmp_path / "key.pem").write_bytes(key.read_bytes())
    assert https_gateway.process is not None
    https_gateway.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while served_common_name(https_gateway.port) != "second":
        assert time.monotonic() < deadline, "the old certificate is still served"
        time.sleep(0.1)
    assert https_gateway.process.poll() is None


@pytest.mark.browser
def test_chromium_shows_the_banner_over_https(https_gateway: TlsServer) -> None:
    with chromium() as browser:
        context = browser.new_context(ignore_https_errors=True, locale="nl-NL")
        page = context.new_page()
        page.goto(https_gateway.url + "/")
        page.get_by_role("button", name="Alles weigeren").click()
        page.wait_for_function("() => window.consentGateway && window.consentGateway.get()")
        cookies = {c["name"]: c for c in context.cookies()}
        context.close()
    assert cookies["__Host-consent"]["secure"] is True


def test_config_refuses_a_certificate_without_its_key(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "check-config", "--config", str(EXAMPLE_CONFIG)],
        capture_output=True, text=True, check=False,
        env={**LiveServer(tmp_path).env, "GATEWAY_SERVER_TLS_CERTIFICATE": "/x/cert.pem"},
    )
    assert done.returncode != 0
    assert "tls_certificate and tls_key go together" in done.stderr + done.stdout
